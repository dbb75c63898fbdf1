"""A sync run's lifecycle: the only code that writes ``sync_run`` rows.

``queued`` (:func:`create_sync_run`) → ``running`` (claimed by :func:`run_sync`) →
``succeeded`` / ``failed``, or ``interrupted`` (:func:`mark_interrupted`, and start-up
recovery in :mod:`app.jobs.recovery`). While it runs, the engine's progress goes to the row
through :class:`RunProgressWriter`, on a connection of its own. A run the scheduler queued
(``summary["trigger"] == "schedule"``) usually has nobody watching: its row takes at most one
progress write per ``SCHEDULED_PROGRESS_SECONDS`` instead of one per course step, and its
history is pruned (:func:`prune_scheduled_runs`): a week of hourly runs per student is kept.
A one-course run ("Sync this course") has ``kind == "course"`` and the course's local id in
``summary["course_id"]`` from its creation to its end; it syncs that course only.

Jobs receive ids, never model objects. The database enforces "one active sync per user" with
the partial unique index ``uq_sync_run_one_active_per_user``; :func:`create_sync_run` turns the
violation into :class:`SyncAlreadyRunning`.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Iterable
from typing import Any, cast

from flask import current_app
from sqlalchemy import case, delete, func, select, update
from sqlalchemy.engine import Connection, CursorResult, Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import lazyload

from app import alerts, connections, metrics
from app.extensions import db
from app.logs import current_request_id, request_id_context
from app.models import SyncRun, User, utcnow
from app.models.sync_run import ACTIVE_STATUSES, SCHEDULED_TRIGGER
from app.sync.progress import stored_step
from app.sync.result import ErrorKind, ProgressCallback, SyncProgress, SyncResult

logger = logging.getLogger(__name__)

INTERRUPTED_MESSAGE = (
    "The server stopped before this sync finished. Nothing is lost: start the sync again."
)
UNEXPECTED_MESSAGE = (
    "The sync stopped because of an unexpected error on our side ({kind}). "
    "Your previous data is unchanged; try again, and tell the administrator if it keeps failing."
)
DATABASE_DOWN_MESSAGE = "The sync could not start: the database is unavailable. Try again soon."
FINISH_ATTEMPTS = 4
FINISH_RETRY_SECONDS = 0.25
MAX_MESSAGE = 500
MAX_STEPS = 40  # the newest course steps a run keeps on its row (see RunProgressWriter)
SCHEDULED = SCHEDULED_TRIGGER  # summary["trigger"] of a run the scheduler queued
SCHEDULED_PROGRESS_SECONDS = 1.0
# A run somebody may be watching: the page polls every 200 ms at its fastest, so a course
# step is stored at most this often (a phase change at once, and the last step before the
# sync waits for Canvas: RunProgressWriter.flush). Each stored step was a round trip in the
# writer thread's critical path: 0.2 s of a 130-course sync.
INTERACTIVE_PROGRESS_SECONDS = 0.1
COURSE_KIND = "course"  # the kind of a one-course run ("Sync this course")
PRUNE_EVERY = 24  # prune after one scheduled run in this many (by run id): ~once a day each

# The process that holds a run: a starting process checks whether that one is still alive.
WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"


class SyncAlreadyRunning(Exception):
    """The user already has a queued or running sync; ``run`` is that sync."""

    def __init__(self, run: SyncRun) -> None:
        super().__init__(f"sync run {run.id} is already {run.status} for user {run.user_id}")
        self.run = run


def active_run(user_id: int) -> SyncRun | None:
    """The user's queued or running sync, if any."""
    return db.session.scalar(
        select(SyncRun).where(SyncRun.user_id == user_id, SyncRun.status.in_(ACTIVE_STATUSES))
    )


def create_sync_run(user_id: int, incremental: bool, *, scheduled: bool = False,
                    course_id: int | None = None) -> SyncRun:
    """Insert a ``queued`` run for the user and commit it (``scheduled``: the scheduler's;
    ``course_id``: a one-course run of that course, local id).

    Raises:
        SyncAlreadyRunning: the user has a queued/running run (the unique index refused ours).
    """
    for _attempt in range(2):
        run = SyncRun(
            user_id=user_id, kind=_kind(incremental, course_id), status="queued",
            summary=_fixed_summary(SCHEDULED if scheduled else None, course_id) or None,
            request_id=current_request_id(),
        )
        db.session.add(run)
        try:
            db.session.commit()
            break
        except IntegrityError:
            db.session.rollback()
            existing = active_run(user_id)
            if existing is not None:
                raise SyncAlreadyRunning(existing) from None
            # The other run finished between our insert and this read: try once more.
    else:
        raise RuntimeError(f"could not create a sync run for user {user_id}")
    logger.info("sync run %s queued for user %s (%s)", run.id, user_id, run.kind)
    return run


def _kind(incremental: bool, course_id: int | None) -> str:
    if course_id is not None:
        return COURSE_KIND
    return "incremental" if incremental else "full"


def _fixed_summary(trigger: str | None, course_id: int | None) -> dict[str, Any]:
    """The keys a run's summary keeps from its creation to its end."""
    fixed: dict[str, Any] = {"trigger": trigger} if trigger else {}
    if course_id is not None:
        fixed["course_id"] = course_id
    return fixed


def hold_run(sync_run_id: int) -> None:
    """Record that this process holds a queued run (its thread pool will run it)."""
    db.session.execute(
        update(SyncRun)
        .where(SyncRun.id == sync_run_id, SyncRun.status == "queued")
        .values(worker=WORKER_ID, heartbeat_at=utcnow())
    )
    db.session.commit()


def fail_to_start(run: SyncRun, reason: str) -> None:
    """A run that could not be handed to a runner must not stay ``queued`` forever."""
    run.status = "failed"
    run.finished_at = utcnow()
    run.error = f"The sync could not be started: the job queue is unavailable ({reason})."
    db.session.commit()


def run_sync(
    user_id: int,
    sync_run_id: int,
    incremental: bool,
    progress: ProgressCallback | None = None,
    *,
    resume: bool = False,
) -> SyncResult:
    """Run one sync now, in this thread, and record how it ended on its ``sync_run`` row.

    The run goes ``running`` -> ``succeeded`` or ``failed``; an unexpected exception is logged
    with its traceback and recorded as ``failed`` with a message a person can act on. It logs
    under the request id stored on the row (that of the click or tick that queued it).
    ``resume`` (a Celery message, delivered again after its worker died): an ``interrupted``
    run is claimed too, by the claim itself (no statement of its own), unless the user
    started another sync meanwhile (the one-active-run index refuses it).
    """
    started = time.monotonic()
    result = _run_sync(user_id, sync_run_id, incremental, progress, resume)
    kind = COURSE_KIND if result.kind == COURSE_KIND else _kind(incremental, None)
    metrics.sync_finished(kind, str(result.status), time.monotonic() - started)
    return result


def _run_sync(
    user_id: int,
    sync_run_id: int,
    incremental: bool,
    progress: ProgressCallback | None = None,
    resume: bool = False,
) -> SyncResult:
    # Claim the run atomically: of two deliveries of the same message, only one runs it. The
    # claim also reads the request id the run logs under (no statement of its own).
    claimable = ("queued", "interrupted") if resume else ("queued",)
    try:
        claimed = db.session.execute(
            update(SyncRun)
            .where(SyncRun.id == sync_run_id, SyncRun.user_id == user_id,
                   SyncRun.status.in_(claimable))
            .values(status="running", started_at=utcnow(), phase="connecting",
                    message="Connecting to Canvas…", worker=WORKER_ID, heartbeat_at=utcnow())
            .returning(SyncRun.summary, SyncRun.request_id, SyncRun.finished_at)
        ).first()
        if claimed is not None and claimed.finished_at is not None:
            # Only an interrupted run has an end (queued ones never had one): resumed.
            db.session.execute(update(SyncRun).where(SyncRun.id == sync_run_id)
                               .values(error=None, finished_at=None))
            logger.info("sync run %s resumed after an interruption", sync_run_id)
        db.session.commit()
    except IntegrityError:
        # Resuming an interrupted run: the user started another sync meanwhile (the one
        # active run per user index refused it); it stays interrupted, as the check below says.
        _rollback()
        claimed = None
    except SQLAlchemyError:
        # The database is out of reach: the run stays queued and a later start clears it.
        logger.exception("could not start sync run %s", sync_run_id)
        _rollback()
        return SyncResult.failure(DATABASE_DOWN_MESSAGE, ErrorKind.DATABASE)
    if claimed is None:
        run = db.session.get(SyncRun, sync_run_id)
        if run is None or run.user_id != user_id:
            logger.error("sync run %s for user %s does not exist", sync_run_id, user_id)
            return SyncResult.failure("This sync no longer exists.", ErrorKind.UNEXPECTED)
        # A duplicate delivery, or a run already marked interrupted: never run it twice.
        with request_id_context(run.request_id):
            logger.warning("sync run %s is %s, not queued; not running it", run.id, run.status)
        return SyncResult(status=run.status, kind=run.kind, error=run.error)
    with request_id_context(claimed.request_id):
        return _run_claimed(user_id, sync_run_id, incremental, progress,
                            claimed.summary or {})


def _run_claimed(user_id: int, sync_run_id: int, incremental: bool,
                 progress: ProgressCallback | None, summary: dict[str, Any]) -> SyncResult:
    """Run a claimed run and record how it ended (its alerts, its housekeeping)."""
    trigger = summary.get("trigger")
    course_id = summary.get("course_id")
    writer = RunProgressWriter(
        db.engine, sync_run_id, forward=progress, trigger=trigger, course_id=course_id,
        min_interval=(SCHEDULED_PROGRESS_SECONDS if trigger == SCHEDULED
                      else INTERACTIVE_PROGRESS_SECONDS),
        watched=trigger != SCHEDULED,
    )
    try:
        result, facts = _call_engine(user_id, sync_run_id, incremental, writer,
                                     trigger == SCHEDULED, course_id)
    finally:
        writer.close()
    _finish_run(sync_run_id, result, writer.steps, trigger, course_id)
    _send_alerts(user_id, sync_run_id, result, facts)
    if trigger == SCHEDULED and sync_run_id % PRUNE_EVERY == 0:
        _prune_quietly(user_id)
    return result


def prune_scheduled_runs(user_id: int, keep: int | None = None) -> int:
    """Delete the student's scheduled runs beyond the newest ``keep``; how many went.

    Hourly syncs add 24 rows a day per student, forever; only the recent ones matter to a
    person reading the history. Never deleted: runs a person started, active runs, and the
    student's newest successful run (the history shows when the last one worked). Bounded
    work: the user's own rows, through the ``user_id`` index.
    """
    if keep is None:
        keep = int(current_app.config["SCHEDULED_RUNS_KEPT"])
    scheduled = SyncRun.summary["trigger"].as_string() == SCHEDULED
    newest_kept = db.session.scalars(
        select(SyncRun.id).where(SyncRun.user_id == user_id, scheduled)
        .order_by(SyncRun.id.desc()).offset(max(keep, 1) - 1).limit(1)
    ).first()
    if newest_kept is None:
        return 0
    last_success = (
        select(func.max(SyncRun.id))
        .where(SyncRun.user_id == user_id, SyncRun.status == "succeeded")
        .scalar_subquery()
    )
    deleted = cast("CursorResult[Any]", db.session.execute(
        delete(SyncRun).where(
            SyncRun.user_id == user_id, SyncRun.id < newest_kept, scheduled,
            SyncRun.status.not_in(ACTIVE_STATUSES), SyncRun.id != func.coalesce(last_success, 0),
        )
    )).rowcount
    db.session.commit()
    if deleted:
        logger.info("pruned %d old scheduled run(s) of user %s", deleted, user_id)
    return int(deleted or 0)


def _prune_quietly(user_id: int) -> None:
    try:
        prune_scheduled_runs(user_id)
    except SQLAlchemyError as exc:  # housekeeping: the next prune catches up
        logger.warning("pruning the runs of user %s failed: %s", user_id, type(exc).__name__)
        _rollback()


def _send_alerts(user_id: int, sync_run_id: int, result: SyncResult,
                 facts: alerts.RunAlertFacts | None = None) -> None:
    """Hand the run's alerts to the alert queue (their own threads: a slow webhook never holds
    this sync worker), unless ``facts`` say there are none; a failure never fails the sync."""
    try:
        alerts.queue_after_run(user_id, sync_run_id, result, facts)
    except Exception as exc:  # the run is recorded; alerts are a courtesy on top
        logger.warning("alerts after sync run %s failed: %s: %s", sync_run_id,
                       type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "")
        _rollback()


def _call_engine(user_id: int, sync_run_id: int, incremental: bool,
                 progress: ProgressCallback, scheduled: bool,
                 course_id: int | None = None) -> tuple[SyncResult, alerts.RunAlertFacts | None]:
    """Run the sync engine; any exception becomes a ``failed`` result. A scheduled run skips
    the connections whose refused token was not replaced (a click tries them all); a
    one-course run syncs that course only. Also returns what decides whether the run's alerts
    have anything to do (:class:`~app.alerts.RunAlertFacts`), read with the user."""
    try:
        if course_id is not None:
            # The course's connection is read by sync_course: not the user's connections.
            user = db.session.get(User, user_id, options=[lazyload(User.connections)])
            if user is None:
                return SyncResult.failure("This account no longer exists.",
                                          ErrorKind.UNEXPECTED), None
            return connections.sync_course(user, int(course_id), progress=progress,
                                           sync_run_id=sync_run_id), None
        # One read: the user, its usable connections and its alert facts.
        found, usable, row = connections.user_for_sync(
            user_id, *alerts.run_alert_columns(user_id))
        if found is None or row is None:
            return SyncResult.failure("This account no longer exists.",
                                      ErrorKind.UNEXPECTED), None
        # Before the sync: its commits expire the user (then each read is a SELECT).
        facts = alerts.RunAlertFacts.of(row, found.time_zone)
        # Every connection of the user, side by side; one run records them all.
        return connections.sync_connections(
            found, incremental=incremental, progress=progress, sync_run_id=sync_run_id,
            skip_rejected=scheduled, usable=usable), facts
    except Exception as exc:  # the job must end in a visible state, whatever happened
        logger.exception("sync run %s for user %s crashed", sync_run_id, user_id)
        _rollback()
        return SyncResult.failure(
            UNEXPECTED_MESSAGE.format(kind=type(exc).__name__), ErrorKind.UNEXPECTED
        ), None


class RunProgressWriter:
    """A progress callback that stores each step on the ``sync_run`` row, then forwards it.

    The row is updated on its *own* connection, in a short transaction of its own, so other
    processes (the web UI polling the run) see progress while the sync's course transactions
    stay uncommitted until each course is complete. Only at a ``checkpoint`` (no course
    transaction open): on SQLite one connection writes at a time, and the engine's would wait.

    Courses whose gradebooks arrive together are written within milliseconds, far quicker than
    a page polls, so the row's latest ``message`` alone would skip them: each course's step
    (as JSON: :func:`~app.sync.progress.stored_step`) is kept in ``summary["steps"]`` (the
    newest ``MAX_STEPS``), which the page renders and plays back, and which outlives the run.

    ``min_interval`` > 0 skips a step's write when the last write is more recent than that
    (a new phase is written at once); :attr:`steps` still has every step, stored with the
    next write and in the run's final row. A skipped step is written by :meth:`flush`, which
    the sync calls before it waits for Canvas, so a watched row never stays behind while
    nothing happens. A run nobody watches (``watched`` False: scheduled) counts its claim,
    which set the row's phase and heartbeat, as its last write, and is never flushed.
    """

    def __init__(
        self, engine: Engine, sync_run_id: int, *, forward: ProgressCallback | None = None,
        trigger: str | None = None, min_interval: float = 0.0, course_id: int | None = None,
        watched: bool = True,
    ) -> None:
        self._engine = engine
        self._sync_run_id = sync_run_id
        self._forward = forward
        self._conn: Connection | None = None
        self._steps: list[dict[str, Any]] = []
        self._fixed = _fixed_summary(trigger, course_id)
        self._min_interval = min_interval
        self._watched = watched
        # A scheduled run's row was just written by its claim: the first step's write can
        # wait its turn like the others (a quick run then writes none at all).
        self._stored_at: float | None = None if watched else time.monotonic()
        self._stored_phase: str | None = None
        self._unstored: SyncProgress | None = None  # the newest step not written yet
        self._relaxed = False  # synchronous_commit is off on self._conn (Postgres)

    @property
    def steps(self) -> list[dict[str, Any]]:
        """The newest ``MAX_STEPS`` course steps of the run so far, as stored."""
        return list(self._steps)

    def __call__(self, progress: SyncProgress) -> None:
        if progress.checkpoint:
            if progress.step is not None:
                step = stored_step(progress.step, progress.courses_done, progress.courses_total)
                self._steps = [*self._steps, step][-MAX_STEPS:]
            now = time.monotonic()
            if (self._stored_at is None or now - self._stored_at >= self._min_interval
                    or (self._watched and progress.phase != self._stored_phase)):
                self._stored_at = now
                self._store(progress)
            else:
                self._unstored = progress
        if self._forward is not None:
            self._forward(progress)

    def flush(self) -> None:
        """Write the newest step that was skipped (the sync is about to wait: no course
        transaction is open). Nothing for a run nobody watches."""
        if self._unstored is not None and self._watched:
            self._stored_at = time.monotonic()
            self._store(self._unstored)

    def _store(self, progress: SyncProgress) -> None:
        self._unstored = None
        self._stored_phase = progress.phase
        summary: dict[str, Any] = dict(self._fixed)
        if self._steps:
            summary["steps"] = self._steps
        try:
            # One UPDATE, its own transaction: no BEGIN/COMMIT round trips around it.
            self._connection().execute(
                update(SyncRun)
                .where(SyncRun.id == self._sync_run_id)
                .values(
                    phase=progress.phase,
                    courses_done=progress.courses_done,
                    courses_total=progress.courses_total,
                    message=progress.message[:MAX_MESSAGE],
                    requests=progress.requests,
                    heartbeat_at=utcnow(),
                    **({"summary": summary} if summary else {}),
                )
            )
        except SQLAlchemyError as exc:
            # Progress is a convenience; a locked or lost progress row must not fail the sync.
            logger.warning("could not update sync_run %s progress: %s", self._sync_run_id, exc)
            self.close()

    def _connection(self) -> Connection:
        """The progress connection, in autocommit. On Postgres, for a run somebody watches,
        its commits do not wait for the WAL to reach the disk (``synchronous_commit =
        off``, this connection only, reset before it goes back to the pool): a server crash
        may lose the last fraction of a second of progress, never a course, and the run's end
        is written synchronously. A scheduled run writes at most once a second: no SET."""
        if self._conn is None:
            conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            self._conn = conn
            if conn.dialect.name == "postgresql" and self._watched:
                conn.exec_driver_sql("SET synchronous_commit TO off")
                self._relaxed = True
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            try:
                if self._relaxed:
                    self._conn.exec_driver_sql("RESET synchronous_commit")
            except SQLAlchemyError:
                logger.debug("resetting the progress connection failed", exc_info=True)
                self._conn.invalidate()  # never hand a relaxed connection to someone else
            try:
                self._conn.close()
            except SQLAlchemyError:
                logger.debug("closing the progress connection failed", exc_info=True)
            self._conn = None
            self._relaxed = False


def _rollback() -> None:
    """Roll back, even when the connection is already gone (the pool replaces it)."""
    try:
        db.session.rollback()
    except SQLAlchemyError:
        logger.warning("rollback failed; discarding the session", exc_info=True)
        db.session.remove()


def _finish_run(sync_run_id: int, result: SyncResult, steps: list[dict[str, Any]] | None = None,
                trigger: str | None = None, course_id: int | None = None) -> None:
    """Record the end of the run, retrying a little if the database connection dropped.

    If the database stays unreachable the run is left ``running``; the next start of a
    server or worker marks it interrupted. The job itself never raises for this.
    """
    for attempt in range(FINISH_ATTEMPTS):
        try:
            _record_finish(sync_run_id, result, steps, _fixed_summary(trigger, course_id))
            return
        except SQLAlchemyError:
            logger.warning("could not record the end of sync run %s (attempt %d of %d)",
                           sync_run_id, attempt + 1, FINISH_ATTEMPTS, exc_info=True)
            _rollback()
            time.sleep(FINISH_RETRY_SECONDS * (attempt + 1))
    logger.error("gave up recording the end of sync run %s; it will show as interrupted",
                 sync_run_id)


def _record_finish(sync_run_id: int, result: SyncResult, steps: list[dict[str, Any]] | None,
                   fixed: dict[str, Any]) -> None:
    """One UPDATE, no read first (a deleted account's run: no row, nothing to do)."""
    summary = json.loads(json.dumps(result.as_dict(), default=str))
    if steps:  # what the progress writer kept: a page that polled after the burst plays it
        summary["steps"] = steps
    summary.update(fixed)  # the trigger, the course of a one-course run
    status = "succeeded" if result.succeeded else "failed"
    values: dict[str, Any] = {
        "status": status,
        "finished_at": utcnow(),
        "error": None if result.succeeded else (result.error or "The sync failed."),
        "summary": summary,
        "requests": result.requests,
    }
    if result.succeeded:
        total = case((SyncRun.courses_total > result.courses, SyncRun.courses_total),
                     else_=result.courses)
        values.update(phase="done", courses_total=total, courses_done=total)
    db.session.execute(
        update(SyncRun).where(SyncRun.id == sync_run_id).values(**values)
        .execution_options(synchronize_session=False)  # the commit expires the session
    )
    db.session.commit()
    logger.info("sync run %s %s", sync_run_id, status)


def mark_interrupted(
    run_ids: Iterable[int], message: str = INTERRUPTED_MESSAGE, *, statuses: Iterable[str] = ()
) -> int:
    """Mark these runs ``interrupted`` if still active (or in ``statuses``); returns how many."""
    ids = list(run_ids)
    if not ids:
        return 0
    count = cast(
        "CursorResult[Any]",  # an UPDATE's result; the stubs say Result (no .rowcount)
        db.session.execute(
            update(SyncRun)
            .where(SyncRun.id.in_(ids), SyncRun.status.in_(tuple(statuses) or ACTIVE_STATUSES))
            .values(status="interrupted", finished_at=utcnow(), error=message)
        ),
    ).rowcount or 0
    db.session.commit()
    return count
