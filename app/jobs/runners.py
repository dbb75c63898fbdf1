"""Where a sync runs: an in-process thread pool by default, Celery workers with a broker.

:func:`start_sync` is what the Sync button and ``canvas sync --all`` call: it creates the run
and hands it to the app's runner (:func:`get_runner`). Creating the runner has no other effect;
start-up recovery is a separate, explicit step (:mod:`app.jobs.recovery`).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter, deque
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Flask, current_app
from sqlalchemy import select

from app.extensions import db
from app.jobs.runs import (
    SyncAlreadyRunning,
    create_sync_run,
    fail_to_start,
    hold_run,
    run_sync,
)
from app.models import CanvasConnection, SyncRun

logger = logging.getLogger(__name__)

RUNNER_KEY = "gradesync_sync_runner"


@dataclass
class _Job:
    user_id: int
    sync_run_id: int
    incremental: bool
    hosts: frozenset[str]


def canvas_hosts(user_id: int) -> frozenset[str]:
    """The Canvas hosts (``host[:port]``, lower case) of the user's connections."""
    urls = db.session.scalars(
        select(CanvasConnection.base_url).where(CanvasConnection.user_id == user_id,
                                                CanvasConnection.base_url.is_not(None))
    ).all()
    return frozenset(urlsplit(url).netloc.lower() for url in urls if url)


class ThreadRunner:
    """A bounded pool of threads running syncs in this process, shared fairly between hosts.

    At most ``per_host`` syncs of one Canvas host run at once (by default one fewer than the
    workers): four students whose Canvas trickles its answers cannot take every worker, and
    the next student of another Canvas starts at once. A job whose host is full waits in the
    queue without holding a worker; jobs otherwise start in the order they came.
    """

    def __init__(self, app: Flask, workers: int, per_host: int | None = None) -> None:
        self.app = app
        self.workers = max(1, workers)
        self.per_host = max(1, per_host if per_host else self.workers - 1)
        self._cond = threading.Condition()
        self._queue: deque[_Job] = deque()
        self._busy: Counter[str] = Counter()
        self._stopping = False
        self._threads: list[threading.Thread] = []  # started as jobs come, up to ``workers``

    def submit(self, user_id: int, sync_run_id: int, incremental: bool) -> None:
        # The run now lives in this process's memory: say so, so that if this process dies
        # the next one to start can tell the run will never be picked up.
        hold_run(sync_run_id)
        job = _Job(user_id, sync_run_id, incremental, canvas_hosts(user_id))
        with self._cond:
            self._queue.append(job)
            if len(self._threads) < self.workers:
                thread = threading.Thread(target=self._work, daemon=True,
                                          name=f"gradesync-sync_{len(self._threads)}")
                self._threads.append(thread)
                thread.start()
            self._cond.notify_all()

    def _next(self) -> _Job | None:
        for job in self._queue:
            if all(self._busy[host] < self.per_host for host in job.hosts):
                self._queue.remove(job)
                self._busy.update(job.hosts)
                return job
        return None

    def _work(self) -> None:
        while True:
            with self._cond:
                job = self._next()
                while job is None:
                    if self._stopping and not self._queue:
                        return
                    self._cond.wait()
                    job = self._next()
            try:
                self._job(job.user_id, job.sync_run_id, job.incremental)
            finally:
                with self._cond:
                    self._busy.subtract(job.hosts)
                    self._cond.notify_all()

    def _job(self, user_id: int, sync_run_id: int, incremental: bool) -> None:
        # Our own app context means our own scoped session, removed when the context ends.
        with self.app.app_context():
            try:
                run_sync(user_id, sync_run_id, incremental)
            except Exception:  # run_sync already records failures; this is the last resort
                logger.exception("sync job %s could not record its result", sync_run_id)

    def shutdown(self, wait: bool = True) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if wait:
            for thread in self._threads:
                thread.join()


class CeleryRunner:
    """Send syncs to Celery workers through the broker."""

    def __init__(self, app: Flask) -> None:
        from app.jobs.tasks import celery_init_app  # Celery is imported only when used

        self.celery = app.extensions.get("celery") or celery_init_app(app)

    def submit(self, user_id: int, sync_run_id: int, incremental: bool) -> None:
        from app.jobs.tasks import run_sync_task

        run_sync_task.apply_async(args=(user_id, sync_run_id, incremental))


_runner_lock = threading.Lock()


def get_runner(app: Flask | None = None) -> ThreadRunner | CeleryRunner:
    """The app's runner, created on first use (Celery when ``CELERY_BROKER_URL`` is set)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    runner: ThreadRunner | CeleryRunner | None = app.extensions.get(RUNNER_KEY)
    if runner is not None:
        return runner
    with _runner_lock:
        runner = app.extensions.get(RUNNER_KEY)
        if runner is None:
            if app.config.get("CELERY_BROKER_URL"):
                runner = CeleryRunner(app)
            else:
                runner = ThreadRunner(app, int(app.config["SYNC_WORKERS"]),
                                      int(app.config["SYNC_WORKERS_PER_HOST"]) or None)
            app.extensions[RUNNER_KEY] = runner
    return runner


def start_sync(user_id: int, incremental: bool = False, *,
               course_id: int | None = None) -> tuple[SyncRun, bool]:
    """Create a run and hand it to the runner: ``(run, True)``; or ``(active run, False)`` when
    the user already has one (nothing new is started). ``course_id`` (local id, the caller
    checked it is the user's): a run of that one course ("Sync this course")."""
    runner = get_runner()
    try:
        run = create_sync_run(user_id, incremental, course_id=course_id)
    except SyncAlreadyRunning as exc:
        return exc.run, False
    try:
        runner.submit(user_id, run.id, incremental)
    except Exception as exc:  # broker down: the run must not stay "queued" forever
        logger.exception("could not submit sync run %s", run.id)
        fail_to_start(run, str(exc))
    return run, True


def enqueue_all(incremental: bool = True) -> list[SyncRun]:
    """Start a sync for every connected user; users already syncing keep their active run."""
    user_ids = db.session.scalars(
        select(CanvasConnection.user_id)
        .where(CanvasConnection.usable)
        .distinct()
        .order_by(CanvasConnection.user_id)
    ).all()
    return [start_sync(user_id, incremental)[0] for user_id in user_ids]
