"""The per-course work of a sync: the chosen courses' gradebooks fetched at once, each one
written in ONE transaction as soon as it arrives (unchanged bytes or rows: not written).

A course gone or closed since the list was read keeps its old rows (skipped); anything else
that fails stops the sync (:mod:`app.sync.failures`).
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future
from dataclasses import dataclass

from app.canvas.errors import NotFound, NotPermitted
from app.canvas.protocol import CanvasClient
from app.extensions import db
from app.sync.digest import Unparsed, prepare
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
        *, announce: bool = True,
    ) -> None:
        """Fetch every course concurrently; write each one as soon as its gradebook is in
        (``announce``: report the "fetching" phase first)."""
        if not courses:
            return
        run = self.run
        prefetched = prefetched or {}
        if announce:
            self.reporter.report("fetching", f"Fetching {len(courses)} courses…")
        t0 = time.monotonic()
        try:
            for course, got in arrivals(pool, self.client, courses, prefetched, run,
                                        self.writer.courses if incremental else {},
                                        self.schemes.pending, self.reporter.idle):
                if isinstance(got, NotFound | NotPermitted):
                    # Gone or closed since the course list was read: keep its old rows.
                    skip_course(run, course.canvas_course_id, None, " ".join(got.message.split()))
                    run.courses_done += 1
                    continue
                self.write_course(course, got, incremental)
        finally:
            run.add_time("fetch_s", time.monotonic() - t0)

    def write_course(self, course: CourseData, got: Gradebook | Unparsed,
                     incremental: bool) -> None:
        """Write one course's gradebook in one transaction (unchanged bytes: no parse)."""
        run, writer = self.run, self.writer
        index = run.courses_done + 1
        logger.info("%s", step_line(self.reporter.step(course, index)))
        t0 = time.monotonic()
        statements0 = self.meter.statements()
        stored = writer.courses.get(course.canvas_course_id)
        course = self.schemes.resolve(course, stored)
        # The grade check and both digests go into the course row's own write; incremental,
        # an equal digest means equal rows, so the gradebook is not even upserted.
        prepared = prepare(got, stored, course, incremental)
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
