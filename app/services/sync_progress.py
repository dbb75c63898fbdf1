"""Progress reporting for a sync: the callback, the ``sync_run`` row, and statement counting.

The ``sync_run`` row is updated on its *own* connection, in a short transaction of its own, so
that other processes (the web UI polling the run) see progress while the sync's course
transactions stay uncommitted until each course is complete. On SQLite only one connection can
write at a time, so the service reports between courses, never while a course transaction is
open (the writer would otherwise wait on itself).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from app.models import SyncRun

logger = logging.getLogger(__name__)

MAX_MESSAGE = 500


@dataclass
class SyncProgress:
    """What the CLI progress bar and the web UI show."""

    phase: str  # "connecting" | "courses" | "fetching" | "writing" | "done"
    courses_done: int
    courses_total: int
    message: str  # e.g. "[3/7] Syncing course: Économie 101"
    requests: int


ProgressCallback = Callable[[SyncProgress], None]


class StatementCounter:
    """Counts the SQL statements this sync's writer thread sends to the database.

    A ``before_cursor_execute`` listener on the engine, filtered on the writer's thread so that
    other requests served by the same process (and the progress connection) are not counted.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._thread = threading.get_ident()
        self._paused = False
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._on_execute)

    def _on_execute(self, *_args: Any, **_kwargs: Any) -> None:
        if not self._paused and threading.get_ident() == self._thread:
            self.count += 1

    def pause(self) -> None:
        self._paused = True

    def resume(self) -> None:
        self._paused = False

    def close(self) -> None:
        if event.contains(self._engine, "before_cursor_execute", self._on_execute):
            event.remove(self._engine, "before_cursor_execute", self._on_execute)


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
