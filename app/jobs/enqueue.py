"""One scheduler tick: read who is due (:mod:`app.jobs.schedule`) and queue their syncs.

Shared by the in-process scheduler (:mod:`app.jobs.scheduler`, with the thread pool's
``submit``) and Celery beat's periodic task (:mod:`app.jobs.tasks`, with the task's own
``apply_async``), so both decide and record scheduled runs the same way. Scheduled runs are
incremental; the full sync stays the Sync button's. An account's first run of each UTC day is
the daily sweep: the engine reads every course list and every concluded course then
(:func:`app.sync.lists.sweep_due`), so a change no total shows is seen within the day. A tick
also sends the alerts that were held for quiet hours or the daily digest once their time has
come, through the alert queue (:mod:`app.alerts.outbox`), never inline.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from itertools import groupby

from flask import current_app
from sqlalchemy import func, select

from app import alerts
from app.extensions import db
from app.jobs import heartbeat, retention
from app.jobs.runs import COURSE_KIND, SyncAlreadyRunning, create_sync_run, fail_to_start
from app.jobs.schedule import Account, ConnectionState, LastRun, due_accounts
from app.logs import current_request_id, new_request_id, request_id_context
from app.models import CanvasConnection, SyncRun, User, utcnow

logger = logging.getLogger(__name__)

# (user_id, sync_run_id, incremental): what a runner's ``submit`` takes.
Submit = Callable[[int, int, bool], None]


def load_accounts() -> list[Account]:
    """Every connected account with scheduling on, its newest run and the sync state of each
    usable connection (one query: a row per connection)."""
    newest = (
        select(SyncRun.user_id, func.max(SyncRun.id).label("run_id"))
        .where(SyncRun.kind != COURSE_KIND)  # one course synced: the others still wait
        .group_by(SyncRun.user_id)
        .subquery()
    )
    rows = db.session.execute(
        select(
            User.id,
            User.sync_interval_minutes,
            CanvasConnection.token_changed_at,
            CanvasConnection.rejected_at,
            SyncRun.status,
            SyncRun.created_at,
            SyncRun.finished_at,
        )
        .join(CanvasConnection, CanvasConnection.user_id == User.id)
        .outerjoin(newest, newest.c.user_id == User.id)
        .outerjoin(SyncRun, SyncRun.id == newest.c.run_id)
        .where(CanvasConnection.usable, User.sync_interval_minutes > 0)
        .order_by(User.id, CanvasConnection.id)
    ).all()
    db.session.commit()  # end the read transaction: a tick must not hold a snapshot open
    accounts = []
    for user_id, group in groupby(rows, key=lambda row: row.id):
        own = list(group)
        first = own[0]
        last_run = None
        if first.status is not None:
            last_run = LastRun(
                status=first.status, created_at=first.created_at, finished_at=first.finished_at
            )
        accounts.append(
            Account(
                user_id=user_id,
                interval_minutes=first.sync_interval_minutes,
                last_run=last_run,
                connections=tuple(
                    ConnectionState(token_changed_at=row.token_changed_at,
                                    rejected_at=row.rejected_at)
                    for row in own
                ),
            )
        )
    return accounts


def enqueue_due(
    submit: Submit, now: datetime | None = None, tick: timedelta | None = None
) -> list[SyncRun]:
    """Queue an incremental sync for the accounts due at ``now``; returns the new runs.

    ``tick`` (the time to the next tick) bounds how many start at once (see
    :func:`app.jobs.schedule.tick_budget`); None starts every due account.

    An account whose sync started meanwhile (a click, another scheduler process) keeps that
    run: the one-active-run index refuses ours and the account is skipped. The tick logs (and
    its runs carry) a request id of its own, ``tick-…``.
    """
    with request_id_context(current_request_id() or "tick-" + new_request_id()[:16]):
        return _enqueue_due(submit, now, tick)


def _enqueue_due(submit: Submit, now: datetime | None, tick: timedelta | None) -> list[SyncRun]:
    now = now or utcnow()
    started: list[SyncRun] = []
    for user_id in due_accounts(load_accounts(), now, tick):
        try:
            run = create_sync_run(user_id, incremental=True, scheduled=True)
        except SyncAlreadyRunning:
            continue
        try:
            submit(user_id, run.id, True)
        except Exception as exc:  # broker down: the run must not stay "queued" forever
            logger.exception("could not submit scheduled sync run %s", run.id)
            fail_to_start(run, str(exc))
            continue
        started.append(run)
    if started:
        logger.info("scheduled %d sync(s)", len(started))
    _send_held_alerts(now)
    heartbeat.beat(heartbeat.SCHEDULER)
    retention.prune_if_due(current_app._get_current_object())  # type: ignore[attr-defined]
    return started


def _send_held_alerts(now: datetime) -> None:
    """Alerts held for quiet hours or the daily digest go out after the first tick after, on
    the alert queue's threads: a slow webhook never delays the tick's syncs."""
    try:
        alerts.queue_due_digests(now)
    except Exception as exc:  # alerts never stop the scheduling of syncs
        logger.warning("held alerts not sent this tick: %s: %s", type(exc).__name__,
                       (str(exc).splitlines() or [""])[0])
        db.session.rollback()
