"""A sync's progress reports: phases and course steps, as data, to the caller's callback.

The engine and the per-course work say where they are through one :class:`Reporter`; what the
callback does with it (a CLI bar, the run's row) is the caller's business, and its database
work is not counted as the sync's (:meth:`app.sync.progress.SyncMeter.paused`).
"""

from __future__ import annotations

from app.extensions import db
from app.sync.parse import CourseData
from app.sync.progress import SyncMeter
from app.sync.result import CourseStep, ProgressCallback, RunStats, SyncProgress


class Reporter:
    """Turns one sync's counters into :class:`SyncProgress` reports (none without a callback)."""

    def __init__(self, callback: ProgressCallback | None, connection_id: int, run: RunStats,
                 meter: SyncMeter) -> None:
        self._callback = callback
        self._connection_id = connection_id
        self._run = run
        self._meter = meter

    def step(self, course: CourseData, index: int, assignments: int = 0,
             rows_written: int = 0) -> CourseStep:
        """Course ``index`` of this connection's total, as data."""
        return CourseStep(
            connection_id=self._connection_id, course_id=course.canvas_course_id,
            name=course.name, index=index, total=self._run.courses_total,
            assignments=assignments, rows_written=rows_written,
        )

    def report(self, phase: str, message: str, step: CourseStep | None = None) -> None:
        """Tell the callback where the sync is (``checkpoint``: no course transaction open)."""
        if self._callback is None:
            return
        run = self._run
        progress = SyncProgress(
            phase=phase,
            courses_done=run.courses_done,
            courses_total=run.courses_total,
            message=message,
            requests=self._meter.client_counts()["requests"],
            checkpoint=not db.session().in_transaction(),
            step=step,
        )
        # The callback is the caller's code (a CLI bar, the jobs layer's row writer); it must
        # not see its own database work counted as the sync's.
        with self._meter.paused():
            self._callback(progress)

    def idle(self) -> None:
        """The sync is about to wait for Canvas: a callback that holds steps back to write
        them less often (its ``flush``, e.g. :meth:`app.jobs.runs.RunProgressWriter.flush`)
        writes the newest one now, so a watched row is never behind while nothing happens."""
        flush = getattr(self._callback, "flush", None)
        if flush is None or db.session().in_transaction():
            return
        with self._meter.paused():
            flush()
