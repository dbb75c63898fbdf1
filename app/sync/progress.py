"""What a sync says about itself: its course steps as lines, the logged summary, statement counts.

The engine reports :class:`~app.sync.result.SyncProgress` through a callback; whoever runs it
(:mod:`app.jobs` for the ``sync_run`` row, the CLI for its bar) decides what to do with it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from app.canvas.protocol import MeasuredClient
from app.sync.result import CourseStep, SyncResult

SEPARATOR = "=" * 64
RULE = "-" * 64
MAX_NAME = 500  # a course name as a step keeps it


def step_line(step: CourseStep) -> str:
    """The log's and the CLI's line for a course step: "[3/7] Syncing course: Économie 101"."""
    return f"[{step.index}/{step.total}] Syncing course: {step.name}"


def stored_step(step: CourseStep, run_done: int, run_total: int) -> dict[str, Any]:
    """A course step as ``sync_run.summary["steps"]`` keeps it: the step's fields, plus where
    the whole run stood (``run_done`` of ``run_total``: all connections together)."""
    return step.as_dict() | {"name": step.name[:MAX_NAME], "run_done": run_done,
                             "run_total": run_total}


def done_message(results: SyncResult) -> str:
    """The last progress message: what happened, in one line."""
    if not results.succeeded:
        return f"Sync failed: {results.error}"
    return (
        f"Synced {results.courses} courses, {results.assignments} assignments "
        f"({results.rows_written} rows changed)."
    )


def summary_lines(results: SyncResult, user_id: int) -> list[str]:
    """The summary block logged at the end of a sync, between separator lines."""
    timings = results.timings
    lines = [
        SEPARATOR,
        f"Canvas sync {results.status} for user {user_id} "
        f"({results.kind}, plan {results.plan}) in {results.duration_s:.2f} s",
        RULE,
        f"Courses:      {results.courses} of {results.courses_total} "
        f"(written {results.courses_written}, unchanged {results.courses_unchanged}, "
        f"concluded not fetched {results.courses_concluded_skipped}, "
        f"skipped {results.courses_skipped}, deleted {results.courses_deleted})",
        f"Assignments:  {results.assignments} (junk items skipped {results.items_skipped})",
        f"Database:     {results.rows_written} rows written, "
        f"{results.db_statements} statements "
        f"(at most {results.db_statements_max_per_course} per course)",
        f"Requests:     {results.requests} (throttled {results.throttled}, "
        f"retries {results.retries})",
        "Timings:      " + ", ".join(f"{k} {v:.2f}" for k, v in sorted(timings.items())),
    ]
    if results.error:
        lines.append(f"Error:        {results.error}")
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


COUNTERS = ("requests", "throttled", "retries")


class SyncMeter:
    """What one sync costs: its SQL statements and the client's requests since it started."""

    def __init__(self, client: object) -> None:
        self._client = client
        self._counter = StatementCounter()
        self._start = self._absolute()

    def _absolute(self) -> dict[str, int]:
        if not isinstance(self._client, MeasuredClient):
            return dict.fromkeys(COUNTERS, 0)
        stats = self._client.stats
        return {name: int(getattr(stats, name)) for name in COUNTERS}

    def client_counts(self) -> dict[str, int]:
        now = self._absolute()
        return {name: now[name] - self._start[name] for name in COUNTERS}

    def statements(self) -> int:
        return self._counter.count

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Statements sent meanwhile (a progress listener's own) are not the sync's."""
        self._counter.pause()
        try:
            yield
        finally:
            self._counter.resume()

    def close(self) -> None:
        self._counter.close()
