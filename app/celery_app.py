"""The Celery worker's entry point: ``celery -A app.celery_app worker --loglevel INFO``.

Importing this module creates the Flask app from the environment (``DATABASE_URL``,
``CELERY_BROKER_URL``...), so only the worker imports it; the web app builds its Celery
client lazily in :mod:`app.jobs`.
"""

from __future__ import annotations

from app import create_app
from app.jobs.tasks import celery_init_app

flask_app = create_app()
if not flask_app.config.get("CELERY_BROKER_URL"):
    raise RuntimeError("set CELERY_BROKER_URL (e.g. redis://127.0.0.1:6379/0) to run a worker")
celery_app = celery_init_app(flask_app)
celery = celery_app  # the name ``celery -A`` looks for first
