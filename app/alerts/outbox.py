"""Alerts go out through their own bounded queue, never from a sync worker or a scheduler tick.

A webhook that trickles its answer, or a slow SMTP server, used to hold the sync worker that
ran the alerts after its sync (and the scheduler thread that sent the held ones): other
students' syncs waited. Now :func:`queue_after_run` and :func:`queue_due_digests` put the work
on the process's :class:`AlertOutbox` - ``ALERT_WORKERS`` threads of its own (2 by default)
and at most ``ALERT_QUEUE_MAX`` jobs waiting - and return at once. Each job runs in its own app
context. A full queue drops the job with a warning: the run's rows and its ledger are stored,
and held alerts wait for the next tick; no sync is ever slowed down by alerts.

``wait_idle`` lets a command (``canvas sync``) hand its email to the server before it exits.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Flask, current_app

from app.alerts.deliver import RunAlertFacts, after_run, nothing_after, send_due_digests
from app.extensions import db
from app.logs import with_request_id
from app.sync.result import SyncResult

logger = logging.getLogger(__name__)

OUTBOX_KEY = "gradesync_alert_outbox"
DEFAULT_WORKERS = 2
DEFAULT_CAPACITY = 200


class AlertOutbox:
    """A bounded queue of alert jobs and the threads that run them."""

    def __init__(self, app: Flask, workers: int = DEFAULT_WORKERS,
                 capacity: int = DEFAULT_CAPACITY) -> None:
        self.app = app
        self.workers = max(1, workers)
        self._jobs: queue.Queue[tuple[str, Callable[..., Any], tuple[Any, ...]]] = queue.Queue(
            maxsize=max(1, capacity))
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._pending: set[str] = set()  # keys of jobs waiting or running
        self._idle = threading.Condition(self._lock)

    def submit(self, key: str, job: Callable[..., Any], *args: Any) -> bool:
        """Queue ``job(*args)`` unless a job with ``key`` is already waiting; False if full."""
        with self._lock:
            if key in self._pending:
                return True
            try:
                # The job logs under the caller's request id (app.logs), so the delivery's
                # lines follow the Sync click that led to them.
                self._jobs.put_nowait((key, with_request_id(job), args))
            except queue.Full:
                logger.warning("alert queue full: %s not sent now", key)
                return False
            self._pending.add(key)
            if len(self._threads) < self.workers:
                thread = threading.Thread(target=self._work, daemon=True,
                                          name=f"gradesync-alerts_{len(self._threads)}")
                self._threads.append(thread)
                thread.start()
        return True

    def _work(self) -> None:
        while True:
            key, job, args = self._jobs.get()
            try:
                with self.app.app_context():
                    try:
                        job(*args)
                    except Exception as exc:  # alerts are a courtesy: log, never raise
                        logger.warning("alert job %s failed: %s", key, type(exc).__name__)
                        db.session.rollback()
            finally:
                with self._idle:
                    self._pending.discard(key)
                    self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no job is waiting or running; False if ``timeout`` passed first."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._pending, timeout)


_create_lock = threading.Lock()


def outbox(app: Flask | None = None) -> AlertOutbox:
    """The app's outbox, created on first use."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    box: AlertOutbox | None = app.extensions.get(OUTBOX_KEY)
    if box is None:
        with _create_lock:
            box = app.extensions.get(OUTBOX_KEY)
            if box is None:
                box = AlertOutbox(app, int(app.config["ALERT_WORKERS"]),
                                  int(app.config["ALERT_QUEUE_MAX"]))
                app.extensions[OUTBOX_KEY] = box
    return box


def queue_after_run(user_id: int, sync_run_id: int, result: SyncResult,
                    facts: RunAlertFacts | None = None) -> bool:
    """Send (or hold) a finished run's alerts on the outbox's threads; returns at once.
    ``facts`` (read with the run's user) that say there is nothing to do: no job at all."""
    if facts is not None and nothing_after(facts, result):
        return True
    return outbox().submit(f"run:{sync_run_id}", after_run, user_id, sync_run_id, result)


def queue_due_digests(now: datetime | None = None) -> bool:
    """Send the held alerts whose time has come, on the outbox's threads (one job at a time)."""
    return outbox().submit("digests", send_due_digests, now)
