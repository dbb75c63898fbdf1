"""Sync runs in the background, never inside a web request.

- :mod:`app.jobs.runs`: a run's lifecycle, the only writer of ``sync_run`` rows
- :mod:`app.jobs.runners`: the in-process thread pool or Celery, and :func:`start_sync`
- :mod:`app.jobs.tasks`: the Celery app factory and task (imported only with a broker)
- :mod:`app.jobs.recovery`: the explicit start-up step that clears abandoned runs
- :mod:`app.jobs.schedule`: who is due for an automatic sync (pure); :mod:`app.jobs.enqueue`:
  one tick that queues them; :mod:`app.jobs.scheduler`: the in-process ticking thread

Arrows point one way: ``tasks`` → ``runs``/``recovery``, ``runners`` → ``runs`` (and to
``tasks`` lazily, only when Celery is configured), ``recovery`` → ``runs``, ``enqueue`` →
``schedule``/``runs``, ``scheduler`` → ``enqueue``/``runners``, ``tasks`` → ``enqueue``.
"""

from app.jobs.recovery import (
    PROCESS_STARTED_AT,
    mark_interrupted_runs,
    recover_abandoned_runs,
    recover_on_start,
)
from app.jobs.runners import (
    RUNNER_KEY,
    CeleryRunner,
    ThreadRunner,
    enqueue_all,
    get_runner,
    start_sync,
)
from app.jobs.runs import (
    INTERRUPTED_MESSAGE,
    WORKER_ID,
    SyncAlreadyRunning,
    active_run,
    create_sync_run,
    mark_interrupted,
    run_sync,
)
from app.jobs.scheduler import start_scheduler

__all__ = [
    "INTERRUPTED_MESSAGE",
    "PROCESS_STARTED_AT",
    "RUNNER_KEY",
    "WORKER_ID",
    "CeleryRunner",
    "SyncAlreadyRunning",
    "ThreadRunner",
    "active_run",
    "create_sync_run",
    "enqueue_all",
    "get_runner",
    "mark_interrupted",
    "mark_interrupted_runs",
    "recover_abandoned_runs",
    "recover_on_start",
    "run_sync",
    "start_scheduler",
    "start_sync",
]
