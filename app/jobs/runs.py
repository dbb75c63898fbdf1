"""Run Canvas syncs in the background, never inside a web request.

One job function, :func:`run_sync`, and two runners chosen by configuration:

* by default an in-process, bounded :class:`~concurrent.futures.ThreadPoolExecutor`
  (``SYNC_WORKERS`` threads, kept in ``app.extensions``); each job pushes its own app context,
  so it gets its own scoped session;
* when ``CELERY_BROKER_URL`` is set, a Celery task (see :mod:`app.jobs.tasks`), so several worker
  machines can share a nightly sync.

Jobs receive ids, never model objects. The database enforces "one active sync per user" with
the partial unique index ``uq_sync_run_one_active_per_user``; :func:`create_sync_run` turns the
violation into :class:`SyncAlreadyRunning`.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from app.extensions import db
from app.models import SyncRun, User, utcnow
from app.models.sync_run import ACTIVE_STATUSES

if TYPE_CHECKING:
    from app.sync.engine import SyncProgress

logger = logging.getLogger(__name__)

ProgressCallback = Callable[["SyncProgress"], None]

RUNNER_KEY = "gradesync_sync_runner"
INTERRUPTED_MESSAGE = (
    "The server stopped before this sync finished. Nothing is lost: start the sync again."
)
UNEXPECTED_MESSAGE = (
    "The sync stopped because of an unexpected error on our side ({kind}). "
    "Your previous data is unchanged; try again, and tell the administrator if it keeps failing."
)
NOT_CONNECTED_MESSAGE = (
    "Your account is not connected to Canvas. Add your Canvas token in Settings."
)

DATABASE_DOWN_MESSAGE = "The sync could not start: the database is unavailable. Try again soon."
FINISH_ATTEMPTS = 4
FINISH_RETRY_SECONDS = 0.25

# Runs created before this process existed cannot belong to its thread pool.
PROCESS_STARTED_AT = utcnow()
# The process that holds a run: a starting process checks whether that one is still alive.
WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"
# A running sync updates its row at every course; this long without a sign of life, its
# process (on another machine, where we cannot look) is taken to be gone.
DEFAULT_STALE_AFTER_S = 15 * 60


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


def create_sync_run(user_id: int, incremental: bool) -> SyncRun:
    """Insert a ``queued`` run for the user and commit it.

    Raises:
        SyncAlreadyRunning: the user has a queued/running run (the unique index refused ours).
    """
    for _attempt in range(2):
        run = SyncRun(
            user_id=user_id, kind="incremental" if incremental else "full", status="queued"
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


def run_sync(
    user_id: int,
    sync_run_id: int,
    incremental: bool,
    progress: ProgressCallback | None = None,
) -> dict[str, Any]:
    """Run one sync now, in this thread, and record how it ended on its ``sync_run`` row.

    The run goes ``running`` -> ``succeeded`` or ``failed``; an unexpected exception is logged
    with its traceback and recorded as ``failed`` with a message a person can act on.
    Returns the sync service's results dict.
    """
    # Claim the run atomically: of two deliveries of the same message, only one runs it.
    try:
        claimed = db.session.execute(
            update(SyncRun)
            .where(SyncRun.id == sync_run_id, SyncRun.user_id == user_id,
                   SyncRun.status == "queued")
            .values(status="running", started_at=utcnow(), phase="connecting",
                    message="Connecting to Canvas…", worker=WORKER_ID, heartbeat_at=utcnow())
        ).rowcount
        db.session.commit()
    except SQLAlchemyError:
        # The database is out of reach: the run stays queued and a later start clears it.
        logger.exception("could not start sync run %s", sync_run_id)
        _rollback()
        return {"status": "failed", "error": DATABASE_DOWN_MESSAGE}
    if not claimed:
        run = db.session.get(SyncRun, sync_run_id)
        if run is None or run.user_id != user_id:
            logger.error("sync run %s for user %s does not exist", sync_run_id, user_id)
            return {"status": "failed", "error": "This sync no longer exists."}
        # A duplicate delivery, or a run already marked interrupted: never run it twice.
        logger.warning("sync run %s is %s, not queued; not running it", run.id, run.status)
        return {"status": run.status, "error": run.error}

    results = _call_sync_service(user_id, sync_run_id, incremental, progress)
    _finish_run(sync_run_id, results)
    return results


def _call_sync_service(
    user_id: int, sync_run_id: int, incremental: bool, progress: ProgressCallback | None
) -> dict[str, Any]:
    """Run the sync service; any exception becomes a ``failed`` results dict."""
    try:
        user = db.session.get(User, user_id)
        if user is None or not user.canvas_connected:
            return {"status": "failed", "error": NOT_CONNECTED_MESSAGE}
        from app.sync.engine import create_canvas_sync_service

        service = create_canvas_sync_service(user, progress=progress, sync_run_id=sync_run_id)
        results = service.sync_all_data(use_incremental=incremental)
        if not isinstance(results, dict) or results.get("status") not in ("succeeded", "failed"):
            raise TypeError(f"sync service returned {type(results).__name__}, not a results dict")
        return results
    except Exception as exc:  # the job must end in a visible state, whatever happened
        logger.exception("sync run %s for user %s crashed", sync_run_id, user_id)
        _rollback()
        return {"status": "failed", "error": UNEXPECTED_MESSAGE.format(kind=type(exc).__name__)}


def _rollback() -> None:
    """Roll back, even when the connection is already gone (the pool replaces it)."""
    try:
        db.session.rollback()
    except SQLAlchemyError:
        logger.warning("rollback failed; discarding the session", exc_info=True)
        db.session.remove()


def _finish_run(sync_run_id: int, results: dict[str, Any]) -> None:
    """Record the end of the run, retrying a little if the database connection dropped.

    If the database stays unreachable the run is left ``running``; the next start of a
    server or worker marks it interrupted. The job itself never raises for this.
    """
    for attempt in range(FINISH_ATTEMPTS):
        try:
            _record_finish(sync_run_id, results)
            return
        except SQLAlchemyError:
            logger.warning("could not record the end of sync run %s (attempt %d of %d)",
                           sync_run_id, attempt + 1, FINISH_ATTEMPTS, exc_info=True)
            _rollback()
            time.sleep(FINISH_RETRY_SECONDS * (attempt + 1))
    logger.error("gave up recording the end of sync run %s; it will show as interrupted",
                 sync_run_id)


def _record_finish(sync_run_id: int, results: dict[str, Any]) -> None:
    # The service wrote progress on its own connection: read the row afresh.
    run = db.session.get(SyncRun, sync_run_id, populate_existing=True)
    if run is None:  # the user deleted their account meanwhile
        return
    succeeded = results.get("status") == "succeeded"
    run.status = "succeeded" if succeeded else "failed"
    run.finished_at = utcnow()
    run.error = None if succeeded else (results.get("error") or "The sync failed.")
    run.summary = _json_safe(results)
    if isinstance(results.get("requests"), int):
        run.requests = results["requests"]
    if succeeded:
        run.phase = "done"
        run.courses_total = max(run.courses_total, int(results.get("courses") or 0))
        run.courses_done = run.courses_total
    db.session.commit()
    logger.info("sync run %s %s", run.id, run.status)


def _json_safe(results: dict[str, Any]) -> dict[str, Any]:
    """The results dict as plain JSON (timings may hold datetimes or other objects)."""
    return json.loads(json.dumps(results, default=str))


def mark_interrupted_runs(
    before: datetime | None = None, statuses: tuple[str, ...] = ACTIVE_STATUSES
) -> int:
    """Mark runs left queued/running by a dead process as ``interrupted``; returns how many.

    Args:
        before: only runs created before this moment (default: every active run). A thread
            pool passes its process start time, so it never touches another live process's runs.
        statuses: which states count as left over; a Celery worker leaves ``queued`` runs
            alone, because their messages still wait in the broker.
    """
    stmt = (
        update(SyncRun)
        .where(SyncRun.status.in_(statuses))
        .values(status="interrupted", finished_at=utcnow(), error=INTERRUPTED_MESSAGE)
    )
    if before is not None:
        stmt = stmt.where(SyncRun.created_at < before)
    count = db.session.execute(stmt).rowcount or 0
    db.session.commit()
    if count:
        logger.warning("marked %d sync run(s) interrupted", count)
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
    """At start-up: mark ``interrupted`` the active runs whose process is gone; returns how many.

    Unlike ``mark_interrupted_runs`` this is safe with other live processes (gunicorn workers,
    Celery workers on other machines): a run is abandoned only when its holder is a dead process
    on this machine, or it has shown no sign of life for ``stale_after_s`` seconds. Queued runs
    that no process holds wait in the Celery broker and are left alone.
    """
    if stale_after_s is None:
        stale_after_s = float(
            current_app.config.get("SYNC_STALE_AFTER_S", DEFAULT_STALE_AFTER_S)
        )
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
    if not abandoned:
        db.session.commit()
        return 0
    count = db.session.execute(
        update(SyncRun)
        .where(SyncRun.id.in_(abandoned), SyncRun.status.in_(ACTIVE_STATUSES))
        .values(status="interrupted", finished_at=utcnow(), error=INTERRUPTED_MESSAGE)
    ).rowcount or 0
    db.session.commit()
    if count:
        logger.warning("marked %d abandoned sync run(s) interrupted", count)
    return count


def resume_interrupted_run(sync_run_id: int) -> bool:
    """Put an ``interrupted`` run back to ``queued`` so it can run; False if it cannot.

    A Celery message is acknowledged only after its sync ran, so the message of a run whose
    worker died is delivered again, after the next worker marked the run interrupted. The run
    is resumed unless the user started another sync meanwhile (the unique index refuses it).
    """
    try:
        count = db.session.execute(
            update(SyncRun)
            .where(SyncRun.id == sync_run_id, SyncRun.status == "interrupted")
            .values(status="queued", error=None, finished_at=None)
        ).rowcount
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return False
    if count:
        logger.info("sync run %s resumed after an interruption", sync_run_id)
    return bool(count)


# --- Runners ---------------------------------------------------------------------------------


class ThreadRunner:
    """A bounded pool of threads running syncs in this process."""

    def __init__(self, app: Flask, workers: int) -> None:
        self.app = app
        self.executor = ThreadPoolExecutor(
            max_workers=max(1, workers), thread_name_prefix="gradesync-sync"
        )

    def submit(self, user_id: int, sync_run_id: int, incremental: bool) -> None:
        # The run now lives in this process's memory: say so, so that if this process dies
        # the next one to start can tell the run will never be picked up.
        db.session.execute(
            update(SyncRun)
            .where(SyncRun.id == sync_run_id, SyncRun.status == "queued")
            .values(worker=WORKER_ID, heartbeat_at=utcnow())
        )
        db.session.commit()
        self.executor.submit(self._job, user_id, sync_run_id, incremental)

    def _job(self, user_id: int, sync_run_id: int, incremental: bool) -> None:
        # Our own app context means our own scoped session, removed when the context ends.
        with self.app.app_context():
            try:
                run_sync(user_id, sync_run_id, incremental)
            except Exception:  # run_sync already records failures; this is the last resort
                logger.exception("sync job %s could not record its result", sync_run_id)

    def shutdown(self, wait: bool = True) -> None:
        self.executor.shutdown(wait=wait)


class CeleryRunner:
    """Send syncs to Celery workers through the broker."""

    def __init__(self, app: Flask) -> None:
        from app.jobs.tasks import celery_init_app

        self.celery = app.extensions.get("celery") or celery_init_app(app)

    def submit(self, user_id: int, sync_run_id: int, incremental: bool) -> None:
        from app.jobs.tasks import run_sync_task

        run_sync_task.apply_async(args=(user_id, sync_run_id, incremental))


_runner_lock = threading.Lock()


def get_runner(app: Flask | None = None) -> ThreadRunner | CeleryRunner:
    """The app's runner, created on first use (Celery when ``CELERY_BROKER_URL`` is set)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    runner = app.extensions.get(RUNNER_KEY)
    if runner is not None:
        return runner
    with _runner_lock:
        runner = app.extensions.get(RUNNER_KEY)
        if runner is None:
            if app.config.get("CELERY_BROKER_URL"):
                runner = CeleryRunner(app)
            else:
                recover_abandoned_runs()
                runner = ThreadRunner(app, int(app.config.get("SYNC_WORKERS", 4)))
            app.extensions[RUNNER_KEY] = runner
    return runner


def start_sync(user_id: int, incremental: bool = False) -> SyncRun:
    """Create a run and hand it to the runner; returns the already active run if there is one."""
    runner = get_runner()
    try:
        run = create_sync_run(user_id, incremental)
    except SyncAlreadyRunning as exc:
        return exc.run
    try:
        runner.submit(user_id, run.id, incremental)
    except Exception as exc:  # broker down: the run must not stay "queued" forever
        logger.exception("could not submit sync run %s", run.id)
        run.status = "failed"
        run.finished_at = utcnow()
        run.error = f"The sync could not be started: the job queue is unavailable ({exc})."
        db.session.commit()
    return run


def enqueue_all(incremental: bool = True) -> list[SyncRun]:
    """Start a sync for every connected user; users already syncing keep their active run."""
    user_ids = db.session.scalars(
        select(User.id)
        .where(User.canvas_base_url.is_not(None), User.canvas_token_encrypted.is_not(None))
        .order_by(User.id)
    ).all()
    return [start_sync(user_id, incremental) for user_id in user_ids]
