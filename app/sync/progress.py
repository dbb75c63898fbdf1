"""Progress and accounting for a sync: counters, the callback, the ``sync_run`` row, the summary.

The ``sync_run`` row is updated on its *own* connection, in a short transaction of its own, so
that other processes (the web UI polling the run) see progress while the sync's course
transactions stay uncommitted until each course is complete. On SQLite only one connection can
write at a time, so the service reports between courses, never while a course transaction is
open (the writer would otherwise wait on itself).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import event, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from app.models import SyncRun, utcnow

logger = logging.getLogger(__name__)

MAX_MESSAGE = 500
SEPARATOR = "=" * 64
RULE = "-" * 64


@dataclass
class SyncProgress:
    """What the CLI progress bar and the web UI show."""

    phase: str  # "connecting" | "courses" | "fetching" | "writing" | "done"
    courses_done: int
    courses_total: int
    message: str  # e.g. "[3/7] Syncing course: Économie 101"
    requests: int


ProgressCallback = Callable[[SyncProgress], None]


@dataclass
class RunStats:
    """Counters of one sync (one public call), turned into the results dict at the end."""

    kind: str
    plan: str
    started: float = field(default_factory=time.monotonic)
    started_at: datetime = field(default_factory=utcnow)
    courses_total: int = 0
    courses_done: int = 0
    courses_written: int = 0
    courses_unchanged: int = 0
    courses_concluded_skipped: int = 0
    courses_deleted: int = 0
    assignments: int = 0
    rows_written: int = 0
    items_skipped: int = 0
    skipped: list[dict[str, Any]] = field(default_factory=list)
    statements_per_course: list[int] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    error: str | None = None

    def add_time(self, name: str, seconds: float) -> None:
        self.timings[name] = round(self.timings.get(name, 0.0) + seconds, 4)

    def results(self, *, statements: int, client: dict[str, int]) -> dict[str, Any]:
        """The results dict (docs/INTERFACES.md); ``client`` has requests/throttled/retries."""
        self.timings["total_s"] = round(time.monotonic() - self.started, 4)
        not_read = [s for s in self.skipped if s["reason"] != "restricted by date"]
        return {
            "status": "failed" if self.error else "succeeded",
            "kind": self.kind,
            "plan": self.plan,
            "courses": self.courses_done - len(not_read),
            "courses_total": self.courses_total,
            "courses_written": self.courses_written,
            "courses_unchanged": self.courses_unchanged,
            "courses_concluded_skipped": self.courses_concluded_skipped,
            "courses_skipped": len(self.skipped),
            "courses_deleted": self.courses_deleted,
            "skipped": list(self.skipped),
            "assignments": self.assignments,
            "items_skipped": self.items_skipped,
            "rows_written": self.rows_written,
            "db_statements": statements,
            "db_statements_max_per_course": max(self.statements_per_course, default=0),
            "requests": client.get("requests", 0),
            "throttled": client.get("throttled", 0),
            "retries": client.get("retries", 0),
            "duration_s": self.timings["total_s"],
            "timings": dict(self.timings),
            "error": self.error,
        }


def done_message(results: dict[str, Any]) -> str:
    """The last progress message: what happened, in one line."""
    if results["status"] == "failed":
        return f"Sync failed: {results['error']}"
    return (
        f"Synced {results['courses']} courses, {results['assignments']} assignments "
        f"({results['rows_written']} rows changed)."
    )


def summary_lines(results: dict[str, Any], user_id: int) -> list[str]:
    """The summary block logged at the end of a sync, between separator lines."""
    timings = results["timings"]
    lines = [
        SEPARATOR,
        f"Canvas sync {results['status']} for user {user_id} "
        f"({results['kind']}, plan {results['plan']}) in {results['duration_s']:.2f} s",
        RULE,
        f"Courses:      {results['courses']} of {results['courses_total']} "
        f"(written {results['courses_written']}, unchanged {results['courses_unchanged']}, "
        f"concluded not fetched {results['courses_concluded_skipped']}, "
        f"skipped {results['courses_skipped']}, deleted {results['courses_deleted']})",
        f"Assignments:  {results['assignments']} (junk items skipped {results['items_skipped']})",
        f"Database:     {results['rows_written']} rows written, "
        f"{results['db_statements']} statements "
        f"(at most {results['db_statements_max_per_course']} per course)",
        f"Requests:     {results['requests']} (throttled {results['throttled']}, "
        f"retries {results['retries']})",
        "Timings:      " + ", ".join(f"{k} {v:.2f}" for k, v in sorted(timings.items())),
    ]
    if results["error"]:
        lines.append(f"Error:        {results['error']}")
    lines.append(SEPARATOR)
    return lines


_counting = threading.local()


@event.listens_for(Engine, "before_cursor_execute")
def _count_statement(*_args: Any, **_kwargs: Any) -> None:
    counter: StatementCounter | None = getattr(_counting, "counter", None)
    if counter is not None and not counter.paused:
        counter.count += 1


class StatementCounter:
    """Counts the SQL statements the current thread (a sync's writer) sends to the database.

    One ``before_cursor_execute`` listener for every engine, registered once at import:
    adding and removing listeners per sync would mutate the listener list while other threads
    (other syncs, web requests) iterate it. The listener counts only for the thread that
    opened a counter, so other work in the process is never counted; the progress connection
    pauses it.
    """

    def __init__(self) -> None:
        self.count = 0
        self.paused = False
        self._previous: StatementCounter | None = getattr(_counting, "counter", None)
        _counting.counter = self

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False

    def close(self) -> None:
        if getattr(_counting, "counter", None) is self:
            _counting.counter = self._previous


class ProgressReporter:
    """Sends progress to the callback and to the ``sync_run`` row (when there is one)."""

    def __init__(
        self,
        engine: Engine,
        *,
        callback: ProgressCallback | None,
        sync_run_id: int | None,
        counter: StatementCounter | None = None,
    ) -> None:
        self._engine = engine
        self._callback = callback
        self._sync_run_id = sync_run_id
        self._counter = counter
        self._conn: Connection | None = None
        self.last: SyncProgress | None = None

    def report(self, progress: SyncProgress, *, store: bool = True) -> None:
        """Publish ``progress``; ``store=False`` skips the row (a course transaction is open)."""
        self.last = progress
        if store:
            self._store(progress)
        if self._callback is not None:
            # The callback is the caller's code (a CLI bar, a test); its failures are its own
            # business, but they must not be mistaken for a Canvas or database failure.
            self._callback(progress)

    def _store(self, progress: SyncProgress) -> None:
        if self._sync_run_id is None:
            return
        if self._counter is not None:
            self._counter.pause()
        try:
            if self._conn is None:
                self._conn = self._engine.connect()
            with self._conn.begin():
                self._conn.execute(
                    update(SyncRun)
                    .where(SyncRun.id == self._sync_run_id)
                    .values(
                        phase=progress.phase,
                        courses_done=progress.courses_done,
                        courses_total=progress.courses_total,
                        message=progress.message[:MAX_MESSAGE],
                        requests=progress.requests,
                        heartbeat_at=utcnow(),
                    )
                )
        except SQLAlchemyError as exc:
            # Progress is a convenience; a locked or lost progress row must not fail the sync.
            logger.warning("could not update sync_run %s progress: %s", self._sync_run_id, exc)
            self._discard()
        finally:
            if self._counter is not None:
                self._counter.resume()

    def _discard(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except SQLAlchemyError:
                logger.debug("closing the progress connection failed", exc_info=True)
            self._conn = None

    def close(self) -> None:
        self._discard()
