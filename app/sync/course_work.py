"""The per-course work of a sync: the chosen courses' gradebooks fetched at once, each one
written in ONE transaction as soon as it arrives (unchanged bytes or rows: not written).

A course gone or closed since the list was read keeps its old rows (skipped); anything else
that fails stops the sync (:mod:`app.sync.failures`).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from app.canvas.errors import NotFound, NotPermitted
from app.canvas.protocol import CanvasClient
from app.extensions import db
from app.logs import with_request_id
from app.sync.digest import Prepared, Unparsed, prepare
from app.sync.fetch import FetchPool, arrivals
from app.sync.parse import CourseData, Gradebook
from app.sync.periods import SchemeFetcher
from app.sync.plan import skip_course
from app.sync.progress import SyncMeter, step_line
from app.sync.reporter import Reporter
from app.sync.result import ErrorKind, RunStats, SyncFailed
from app.sync.writer import CourseWriter

logger = logging.getLogger(__name__)


@dataclass
class CourseWork:
    """One sync's fetching and writing of gradebooks (one per engine call)."""

    client: CanvasClient
    run: RunStats
    writer: CourseWriter
    schemes: SchemeFetcher
    meter: SyncMeter
    reporter: Reporter

    def fetch_and_write(
        self,
        pool: FetchPool,
        courses: list[CourseData],
        incremental: bool,
        prefetched: dict[int, Future[Gradebook | Unparsed]] | None = None,
        *, announce: bool = True, between: Callable[[], None] = lambda: None,
    ) -> None:
        """Fetch every course concurrently; write each one as soon as its gradebook is in
        (``announce``: report the "fetching" phase first; ``between`` runs after each
        course's transaction and before each wait, when no transaction is open)."""
        if not courses:
            return
        run = self.run
        prefetched = prefetched or {}
        if announce:
            self.reporter.report("fetching", f"Fetching {len(courses)} courses…")
        t0 = time.monotonic()
        # The CPU part of a course's write (resolving its scheme and periods, the parse of
        # changed bytes, the grade check, the digests) runs on a thread of its own while the
        # writer waits for the database on the course before: on a big account the writer is
        # the sync's critical path (CANVAS_PERFORMANCE_TESTING.md, "Keeping the writer busy").
        # Courses are written in the order they were prepared, which is the order they were
        # ready in.
        queue: deque[tuple[CourseData, Future[Prepared]]] = deque()
        writes_failed = False

        def write_ready(wait: bool) -> None:
            nonlocal writes_failed
            while queue and (wait or queue[0][1].done()):
                course, prepared = queue.popleft()
                try:
                    self.write_course(course, prepared.result())
                except BaseException:
                    writes_failed = True  # a database (or parse) failure: nothing more
                    raise
                between()

        def idle() -> None:  # about to wait for Canvas: no course transaction open
            write_ready(wait=True)
            self.reporter.idle()
            between()

        with ThreadPoolExecutor(1, thread_name_prefix="sync-prepare") as preparer:
            try:
                for course, got in arrivals(pool, self.client, courses, prefetched, run,
                                            self.writer.courses if incremental else {},
                                            self.schemes.pending, idle):
                    if isinstance(got, NotFound | NotPermitted):
                        # Gone or closed since the course list was read: keep its old rows.
                        skip_course(run, course.canvas_course_id, None,
                                    " ".join(got.message.split()))
                        run.courses_done += 1
                        continue
                    queue.append((course, preparer.submit(
                        with_request_id(self.prepare), course, got, incremental)))
                    write_ready(wait=False)
            except BaseException:
                # Every course whose data arrived is written before a Canvas failure that
                # arrived with it stops the sync (app.sync.fetch.arrivals); after a failed
                # write, nothing more is written.
                if not writes_failed:
                    write_ready(wait=True)
                raise
            else:
                write_ready(wait=True)
            finally:
                run.add_time("fetch_s", time.monotonic() - t0)

    def prepare(self, course: CourseData, got: Gradebook | Unparsed,
                incremental: bool) -> Prepared:
        """The course's write, prepared (runs on the preparing thread): its scheme and
        periods, its grade check and digests; the rows themselves only when they changed."""
        stored = self.writer.courses.get(course.canvas_course_id)
        course = self.schemes.resolve(course, stored)
        # The grade check and both digests go into the course row's own write; incremental,
        # an equal digest means equal rows, so the gradebook is not even upserted.
        return prepare(got, stored, course, incremental)

    def write_course(self, course: CourseData, prepared: Prepared) -> None:
        """Write one prepared course in one transaction."""
        run, writer = self.run, self.writer
        index = run.courses_done + 1
        logger.info("%s", step_line(self.reporter.step(course, index)))
        t0 = time.monotonic()
        statements0 = self.meter.statements()
        stored = writer.courses.get(course.canvas_course_id)
        course, gradebook, digest, same = (prepared.course, prepared.gradebook,
                                           prepared.content_hash, prepared.same)
        run.items_skipped += gradebook.skipped
        run.assignments += len(gradebook.assignments)
        if stored is not None and not same:
            writer.load_course(stored["id"])
        rows0 = run.rows_written
        try:
            course_id = writer.sync_course(course, content_hash=digest, flush=True)
            if course_id is None:
                raise SyncFailed(f"Could not save course {course.name!r}.", ErrorKind.DATABASE)
            if not same:
                writer.write_gradebook(course_id, gradebook)
                writer.write_periods(course_id, course.periods)
            writer.flush_events()  # the ledger's rows, in the course's transaction
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
        if run.rows_written > rows0:
            run.courses_written += 1
        else:
            run.courses_unchanged += 1
        run.statements_per_course.append(self.meter.statements() - statements0)
        run.add_time("write_s", time.monotonic() - t0)
        run.courses_done += 1
        step = self.reporter.step(course, index, len(gradebook.assignments),
                                  run.rows_written - rows0)
        self.reporter.report("writing", step_line(step), step)
