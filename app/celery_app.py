"""The Celery worker's entry point: ``celery -A app.celery_app worker --loglevel INFO``.

Importing this module creates the Flask app from the environment (``DATABASE_URL``,
``CELERY_BROKER_URL``...), so only the worker imports it; the web app builds its Celery
client lazily in :mod:`app.jobs`.
"""

from __future__ import annotations

from celery.signals import setup_logging

from app import create_app
from app.jobs.tasks import celery_init_app
from app.logs import configure_logging

flask_app = create_app()
if not flask_app.config.get("CELERY_BROKER_URL"):
    raise RuntimeError("set CELERY_BROKER_URL (e.g. redis://127.0.0.1:6379/0) to run a worker")
celery_app = celery_init_app(flask_app)


@setup_logging.connect
def _our_logging(**_kwargs: object) -> None:
    """The worker logs like the web (request ids, LOG_FORMAT) instead of Celery's own set-up."""
    configure_logging(flask_app.config.get("LOG_FORMAT") or "text")


celery = celery_app  # the name ``celery -A`` looks for first
