"""The WSGI entry point for production servers: ``gunicorn 'app.wsgi:application'``.

It builds the app from the environment and runs the web app's start-up step once per server
process: marking runs a dead predecessor left "running" as interrupted, then (without a
broker) starting the in-process scheduler of automatic syncs. Do not use gunicorn's
``--preload``: the scheduler thread would start in the master and not survive the fork.
"""

from app import create_app
from app.jobs.recovery import recover_on_start
from app.jobs.scheduler import start_scheduler
from app.logs import configure_logging

application = create_app()
configure_logging(application.config.get("LOG_FORMAT") or "text")
recover_on_start(application)
start_scheduler(application)
