"""Sync runs in the background: their lifecycle, the runners and the Celery tasks."""

from app.jobs.runs import *  # noqa: F403  (temporary during the move)
from app.jobs.runs import (  # noqa: F401
    FINISH_RETRY_SECONDS,
    PROCESS_STARTED_AT,
    RUNNER_KEY,
    WORKER_ID,
    _record_finish,
)
