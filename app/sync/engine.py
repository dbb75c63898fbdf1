"""CanvasSyncService: turn a student's Canvas gradebook into rows, exactly and fast.

Usage::

    service = create_canvas_sync_service(user)                 # client from the stored token
    results = service.sync_all_data()                          # full
    results = service.sync_all_data(use_incremental=True)      # incremental
    results = service.sync_course_data(course_id=123)          # one course (local id)

Fetch plan
----------
The course list once (``include[]=term`` brings the terms, ``total_scores`` the course
scores). Then every readable course at once on a thread pool (the client's per-token limiter
decides how many requests are really in flight). The courses already in the database are
requested right behind the course list instead of after it (saving a round trip); only data
of courses the list confirms is written, and a course dropped meanwhile costs one wasted
request whose error is ignored. ONE request per course:
``assignment_groups?include[]=assignments&include[]=submission`` carries groups, weights, drop
rules, every published assignment and the student's own submission. The original design's
three requests per course (assignments, groups, bulk submissions) remain as ``plan="three"``;
``sync_course_data()`` uses them, concurrently. Date-restricted courses are skipped and
reported; their rows, if any, are kept (the student is still enrolled). Courses missing from
the list (dropped) are deleted with their groups and assignments.

Writing
-------
Worker threads only do HTTP and hand back the JSON. The calling thread is the only writer (one
session per thread): as each course's data arrives it is parsed (``canvas_parse``) and written
in bulk (``upserts``, by the steps in ``sync_writer``) in ONE transaction per course, so
writing overlaps fetching and a course is always either its old version or its new one. A
course takes a handful of statements:
course row (only if it changed), groups upsert, assignments upsert (per 500 rows), and only
when something vanished, a delete of the vanished assignments and one of the vanished groups
(what the database holds is read once at the start: four reads per sync). The upserts only
touch rows whose data changed, so a second sync of unchanged data writes zero rows. The
first Canvas or database error stops the sync: finished courses stay committed, the others
are untouched, and the results carry ``status: "failed"`` and a one-line message for a person.

Incremental sync (``use_incremental=True``) and why it is never wrong
---------------------------------------------------------------------
Canvas's REST API has no ``updated_since`` anywhere, and the only delta filters
(``graded_since``/``submitted_since`` on submissions) miss real changes: a grade entered before
the last sync but *posted* after it keeps its old ``graded_at``; deleted or unpublished
assignments simply vanish; weights, drop rules and course names carry no timestamp at all. A
sync built on them drifts silently. So the incremental sync asks for everything that can
change, but as cheaply as Canvas allows, and skips the *writing* when nothing changed:

1. The course list is always fetched (pages of 100): renames, scores, conclusions, new and
   dropped courses all come from it.
2. For each active course, the same single gradebook request as a full sync. Its normalized
   rows are hashed (SHA-256 over the parsed groups and assignments, with a parser version);
   when the hash equals ``course.content_hash`` from the last write, nothing is written for
   the gradebook. Otherwise the bulk upserts run, and they only touch rows that differ. Since
   the hash covers exactly what is stored, equal hashes mean equal rows: the result is always
   what a full sync would have written.
3. A course whose enrollment is concluded, and whose stored row was already written while it
   was concluded (``course.concluded`` true), gets no request at all: a concluded course is
   read-only for the student's teachers, so its gradebook is final. Its course-list fields
   (name, scores) are still refreshed from the course list. The limit: an administrator can
   still change grades in a concluded course without reopening it; only a full sync (what
   ``flask canvas sync`` does without ``--incremental``) sees that. Reopening the course
   makes it active again, and it is fetched.

A no-change incremental sync therefore costs the course-list pages plus at most one request per
active course, and writes nothing. ``user.last_canvas_sync_at`` records each successful sync.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import SQLAlchemyError

from app.canvas.errors import CanvasError, NotFound, NotPermitted
from app.extensions import db
from app.models import SyncRun, User, utcnow
from app.sync.parse import (
    CourseData,
    CourseList,
    parse_course_list,
    parse_gradebook,
)
from app.sync.progress import (
    ProgressCallback,
    ProgressReporter,
    RunStats,
    StatementCounter,
    SyncProgress,
    done_message,
    summary_lines,
)
from app.sync.upserts import COURSE, delete_absent
from app.sync.writer import SyncWriter

__all__ = [
    "CanvasSyncService",
    "ProgressCallback",
    "SyncProgress",
    "create_canvas_sync_service",
]

logger = logging.getLogger(__name__)

DEFAULT_WORKERS = 16

# What each plan fetches per course.
PLANS: dict[str, tuple[str, ...]] = {
    "one": ("gradebook",),
    "three": ("groups", "assignments", "submissions"),
}
NOT_CONNECTED = "Canvas is not connected: add your Canvas URL and access token in Settings."


class CanvasSyncService(SyncWriter):
    """Syncs one user's Canvas data into the database (see the module docstring)."""

    def __init__(
        self,
        user_id: int,
        client: Any,
        *,
        progress: ProgressCallback | None = None,
        sync_run_id: int | None = None,
        owns_client: bool = False,
        setup_error: str | None = None,
        workers: int = DEFAULT_WORKERS,
    ) -> None:
        self.user_id = user_id
        self.client = client
        self.workers = workers
        self._progress = progress
        self._sync_run_id = sync_run_id
        self._owns_client = owns_client
        self._setup_error = setup_error
        self._run = RunStats(kind="full", plan="one")
        self._stats0: dict[str, int] = {}
        self._reset_state()
        self._counter: StatementCounter | None = None
        self._reporter: ProgressReporter | None = None

    # --- public API -------------------------------------------------------------------------

    def sync_all_data(self, use_incremental: bool = False, *, plan: str = "one") -> dict[str, Any]:
        """Sync every course; returns the results dict (never raises for Canvas failures)."""
        if plan not in PLANS:
            raise ValueError(f"unknown fetch plan {plan!r}; use one of {sorted(PLANS)}")
        kind = "incremental" if use_incremental else "full"
        return self._guarded(kind, plan, lambda: self._sync_all(use_incremental, plan))

    def sync_course_data(self, course_id: int, *, plan: str = "three") -> dict[str, Any]:
        """Sync one course, given by its local id, with its requests in parallel."""
        if plan not in PLANS:
            raise ValueError(f"unknown fetch plan {plan!r}; use one of {sorted(PLANS)}")
        return self._guarded("course", plan, lambda: self._sync_one(course_id, plan))

    # --- orchestration ----------------------------------------------------------------------

    def _guarded(self, kind: str, plan: str, body: Callable[[], None]) -> dict[str, Any]:
        """Run ``body`` with counters, progress and clean failure handling around it."""
        self._run = RunStats(kind=kind, plan=plan)
        self._stats0 = self._client_stats()
        engine = db.engine
        self._counter = StatementCounter()
        self._reporter = ProgressReporter(
            engine, callback=self._progress, sync_run_id=self._sync_run_id, counter=self._counter
        )
        try:
            if self._setup_error:
                raise _SyncFailed(self._setup_error)
            self._report("connecting", "Connecting to Canvas…")
            body()
        except CanvasError as exc:
            db.session.rollback()
            self._run.error = _one_line(exc.message or str(exc))
            logger.warning("sync for user %s failed: %s", self.user_id, self._run.error)
        except _SyncFailed as exc:
            db.session.rollback()
            self._run.error = str(exc)
            logger.warning("sync for user %s failed: %s", self.user_id, self._run.error)
        except SQLAlchemyError as exc:
            db.session.rollback()
            logger.exception("sync for user %s: database error", self.user_id)
            self._run.error = _one_line(
                f"The database refused the sync's changes ({type(exc).__name__}); the courses "
                "already saved are kept; try again, and report it if it keeps happening."
            )
        except BaseException as exc:  # a bug or an interrupt: roll back, report, re-raise
            db.session.rollback()
            self._run.error = _one_line(f"The sync stopped unexpectedly ({type(exc).__name__}).")
            raise
        finally:
            results = self._results()
            self._log_summary(results)
            try:
                self._report("done", done_message(results))
            finally:
                self._reporter.close()
                self._counter.close()
                if self._owns_client:
                    self._close_client()
        return results

    def _warm_start_limiter(self) -> None:
        """Let the first burst use the whole bucket when the database says it has drained.

        The last activity on the token is the later of the last successful sync's start and
        the end of the user's last recorded run. Only one sync per user runs at a time, so a
        token idle for longer than the bucket's drain time has an empty bucket.
        """
        limiter = getattr(self.client, "limiter", None)
        if limiter is None:
            return
        last_run_end = (
            select(func.max(SyncRun.finished_at))
            .where(SyncRun.user_id == self.user_id)
            .scalar_subquery()
        )
        row = db.session.execute(
            select(User.last_canvas_sync_at, last_run_end).where(User.id == self.user_id)
        ).first()
        seen = [t for t in (row or ()) if t is not None]
        if not seen or (utcnow() - max(seen)).total_seconds() > 2 * limiter.drain_seconds:
            limiter.assume_drained()

    def _sync_all(self, incremental: bool, plan: str) -> None:
        run = self._run
        t0 = time.monotonic()
        self._load_existing()
        self._warm_start_limiter()
        run.add_time("prepare_s", time.monotonic() - t0)
        with _FetchPool(self.workers) as pool:
            # The course list goes first; the gradebooks of the courses we already know are
            # requested alongside it instead of one round trip later (module docstring).
            list_future = pool.submit(self.client.get_courses)
            prefetched = self._prefetch(pool, plan, incremental)
            course_list = self._fetch_course_list(list_future)
            t0 = time.monotonic()
            self._apply_course_list(course_list)
            run.add_time("prepare_s", time.monotonic() - t0)

            to_fetch: list[CourseData] = []
            for course in course_list.courses:
                if incremental and self._final(course):
                    # Written while already concluded: the gradebook is final.
                    self._sync_course(course, flush=False)
                    run.courses_concluded_skipped += 1
                    run.courses_done += 1
                    logger.info(
                        "[%d/%d] Syncing course: %s (concluded: course list only)",
                        run.courses_done,
                        run.courses_total,
                        course.name,
                    )
                else:
                    to_fetch.append(course)
            if self._pending_courses:
                self._flush_courses()
                db.session.commit()
            self._fetch_and_write(pool, to_fetch, plan, incremental, prefetched)
            pool.succeeded = True
        db.session.execute(
            update(User).where(User.id == self.user_id).values(last_canvas_sync_at=run.started_at)
        )
        db.session.commit()

    def _final(self, course: CourseData) -> bool:
        """Concluded now, and stored by a sync that already saw it concluded."""
        stored = self._courses.get(course.canvas_course_id)
        return bool(course.concluded and stored and stored["concluded"] and stored["content_hash"])

    def _prefetch(
        self, pool: _FetchPool, plan: str, incremental: bool
    ) -> dict[tuple[int, str], Future[Any]]:
        """Request the gradebooks of the stored courses the sync will most likely need.

        Only data of courses that the course list then confirms is ever written; a course
        dropped meanwhile costs one wasted request, and its error is ignored.
        """
        prefetched: dict[tuple[int, str], Future[Any]] = {}
        for canvas_course_id, stored in self._courses.items():
            if incremental and stored["concluded"] and stored["content_hash"]:
                continue  # probably still concluded: no request unless the list says otherwise
            for part in PLANS[plan]:
                prefetched[(canvas_course_id, part)] = pool.submit(
                    self._fetch_part, canvas_course_id, part
                )
        return prefetched

    def _sync_one(self, course_id: int, plan: str) -> None:
        run = self._run
        self._warm_start_limiter()
        canvas_course_id = db.session.scalar(
            select(COURSE.c.canvas_course_id).where(
                COURSE.c.id == course_id, COURSE.c.user_id == self.user_id
            )
        )
        db.session.commit()
        if canvas_course_id is None:
            raise _SyncFailed(f"Course {course_id} does not exist (or is not yours).")
        self._load_existing()
        course_list = self._fetch_course_list()
        run.courses_total = 1
        course = next(
            (c for c in course_list.courses if c.canvas_course_id == canvas_course_id), None
        )
        if canvas_course_id in course_list.restricted:
            self._skip(canvas_course_id, None, "restricted by date")
            return
        if course is None and course_list.invalid:
            raise _SyncFailed("Canvas sent an unreadable course list; try again later.")
        if course is None:
            # Not in the list: the student was dropped from it; it goes, like in a full sync.
            run.courses_deleted += delete_absent(
                db.session,
                COURSE,
                scope={"user_id": self.user_id, "id": course_id},
                key="canvas_course_id",
                keep=(),
            )
            db.session.commit()
            logger.info("course %s is no longer in the course list: deleted", canvas_course_id)
            return
        self._find_or_create_term(course.term, flush=True)
        db.session.commit()
        self._sync_course_assignments(course, plan=plan)

    def _fetch_course_list(self, future: Future[Any] | None = None) -> CourseList:
        """The course list, parsed; ``future`` is a request already on its way."""
        self._report("courses", "Fetching the course list…")
        t0 = time.monotonic()
        raw = future.result() if future is not None else self.client.get_courses()
        course_list = parse_course_list(raw)
        self._run.add_time("course_list_s", time.monotonic() - t0)
        self._run.items_skipped += course_list.invalid
        logger.info(
            "course list: %d readable, %d restricted by date",
            len(course_list.courses),
            len(course_list.restricted),
        )
        return course_list

    def _apply_course_list(self, course_list: CourseList) -> None:
        """Terms, dropped courses and restricted courses: one short transaction."""
        run = self._run
        run.courses_total = len(course_list.courses)
        for canvas_course_id in course_list.restricted:
            self._skip(canvas_course_id, self._courses.get(canvas_course_id), "restricted by date")
        for course in course_list.courses:
            self._find_or_create_term(course.term, flush=False)
        self._flush_terms()
        dropped = set(self._courses) - course_list.enrolled_ids
        if dropped and course_list.invalid:
            # Unreadable entries might be the "missing" courses: deleting would be a guess.
            logger.warning("course list had junk entries; not deleting %d courses", len(dropped))
        elif dropped:
            run.courses_deleted = delete_absent(
                db.session,
                COURSE,
                scope={"user_id": self.user_id},
                key="canvas_course_id",
                keep=course_list.enrolled_ids,
            )
            for canvas_course_id in dropped:
                logger.info("course %s was dropped in Canvas: deleted", canvas_course_id)
                stored = self._courses.pop(canvas_course_id)
                self._groups.pop(stored["id"], None)
                self._assignment_keys.pop(stored["id"], None)
        db.session.commit()

    def _skip(self, canvas_course_id: int, stored: dict[str, Any] | None, reason: str) -> None:
        name = stored["name"] if stored else f"course {canvas_course_id}"
        logger.info("skipping %s (%s): kept as last synced", name, reason)
        self._run.skipped.append({"canvas_course_id": canvas_course_id, "reason": reason})

    # --- fetching ---------------------------------------------------------------------------

    def _fetch_part(self, canvas_course_id: int, part: str) -> Any:
        """One HTTP request's JSON (runs on a worker thread: no database, no session).

        The one-request plan's gradebook is also parsed and hashed here, into plain rows: that
        CPU work then overlaps other requests instead of queueing in the single writer.
        """
        if part == "gradebook":
            gradebook = parse_gradebook(
                canvas_course_id,
                self.client.get_assignment_groups(
                    canvas_course_id, include_assignments=True, include_submission=True
                ),
            )
            gradebook.content_hash  # noqa: B018 - computed (and cached) on this thread
            return gradebook
        if part == "groups":
            return self.client.get_assignment_groups(
                canvas_course_id, include_assignments=False, include_submission=False
            )
        if part == "assignments":
            return self.client.get_assignments(canvas_course_id)
        if part == "submissions":
            return self.client.get_submissions(canvas_course_id)
        raise ValueError(f"unknown part {part!r}")

    def _fetch_and_write(
        self,
        pool: _FetchPool,
        courses: list[CourseData],
        plan: str,
        incremental: bool,
        prefetched: dict[tuple[int, str], Future[Any]] | None = None,
    ) -> None:
        """Fetch every course concurrently; write each one as soon as all its parts are in."""
        if not courses:
            return
        run = self._run
        parts = PLANS[plan]
        prefetched = prefetched or {}
        self._report("fetching", f"Fetching {len(courses)} courses…")
        t0 = time.monotonic()
        futures: dict[Future[Any], tuple[CourseData, str]] = {}
        received: dict[int, dict[str, Any]] = {c.canvas_course_id: {} for c in courses}
        for course in courses:
            for part in parts:
                future = prefetched.get((course.canvas_course_id, part))
                if future is None:
                    future = pool.submit(self._fetch_part, course.canvas_course_id, part)
                futures[future] = (course, part)
        order = {future: index for index, future in enumerate(futures)}
        pending = set(futures)
        try:
            while pending:
                t_wait = time.monotonic()
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                run.add_time("wait_s", time.monotonic() - t_wait)
                # Successes first, in request order: every course whose data arrived is
                # saved before a failure that arrived with it stops the sync.
                for future in sorted(done, key=lambda f: (f.exception() is not None, order[f])):
                    course, part = futures[future]
                    got = received.get(course.canvas_course_id)
                    if got is None:  # the course was skipped because another part failed
                        continue
                    try:
                        got[part] = future.result()
                    except (NotFound, NotPermitted) as exc:
                        # Gone or closed since the course list was read: keep its old rows.
                        del received[course.canvas_course_id]
                        self._skip(course.canvas_course_id, None, _one_line(exc.message))
                        run.courses_done += 1
                        continue
                    if len(got) == len(parts):
                        del received[course.canvas_course_id]
                        self._write_course(course, got, plan, incremental)
        finally:
            run.add_time("fetch_s", time.monotonic() - t0)

    # --- writing ----------------------------------------------------------------------------

    def _write_course(
        self, course: CourseData, parts: dict[str, Any], plan: str, incremental: bool
    ) -> None:
        """Parse one course's JSON and write it in one transaction."""
        run = self._run
        index = run.courses_done + 1
        message = f"[{index}/{run.courses_total}] Syncing course: {course.name}"
        logger.info("%s", message)
        t0 = time.monotonic()
        statements0 = self._counter.count if self._counter else 0
        cid = course.canvas_course_id
        if plan == "one":
            gradebook = parts["gradebook"]  # parsed by the worker that fetched it
        else:
            gradebook = parse_gradebook(
                cid, parts["groups"], parts["assignments"], parts["submissions"]
            )
        run.items_skipped += gradebook.skipped
        run.assignments += len(gradebook.assignments)
        digest = gradebook.content_hash
        stored = self._courses.get(cid)
        # Incremental: an equal digest means equal rows, so the gradebook is not even upserted.
        same = incremental and stored is not None and stored["content_hash"] == digest
        rows0 = run.rows_written
        try:
            course_id = self._sync_course(course, content_hash=digest, flush=True)
            if course_id is None:
                raise _SyncFailed(f"Could not save course {course.name!r}.")
            if not same:
                self._write_gradebook(course_id, gradebook)
            db.session.commit()
        except BaseException as exc:  # a bug or an interrupt: roll back, report, re-raise
            db.session.rollback()
            self._run.error = _one_line(f"The sync stopped unexpectedly ({type(exc).__name__}).")
            raise
        if run.rows_written > rows0:
            run.courses_written += 1
        else:
            run.courses_unchanged += 1
        run.statements_per_course.append(
            (self._counter.count if self._counter else 0) - statements0
        )
        run.add_time("write_s", time.monotonic() - t0)
        run.courses_done += 1
        self._report("writing", message)

    def _sync_course_assignments(self, course: CourseData, *, plan: str = "three") -> None:
        """Fetch one course's groups, assignments and submissions concurrently, and write them.

        The course's term must already be known (``_find_or_create_term``).
        """
        with _FetchPool(len(PLANS[plan])) as pool:
            self._fetch_and_write(pool, [course], plan, incremental=False)
            pool.succeeded = True

    # --- progress, stats and results --------------------------------------------------------

    def _client_stats(self) -> dict[str, int]:
        stats = getattr(self.client, "stats", None)
        return {
            name: int(getattr(stats, name, 0) or 0) for name in ("requests", "throttled", "retries")
        }

    def _stat(self, name: str) -> int:
        return self._client_stats()[name] - self._stats0.get(name, 0)

    def _report(self, phase: str, message: str) -> None:
        if self._reporter is None:
            return
        run = self._run
        progress = SyncProgress(
            phase=phase,
            courses_done=run.courses_done,
            courses_total=run.courses_total,
            message=message,
            requests=self._stat("requests"),
        )
        # Never write the progress row while a course transaction is open (see sync_progress).
        self._reporter.report(progress, store=not db.session().in_transaction())

    def _results(self) -> dict[str, Any]:
        return self._run.results(
            statements=self._counter.count if self._counter else 0,
            client={name: self._stat(name) for name in ("requests", "throttled", "retries")},
        )

    def _log_summary(self, results: dict[str, Any]) -> None:
        for line in summary_lines(results, self.user_id):
            logger.info("%s", line)

    def _close_client(self) -> None:
        close = getattr(self.client, "close", None)
        if close is not None:
            close()


class _FetchPool(ThreadPoolExecutor):
    """The HTTP worker threads of one sync.

    On the way out after a failure it does not sit through the other requests' retries and
    back-offs: queued requests are cancelled and those in flight end on their own.
    """

    def __init__(self, workers: int) -> None:
        super().__init__(max_workers=max(1, workers), thread_name_prefix="canvas-fetch")
        self.succeeded = False

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown(wait=self.succeeded, cancel_futures=True)


class _SyncFailed(Exception):
    """An expected failure that is not Canvas's (no credentials, unknown course)."""


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def create_canvas_sync_service(
    user: User,
    *,
    progress: ProgressCallback | None = None,
    sync_run_id: int | None = None,
    client: Any = None,
    workers: int = DEFAULT_WORKERS,
) -> CanvasSyncService:
    """A sync service for ``user``; builds a Canvas client from the stored credentials.

    A user without credentials still gets a service: its syncs fail with a clear message.
    """
    setup_error = None
    owns_client = client is None
    if client is None:
        from app.accounts import get_canvas_token, outbound_policy
        from app.canvas.client import CanvasAPIService

        try:
            token = get_canvas_token(user)
            if not user.canvas_base_url or not token:
                setup_error = NOT_CONNECTED
            else:
                client = CanvasAPIService(user.canvas_base_url, token, policy=outbound_policy())
        except ValueError as exc:  # a token the current key cannot decrypt, a bad URL
            setup_error = _one_line(f"Canvas is not usable: {exc}.")
    return CanvasSyncService(
        user.id,
        client,
        progress=progress,
        sync_run_id=sync_run_id,
        owns_client=owns_client and client is not None,
        setup_error=setup_error,
        workers=workers,
    )
