"""Start-up recovery: runs left ``queued``/``running`` by a process that died.

:func:`recover_on_start` is an explicit start-up step, called once by each kind of process:
the web app (``run.py`` and ``app.wsgi`` for gunicorn), the Celery worker (on
``worker_ready``) and the CLI commands that run syncs. Nothing calls it as a side effect.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Sequence
from datetime import datetime, timedelta

from flask import Flask, current_app
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from app import metrics
from app.extensions import db
from app.jobs.runs import mark_interrupted
from app.models import SyncRun, utcnow
from app.models.sync_run import ACTIVE_STATUSES

logger = logging.getLogger(__name__)

# Runs created before this process existed cannot belong to its thread pool.
PROCESS_STARTED_AT = utcnow()
# A running sync updates its row at every course; SYNC_STALE_AFTER_S without a sign of life,
# its process (on another machine, where we cannot look) is taken to be gone.


def recover_on_start(app: Flask) -> int:
    """The start-up step: mark abandoned runs interrupted; never fails the start."""
    with app.app_context():
        try:
            return recover_abandoned_runs()
        except SQLAlchemyError as exc:
            logger.warning("start-up recovery skipped: the database is unavailable (%s)", exc)
            db.session.rollback()
            return 0


def mark_interrupted_runs(
    before: datetime | None = None, statuses: Sequence[str] = ACTIVE_STATUSES
) -> int:
    """Mark runs left queued/running by a dead process as ``interrupted``; returns how many.

    Args:
        before: only runs created before this moment (default: every active run).
        statuses: which states count as left over.
    """
    query = select(SyncRun.id).where(SyncRun.status.in_(tuple(statuses)))
    if before is not None:
        query = query.where(SyncRun.created_at < before)
    count = mark_interrupted(db.session.scalars(query).all(), statuses=statuses)
    if count:
        logger.warning("marked %d sync run(s) interrupted", count)
        metrics.runs_interrupted(count)
    return count


def _holder_is_gone(worker: str | None, created_at: datetime) -> bool:
    """True when ``worker`` ("host:pid") names a process on this machine that no longer runs."""
    if not worker or ":" not in worker:
        return False
    host, _, pid_text = worker.rpartition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        # Our own pid: ours if created since we started, else a dead predecessor's (a
        # restarted container reuses pids).
        return created_at < PROCESS_STARTED_AT
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def recover_abandoned_runs(stale_after_s: float | None = None) -> int:
    """Mark ``interrupted`` the active runs whose process is gone; returns how many.

    Safe with other live processes (gunicorn workers, Celery workers on other machines): a run
    is abandoned only when its holder is a dead process on this machine, or it has shown no
    sign of life for ``stale_after_s`` seconds. Queued runs that no process holds wait in the
    Celery broker and are left alone.
    """
    if stale_after_s is None:
        stale_after_s = float(current_app.config["SYNC_STALE_AFTER_S"])
    cutoff = utcnow() - timedelta(seconds=stale_after_s)
    rows = db.session.execute(
        select(SyncRun.id, SyncRun.status, SyncRun.worker, SyncRun.heartbeat_at,
               SyncRun.created_at).where(SyncRun.status.in_(ACTIVE_STATUSES))
    ).all()
    here = socket.gethostname()
    abandoned = [
        row.id
        for row in rows
        if _holder_is_gone(row.worker, row.created_at)
        or (
            # On another machine we cannot look at the process: go by its heartbeat.
            row.worker is not None
            and row.worker.rpartition(":")[0] != here
            and (row.heartbeat_at or row.created_at) < cutoff
        )
    ]
    db.session.commit()
    count = mark_interrupted(abandoned)
    if count:
        logger.warning("marked %d abandoned sync run(s) interrupted", count)
        metrics.runs_interrupted(count)
    return count
