"""The WSGI entry point for production servers: ``gunicorn 'app.wsgi:application'``.

It builds the app from the environment and runs the web app's start-up step (marking runs a
dead predecessor left "running" as interrupted) once per server process.
"""

from app import create_app
from app.jobs.recovery import recover_on_start

application = create_app()
recover_on_start(application)
