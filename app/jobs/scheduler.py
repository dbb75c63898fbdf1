"""The in-process scheduler: a daemon thread that runs a tick every ``SCHEDULER_TICK_S``.

Started by the web app's start-up step (``run.py``, ``app.wsgi``) when no broker is
configured; with a broker, Celery beat queues the same tick instead (``app.jobs.tasks``).
``flask scheduler run`` runs it in the foreground. ``create_app`` never starts it.

Several processes may run it at once (gunicorn workers): the one-active-run index lets only
one of them start a given account's sync, and the newest run then makes the account not due.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db
from app.jobs.enqueue import enqueue_due
from app.jobs.runners import get_runner

logger = logging.getLogger(__name__)

SCHEDULER_KEY = "gradesync_scheduler"


def tick(app: Flask) -> list[int]:
    """One tick: queue the due accounts' syncs on the app's runner; the new runs' ids.

    A database outage skips the tick (logged) instead of raising.
    """
    with app.app_context():
        try:
            tick_length = timedelta(seconds=tick_seconds(app))
            return [run.id for run in enqueue_due(get_runner(app).submit, tick=tick_length)]
        except SQLAlchemyError as exc:
            logger.warning("scheduler tick skipped: the database is unavailable (%s)", exc)
            db.session.rollback()
            return []


class SchedulerThread(threading.Thread):
    """Ticks until :meth:`stop`; a daemon, so it never holds the process open."""

    def __init__(self, app: Flask, tick_s: float) -> None:
        super().__init__(name="gradesync-scheduler", daemon=True)
        self.app = app
        self.tick_s = tick_s
        self._stopped = threading.Event()

    def run(self) -> None:
        while not self._stopped.is_set():
            try:
                tick(self.app)
            except Exception:  # a bad tick must not end scheduling for the process's life
                logger.exception("scheduler tick failed")
            self._stopped.wait(self.tick_s)

    def stop(self) -> None:
        self._stopped.set()


def tick_seconds(app: Flask) -> float:
    return float(app.config["SCHEDULER_TICK_S"])


def start_scheduler(app: Flask) -> SchedulerThread | None:
    """The start-up step's scheduler: a thread, unless a broker (Celery beat) or config says no."""
    if app.config.get("CELERY_BROKER_URL") or not app.config["SCHEDULER_ENABLED"]:
        return None
    existing: SchedulerThread | None = app.extensions.get(SCHEDULER_KEY)
    if existing is not None and existing.is_alive():
        return existing
    thread = SchedulerThread(app, tick_seconds(app))
    app.extensions[SCHEDULER_KEY] = thread
    thread.start()
    logger.info("in-process scheduler started (every %.0f s)", thread.tick_s)
    return thread
