"""Retention: grade changes and sync history older than the configured days are pruned.

``GRADE_EVENTS_KEPT_DAYS`` and ``RUN_HISTORY_KEPT_DAYS`` (0, the default: kept forever). A run
still queued or running is never pruned; neither is anything else (courses, assignments and
grades are the student's current data and stay until they delete their account).

The scheduler's tick calls :func:`prune_if_due` (at most once an hour per process);
``flask retention prune`` runs it at once.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

from flask import Flask
from sqlalchemy import delete

from app.extensions import db
from app.models import GradeEvent, SyncRun, utcnow
from app.models.sync_run import ACTIVE_STATUSES

logger = logging.getLogger(__name__)

PRUNE_EVERY_S = 3600.0
_last_prune: list[float] = []
_lock = threading.Lock()


@dataclass(frozen=True)
class Pruned:
    grade_events: int
    runs: int


def prune(app: Flask) -> Pruned:
    """Delete grade events and finished runs older than their retention; commits."""
    now = utcnow()
    events = runs = 0
    event_days = int(app.config.get("GRADE_EVENTS_KEPT_DAYS") or 0)
    run_days = int(app.config.get("RUN_HISTORY_KEPT_DAYS") or 0)
    if event_days:
        result = db.session.execute(
            delete(GradeEvent).where(GradeEvent.at < now - timedelta(days=event_days)))
        events = int(getattr(result, "rowcount", 0) or 0)
    if run_days:
        result = db.session.execute(delete(SyncRun).where(
            SyncRun.created_at < now - timedelta(days=run_days),
            SyncRun.status.not_in(ACTIVE_STATUSES)))
        runs = int(getattr(result, "rowcount", 0) or 0)
    db.session.commit()
    if events or runs:
        logger.info("retention: pruned %d grade event(s) and %d run(s)", events, runs)
    return Pruned(events, runs)


def prune_if_due(app: Flask) -> Pruned | None:
    """:func:`prune`, when this process has not pruned in the last hour; never raises."""
    if not (app.config.get("GRADE_EVENTS_KEPT_DAYS") or app.config.get("RUN_HISTORY_KEPT_DAYS")):
        return None
    with _lock:
        if _last_prune and time.monotonic() - _last_prune[0] < PRUNE_EVERY_S:
            return None
        _last_prune[:] = [time.monotonic()]
    try:
        return prune(app)
    except Exception as exc:  # noqa: BLE001 - pruning never stops the scheduling of syncs
        db.session.rollback()
        logger.warning("retention: pruning failed (%s)", type(exc).__name__)
        return None
