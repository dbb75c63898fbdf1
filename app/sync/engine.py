"""CanvasSyncService: turn a student's Canvas gradebook into rows, exactly and fast.

This module holds the plan (below) and the orchestration of a sync: the course lists, then
the gradebooks. The rest is split by concern: the per-course work (fetch, then one
transaction per course) is :mod:`app.sync.course_work`, the one-course sync
:mod:`app.sync.one_course`, the progress reports :mod:`app.sync.reporter`, how a failure
ends a sync :mod:`app.sync.failures`.

Usage::

    service = CanvasSyncService(user.id, client, connection_id=connection.id)
    results = service.sync_all_data()                          # full
    results = service.sync_all_data(use_incremental=True)      # incremental
    results = service.sync_course_data(course_id=123)          # one course (local id)

The client is built outside the engine, from one of the user's stored connections
(:func:`app.connections.create_canvas_sync_service` does both); the engine reads and writes
that connection's terms and courses only. Results are a :class:`~app.sync.result.SyncResult`;
progress goes to the ``progress`` callback only (``sync_run`` is :mod:`app.jobs`'s to write).

Fetch plan
----------
The course lists first (:mod:`app.sync.lists`; ``include[]=term`` brings the terms,
``total_scores`` the scores): no one list holds every course of a student. The default list
has the current courses and those over by date; ``state[]=completed`` the courses a teacher
concluded; ``/users/self/enrollments?state[]=current_and_concluded&type[]=StudentEnrollment``
every enrollment with Canvas's ``grades``, the only list with one the registrar completed in a
course still available. The first sync, every full sync and the day's sweep send the three at
once; a course only the enrollments list holds is read with ``GET /courses/:id`` (whose
``"enrollments": []`` leaves its scores to the enrollment's ``grades``). Then every readable
course at once on a thread pool (the client's per-token limiter decides how many requests are
really in flight); the stored courses are requested right behind the lists (saving a round
trip): only data of courses a list confirms is written, and a course dropped meanwhile costs
one wasted request whose error is ignored. ONE request per course:
``assignment_groups?include[]=assignments&include[]=submission`` carries groups, weights, drop
rules, every published assignment and the student's own submission (a course whose last
written gradebook held ``fetch.SPLIT_AT`` assignments or more comes instead as the groups alone
beside ``/assignments?include[]=submission`` pages, joined into the same rows:
:func:`app.sync.fetch.fetch_split`, so the biggest course does not set the critical path);
``sync_course_data()`` (:mod:`app.sync.one_course`)
fetches the course itself (``GET /courses/:id``) beside it, keeping the stored scores when it
answers ``"enrollments": []``. The lists bring each course's current-period score; period
weights and close dates (``/grading_periods``) and a grading scheme cost a request each, only
when they may have changed (:mod:`app.sync.periods`). The grade check (ours vs Canvas's,
:mod:`app.grades.check`) goes into the course row's own write. Date-restricted courses are
skipped and reported, their rows kept (the student is still enrolled). A stored course in none
of the three lists is deleted only when Canvas confirms (:mod:`app.sync.courses`), otherwise
kept and marked ``missing_since`` (the dashboard shows since when). In requests, with lists of
up to 100 courses: 3 + one per readable course + one per course only the enrollments list
holds (+ one per course in no list, + periods and schemes that may have changed).

Writing
-------
The calling thread is the only writer: as each course's gradebook arrives it is written in ONE
transaction per course (see :mod:`app.sync.writer` for the statements), so writing overlaps
fetching and a course is always either its old version or its new one. On a big account the
writer, not Canvas, is the sync's critical path, so it is kept busy: each course's scheme and
period requests go to the pool right before its gradebook (they arrive together); the writer
takes whichever course has all of its answers in (:func:`app.sync.fetch.arrivals`), never
waiting on one course while others are ready; the courses only the enrollments list holds are
asked for behind the listed ones and read while those are written
(:func:`app.sync.plan.apply_later`); and the run's row stores course steps a few times a
second (:class:`app.jobs.runs.RunProgressWriter`). The first Canvas or
database error stops the sync: finished courses stay committed, the others are untouched, and
the result is ``failed`` with a one-line message for a person.

Incremental sync (``use_incremental=True``) and why it is never wrong
---------------------------------------------------------------------
Canvas's REST API has no ``updated_since`` anywhere, and the only delta filters
(``graded_since``/``submitted_since`` on submissions) miss real changes: a grade entered before
the last sync but *posted* after it keeps its old ``graded_at``; deleted or unpublished
assignments simply vanish; weights, drop rules and course names carry no timestamp at all. A
sync built on them drifts silently. So the incremental sync asks for everything that can
change, but as cheaply as Canvas allows, and skips the *writing* when nothing changed:

1. The default course list is always fetched: renames, scores, date conclusions, new courses
   come from it. The other two are read only when a course stored as current has left it (the
   teacher or the registrar ended it, or it was dropped: they tell which), one round trip
   later, and in the day's sweep (:func:`app.sync.lists.sweep_due`): the connection's first
   sync of each UTC day (the scheduler's first run) reads all three lists and every concluded
   course, as a full sync does, but still writes only what changed.
2. For each active course, the same single gradebook request as a full sync. Raw bytes
   equal to those the stored rows were parsed from (``course.response_digest``) are not even
   parsed: the stored hash and grade check stand (:mod:`app.sync.digest`, which says when).
   Otherwise its normalized rows are hashed (SHA-256 over the parsed groups and assignments,
   with a parser version);
   when the hash equals ``course.content_hash`` from the last write, nothing is read or
   written for the gradebook. Otherwise its stored rows are read and the bulk upserts run,
   touching only rows that differ. The hash covers exactly what is stored, so equal hashes
   mean equal rows: the result is always what a full sync would have written.
3. Concluded courses are refetched while Canvas can still change them. Concluded by date
   (or an enrollment the registrar completed) is not frozen: teachers keep grading after the
   term's end. Such a course is fetched whenever Canvas's scores or states in a list read
   (current/final score, current grade, course and enrollment state) differ from what we
   stored with its last gradebook, and, when those scores are hidden or empty, for
   ``app.sync.courses.REFETCH_WINDOW`` (60 days) after its end. A teacher-concluded or
   registrar-completed course is in no list this sync reads until the sweep. The first sync
   that sees a course concluded always fetches it. The limit: a change that moves none of
   Canvas's scores (an assignment renamed, a regrade that leaves the totals equal, a concluded
   course renamed) is seen by the next sweep, within a day, or by a full sync.

In requests: no change costs the default list's pages (one up to 100 courses) + one per active
course (not concluded; or over by date with scores that moved, or hidden within the window;
a split gradebook: 1 + one per 100 assignments), no writes, no grade maths. A course that
left the default list adds the two other lists, its gradebook and, registrar-completed, its
``GET /courses/:id``. The sweep costs a full sync's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from app.canvas.protocol import CanvasClient, MeasuredClient
from app.extensions import db
from app.models import utcnow
from app.sync.absent import settle_connection_absent
from app.sync.course_work import CourseWork
from app.sync.courses import submit_confirmations
from app.sync.failures import failures_recorded
from app.sync.fetch import FetchPool, prefetch, submit_gradebook, warm_start_limiter
from app.sync.lists import Listing, ListReader, sweep_due
from app.sync.one_course import sync_one_course
from app.sync.parse import CourseData
from app.sync.periods import SchemeFetcher
from app.sync.plan import apply_later, apply_listing, choose_gradebooks
from app.sync.progress import SyncMeter, done_message, summary_lines
from app.sync.reporter import Reporter
from app.sync.result import (
    ProgressCallback,
    RunStats,
    SyncOptions,
    SyncResult,
)
from app.sync.writer import CourseWriter

logger = logging.getLogger(__name__)


class CanvasSyncService:
    """Syncs one user's Canvas data into the database (see the module docstring)."""

    def __init__(
        self,
        user_id: int,
        client: CanvasClient,
        options: SyncOptions | None = None,
        *,
        connection_id: int,
        sync_run_id: int | None = None,
        progress: ProgressCallback | None = None,
        owns_client: bool = False,
    ) -> None:
        """``connection_id`` owns the rows; ``sync_run_id`` is stamped on the ledger's events
        (None: a sync without a run); ``owns_client``: close it."""
        self.user_id = user_id
        self.connection_id = connection_id
        self.sync_run_id = sync_run_id
        self._owns_client = owns_client
        self.client = client
        self.options = options or SyncOptions()
        self._progress = progress

    # --- public API -------------------------------------------------------------------------

    def sync_all_data(self, use_incremental: bool | None = None) -> SyncResult:
        """Sync every course; returns the result (never raises for Canvas failures).

        ``use_incremental`` overrides ``options.incremental`` for this call.
        """
        incremental = self.options.incremental if use_incremental is None else use_incremental
        kind = "incremental" if incremental else "full"
        return self._guarded(kind, lambda work: self._sync_all(work, incremental))

    def sync_course_data(self, course_id: int) -> SyncResult:
        """Sync one course, given by its local id (the course itself, then its gradebook)."""
        return self._guarded("course",
                             lambda work: sync_one_course(work, self.user_id, course_id))

    # --- orchestration ----------------------------------------------------------------------

    def _new_work(self, kind: str) -> CourseWork:
        """This call's counters, writer, meter and reporter (nothing kept from a last call)."""
        run = RunStats(kind=kind)
        meter = SyncMeter(self.client)
        return CourseWork(
            client=self.client,
            run=run,
            writer=CourseWriter(self.user_id, self.connection_id, run, self.sync_run_id),
            schemes=SchemeFetcher(self.client),
            meter=meter,
            reporter=Reporter(self._progress, self.connection_id, run, meter),
        )

    def _guarded(self, kind: str, body: Callable[[CourseWork], None]) -> SyncResult:
        """Run ``body`` with counters, progress and clean failure handling around it."""
        work = self._new_work(kind)
        run, meter = work.run, work.meter
        try:
            with failures_recorded(run, self.user_id):
                work.reporter.report("connecting", "Connecting to Canvas…")
                body(work)
        finally:
            result = run.result(statements=meter.statements(), client=meter.client_counts())
            for line in summary_lines(result, self.user_id):
                logger.info("%s", line)
            try:
                work.reporter.report("done", done_message(result))
            finally:
                meter.close()
                if self._owns_client and isinstance(self.client, MeasuredClient):
                    self.client.close()
        return result

    def _sync_all(self, work: CourseWork, incremental: bool) -> None:
        run, writer = work.run, work.writer
        t0 = time.monotonic()
        writer.load_existing(gradebooks=not incremental)  # incremental: per course (step 2)
        warm_start_limiter(self.client, writer)
        # The first sync, a full one, the day's sweep: every list and every concluded course.
        everything = not incremental or sweep_due(writer.last_synced_at, utcnow())
        run.add_time("prepare_s", time.monotonic() - t0)
        with FetchPool(self.options.workers) as pool:
            # The course lists go first; the gradebooks of the courses we already know are
            # requested alongside them, not a round trip later (docstring).
            reader = ListReader(pool, self.client, everything=everything)
            prefetched = prefetch(pool, self.client, writer.courses, not everything, incremental)
            listing = self._read_lists(work, reader)
            t0 = time.monotonic()
            absent = apply_listing(listing, writer, run)
            confirmations = submit_confirmations(pool, self.client, absent)
            run.add_time("prepare_s", time.monotonic() - t0)
            to_fetch = choose_gradebooks(listing.courses.courses, writer, run,
                                         everything=everything)
            if writer.pending_courses:
                writer.flush_courses()
                writer.flush_events()
                db.session.commit()
            # Each course's scheme and periods (only the changed ones) and then its gradebook,
            # course by course: the first courses are ready to write one round trip on.
            known = writer.courses if incremental else {}

            def send_gradebook(course: CourseData) -> None:
                cid = course.canvas_course_id
                if cid not in prefetched:
                    prefetched[cid] = submit_gradebook(pool, self.client, cid, known.get(cid))

            if to_fetch:  # said before the requests go out
                work.reporter.report("fetching", f"Fetching {len(to_fetch)} courses…")
            work.schemes.submit(pool, to_fetch, writer.courses, then=send_gradebook)
            reader.send_later(listing, prefetched)
            # The courses only the enrollments list shows are taken in between the listed
            # ones' writes as soon as Canvas has answered for them (their schemes and periods
            # then go out), never waited for before those writes.
            later: list[CourseData] | None = None

            def take_later(wait: bool = False) -> None:
                nonlocal later
                if later is None and (wait or all(f.done() for f in listing.later.values())):
                    later = apply_later(listing, reader, writer, run, everything=everything)
                    work.schemes.submit(pool, later, writer.courses)

            work.fetch_and_write(pool, to_fetch, incremental, prefetched, announce=False,
                                 between=take_later)
            take_later(wait=True)
            work.fetch_and_write(pool, later or [], incremental, prefetched,
                                 announce=not to_fetch)
            run.courses_deleted += settle_connection_absent(
                db.session, writer.connection_id, confirmations, writer.forget_course
            )
            pool.succeeded = True
        writer.record_synced(run.started_at)
        db.session.commit()

    def _read_lists(self, work: CourseWork, reader: ListReader) -> Listing:
        """The course lists (requests already on their way), parsed (:mod:`app.sync.lists`)."""
        work.reporter.report("courses", "Fetching the course list…")
        t0 = time.monotonic()
        listing = reader.read(work.writer.courses)
        work.run.add_time("course_list_s", time.monotonic() - t0)
        courses = listing.courses
        work.run.items_skipped += courses.invalid
        logger.info(
            "course lists (%s): %d readable, %d restricted by date, %d not as a student",
            "all three" if listing.complete else "the default one", len(courses.courses),
            len(courses.restricted), len(courses.not_student),
        )
        return listing
