"""Celery wiring, following Flask's own ``examples/celery`` factory pattern.

``celery_init_app(app)`` builds a Celery app whose tasks run inside the Flask app context, so a
task uses the app's configuration and gets its own scoped database session. The worker's entry
point is :mod:`app.celery_app` (``celery -A app.celery_app worker --loglevel INFO``).

Automatic syncs with a broker: ``celery -A app.celery_app beat`` sends
:func:`enqueue_due_syncs_task` every ``SCHEDULER_TICK_S`` seconds; a worker runs the tick
(:mod:`app.jobs.enqueue`) and queues each due account's incremental sync for the workers.
Run exactly one beat process per deployment.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from celery import Celery, Task, shared_task
from celery.signals import worker_process_init, worker_ready
from flask import Flask, current_app

from app.jobs.enqueue import enqueue_due
from app.jobs.recovery import recover_on_start
from app.jobs.runs import run_sync
from app.settings import parse_bool

logger = logging.getLogger(__name__)

ENQUEUE_DUE_TASK = "gradesync.enqueue_due_syncs"
# A sync past its soft limit gets SoftTimeLimitExceeded (recorded as a failed run, its courses
# fully old or fully new); the hard limit then kills the worker child, whatever it is doing.
# With every Canvas request under its deadline, only a hostile Canvas comes near them.
HARD_AFTER_SOFT_S = 60.0
TICK_SOFT_LIMIT_S = 60.0
TICK_HARD_LIMIT_S = 90.0


def celery_init_app(app: Flask) -> Celery:
    """Create the Celery app for ``app`` and store it in ``app.extensions["celery"]``."""

    class FlaskTask(Task):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery = Celery(app.name, task_cls=FlaskTask)
    soft_limit = float(app.config["SYNC_SOFT_LIMIT_S"])
    celery.config_from_object(
        {
            "broker_url": app.config["CELERY_BROKER_URL"],
            "result_backend": app.config.get("CELERY_RESULT_BACKEND"),
            "task_ignore_result": True,
            # A sync is long and idempotent: acknowledge after it ran, so a lost worker's
            # message is delivered again instead of silently dropped.
            "task_acks_late": True,
            "worker_prefetch_multiplier": 1,
            # Every task ends: a tenant's slow Canvas cannot hold a worker for ever.
            "task_soft_time_limit": soft_limit,
            "task_time_limit": soft_limit + HARD_AFTER_SOFT_S,
            "broker_connection_retry_on_startup": True,
            # A message whose worker died unacknowledged goes back to the queue after this
            # long (Redis); the run it carries is then resumed (run_sync_task).
            "broker_transport_options": {
                "visibility_timeout": float(app.config["CELERY_VISIBILITY_TIMEOUT_S"]
                                            or 3600.0),
            },
            # One queue name per deployment (or test session) sharing a Redis server.
            "task_default_queue": app.config["CELERY_QUEUE"] or "gradesync",
            "beat_schedule": {
                "gradesync-enqueue-due-syncs": {
                    "task": ENQUEUE_DUE_TASK,
                    "schedule": float(app.config["SCHEDULER_TICK_S"]),
                    # A tick nobody ran in time is superseded by the next one.
                    "options": {"expires": float(app.config["SCHEDULER_TICK_S"])},
                },
            },
        }
    )
    celery.set_default()
    app.extensions["celery"] = celery
    _connect_worker_signals(app)
    return celery


def _connect_worker_signals(app: Flask) -> None:
    def reset_pool(**_kwargs: Any) -> None:
        # A forked child must not reuse the parent's database connections.
        from app.extensions import db

        with app.app_context():
            db.engine.dispose(close=False)

    def interrupt_leftovers(**_kwargs: Any) -> None:
        # The worker's start-up step: clear runs left behind by a dead worker, one whose
        # process is gone from this machine or silent for SYNC_STALE_AFTER_S (see
        # app.jobs.recovery); live runs on other machines are left alone.
        setting = app.config["SYNC_INTERRUPT_ON_WORKER_START"]
        if not parse_bool(setting, "SYNC_INTERRUPT_ON_WORKER_START"):
            return
        recover_on_start(app)

    worker_process_init.connect(reset_pool, weak=False)
    worker_ready.connect(interrupt_leftovers, weak=False)


@shared_task(name="gradesync.run_sync", ignore_result=True)
def run_sync_task(user_id: int, sync_run_id: int, incremental: bool) -> str:
    """Run one sync in a worker; ids only, never model objects."""
    # A message delivered again after its worker died finds its run interrupted: the claim
    # resumes it (no statement of its own on every other run).
    return run_sync(user_id, sync_run_id, incremental, resume=True).status


def _submit_to_workers(user_id: int, sync_run_id: int, incremental: bool) -> None:
    run_sync_task.apply_async(args=(user_id, sync_run_id, incremental))


@shared_task(name=ENQUEUE_DUE_TASK, ignore_result=True, soft_time_limit=TICK_SOFT_LIMIT_S,
             time_limit=TICK_HARD_LIMIT_S)
def enqueue_due_syncs_task() -> int:
    """Celery beat's tick: queue an incremental sync for every account due now."""
    tick = timedelta(seconds=float(current_app.config["SCHEDULER_TICK_S"]))
    return len(enqueue_due(_submit_to_workers, tick=tick))
