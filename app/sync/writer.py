"""The writing half of the sync: database state, bulk upserts and deletes, one course at a time.

:class:`CourseWriter` belongs to one sync of one Canvas connection (the engine makes one per
sync). It runs in the one writer thread, in ``db.session``, and never commits: the engine owns
the transaction boundary (one per course). The steps keep the original design's names and their
``flush`` parameter: ``flush=False`` stages rows, ``flush=True`` writes them in one statement.

What the database holds for the connection is read once per sync (``load_existing``) and kept
current as rows are written, so the writer needs no lookups and only touches what differs. A
full sync reads everything at once (five reads); an incremental sync reads the terms and
courses, and a course's groups, assignments and periods (three reads) only when its gradebook
differs: most scheduled runs change no course and read none of a student's assignments.
The same state tells what changed: :mod:`app.sync.ledger` names each difference and the writer
inserts them as ``grade_event`` rows (``flush_events``, in the course's transaction), each
naming its run and connection. A connection's first sync is its baseline and records none.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from app.extensions import db
from app.models import SyncRun, utcnow
from app.sync.ledger import (
    ASSIGNMENT_LEDGER_FIELDS,
    SeenChange,
    assignment_changes,
    course_changes,
    insert_events,
    removed,
)
from app.sync.parse import CourseData, Gradebook
from app.sync.result import RunStats
from app.sync.upserts import (
    ASSIGNMENT,
    CONNECTION,
    COURSE,
    GROUP,
    PERIOD,
    TERM,
    delete_absent,
    upsert,
    upsert_assignments,
    upsert_courses,
    upsert_groups,
    upsert_terms,
)

logger = logging.getLogger(__name__)

LOG_EVERY = 10  # a log line every this many assignments
# Labels of the connection's facts read with its courses (no course column has these names).
_CANVAS_USER, _RUN_END = "connection_canvas_user_id", "user_last_run_end"


class CourseWriter:
    """Bulk writes of terms, courses, groups and assignments (see the module docstring).

    ``stats`` is the sync's :class:`RunStats`; the writer adds the rows it wrote to it.
    """

    def __init__(self, user_id: int, connection_id: int, stats: RunStats,
                 sync_run_id: int | None = None) -> None:
        self.user_id, self.sync_run_id = user_id, sync_run_id  # the run: on the events
        # Terms and courses belong to one Canvas connection: Canvas ids are unique per
        # instance only, so every read and key below is scoped by it.
        self.connection_id = connection_id
        self.stats = stats
        # Database state loaded at the start of the sync, kept current as rows are written.
        self.terms: dict[int, dict[str, Any]] = {}
        self.courses: dict[int, dict[str, Any]] = {}
        self.groups: dict[int, dict[int, int]] = {}
        self.periods: dict[int, dict[int, dict[str, Any]]] = {}  # course id -> canvas id -> row
        # course id -> canvas assignment id -> the fields the ledger compares
        self.assignments: dict[int, dict[int, dict[str, Any]]] = {}
        self.baseline = True  # no sync of this connection succeeded yet: the ledger's baseline
        self.last_synced_at: datetime | None = None  # when the last one that did started
        # For the rate limiter's warm start (app.sync.fetch.warm_start_limiter), read with the
        # courses: when the user's last run ended, and whether Canvas knows the token's user.
        self.last_run_end: datetime | None = None
        self.canvas_user_known = False
        self._pending_events: list[tuple[int | None, SeenChange]] = []
        self._course_changes: dict[int, list[SeenChange]] = {}
        self._known_course_ids: set[int] = set()
        self._loaded: set[int] = set()  # stored courses whose groups/assignments are read
        # Rows staged by the flush=False steps.
        self._pending_terms: dict[int, dict[str, Any]] = {}
        self._pending_courses: dict[int, dict[str, Any]] = {}
        self._pending_assignments: list[dict[str, Any]] = []
        self._group_ids: dict[int, int] = {}

    @property
    def pending_courses(self) -> bool:
        """Whether course rows are staged (``flush=False``) and not yet written."""
        return bool(self._pending_courses)

    def load_existing(self, *, gradebooks: bool = True) -> None:
        """What the database holds for this connection now: its terms and courses and, with
        ``gradebooks``, every course's groups, assignments and grading periods (five reads in
        all, then no more lookups). Without, a course's are read when it is first written
        (:meth:`load_course`)."""
        session = db.session
        self.terms = {
            row["canvas_term_id"]: dict(row)
            for row in session.execute(
                select(
                    TERM.c.id, TERM.c.canvas_term_id, TERM.c.name, TERM.c.start_at, TERM.c.end_at
                ).where(TERM.c.connection_id == self.connection_id)
            ).mappings()
        }
        # The connection's row joined in (outer: a connection without courses still gives one
        # row), so the baseline and the limiter's warm start cost no statement of their own.
        self.courses, self.last_synced_at, self.baseline = {}, None, True
        self.last_run_end, self.canvas_user_known = None, False
        last_run_end = (
            select(func.max(SyncRun.finished_at))
            .where(SyncRun.user_id == self.user_id).scalar_subquery()
        )
        for row in session.execute(
            select(CONNECTION.c.last_synced_at,
                   CONNECTION.c.canvas_user_id.label(_CANVAS_USER), last_run_end.label(_RUN_END),
                   COURSE)
            .select_from(CONNECTION)
            .outerjoin(COURSE, COURSE.c.connection_id == CONNECTION.c.id)
            .where(CONNECTION.c.id == self.connection_id)
            .order_by(COURSE.c.id)
        ).mappings():
            course = dict(row)
            self.last_synced_at = course.pop("last_synced_at")
            self.baseline = self.last_synced_at is None
            self.canvas_user_known = course.pop(_CANVAS_USER) is not None
            self.last_run_end = course.pop(_RUN_END)
            if course["id"] is not None:
                self.courses[course["canvas_course_id"]] = course
        self._known_course_ids = {course["id"] for course in self.courses.values()}
        self.groups, self.assignments, self.periods = {}, {}, {}
        self._loaded = set()
        if gradebooks:
            self._read_gradebooks(COURSE.c.connection_id == self.connection_id)
            self._loaded = set(self._known_course_ids)
        self._pending_terms.clear()
        self._pending_courses.clear()
        self._pending_assignments.clear()
        self._pending_events.clear()
        self._course_changes.clear()
        # End the read transaction: progress is written on another connection, and SQLite
        # cannot turn a stale read snapshot into a write later.
        session.commit()

    def _read_gradebooks(self, courses: Any) -> None:
        """Read the stored groups, assignments and grading periods of the ``courses`` (a
        condition on ``COURSE``) into the loaded state: three reads."""
        session = db.session
        for group_id, course_id, canvas_group_id in session.execute(
            select(GROUP.c.id, GROUP.c.course_id, GROUP.c.canvas_group_id)
            .join(COURSE, COURSE.c.id == GROUP.c.course_id)
            .where(courses)
        ):
            self.groups.setdefault(course_id, {})[canvas_group_id] = group_id
        for row in session.execute(
            select(ASSIGNMENT.c.course_id, *(ASSIGNMENT.c[f] for f in ASSIGNMENT_LEDGER_FIELDS))
            .join(COURSE, COURSE.c.id == ASSIGNMENT.c.course_id)
            .where(courses)
        ).mappings():
            stored = dict(row)
            course_id = stored.pop("course_id")
            self.assignments.setdefault(course_id, {})[stored["canvas_assignment_id"]] = stored
        for period in session.execute(
            select(PERIOD).join(COURSE, COURSE.c.id == PERIOD.c.course_id).where(courses)
        ).mappings():
            by_canvas_id = self.periods.setdefault(period["course_id"], {})
            by_canvas_id[period["canvas_grading_period_id"]] = dict(period)

    def load_course(self, course_id: int) -> None:
        """A stored course's groups, assignments and grading periods, read once before its
        gradebook is written (a course created by this sync has none). Like
        :meth:`load_existing`, it ends its read transaction: the engine calls it before the
        course's own transaction starts."""
        if self._read_course(course_id):
            db.session.commit()

    def _read_course(self, course_id: int) -> bool:
        """Read the course's stored rows unless they are loaded; whether it read."""
        unread = course_id not in self._loaded and course_id in self._known_course_ids
        self._loaded.add(course_id)
        if unread:
            self._read_gradebooks(COURSE.c.id == course_id)
        return unread

    def write_gradebook(self, course_id: int, gradebook: Gradebook) -> None:
        """Groups, then assignments pointing at them, then whatever vanished from Canvas."""
        self._read_course(course_id)  # normally done by load_course already: then no read
        self._group_ids = self.create_assignment_groups(course_id, gradebook.groups)
        total = len(gradebook.assignments)
        for row in gradebook.assignments:
            self.sync_assignment(course_id, row, flush=False, total=total)
        self.flush_assignments()
        # Deletes only when something vanished: the database state was read at the start
        # and there is one writer per user (the jobs layer enforces it).
        stored = self.assignments.get(course_id, {})
        keep_assignments = {a["canvas_assignment_id"] for a in gradebook.assignments}
        if set(stored) - keep_assignments:
            delete_absent(
                db.session,
                ASSIGNMENT,
                scope={"course_id": course_id},
                key="canvas_assignment_id",
                keep=keep_assignments,
            )
        self._note_assignment_changes(course_id, stored, gradebook.assignments)
        self.assignments[course_id] = {
            a["canvas_assignment_id"]: {f: a.get(f) for f in ASSIGNMENT_LEDGER_FIELDS}
            for a in gradebook.assignments
        }
        keep_groups = {g["canvas_group_id"] for g in gradebook.groups}
        if set(self.groups.get(course_id, {})) - keep_groups:
            delete_absent(
                db.session,
                GROUP,
                scope={"course_id": course_id},
                key="canvas_group_id",
                keep=keep_groups,
            )
        self.groups[course_id] = {g: i for g, i in self._group_ids.items() if g in keep_groups}

    def write_periods(self, course_id: int, periods: Iterable[dict[str, Any]]) -> None:
        """The course's grading periods: an upsert only when one changed, a delete only when
        one vanished."""
        self._read_course(course_id)  # normally done by load_course already: then no read
        rows = {p["canvas_grading_period_id"]: {**p, "course_id": course_id} for p in periods}
        stored = self.periods.get(course_id, {})
        if any(key not in stored or _differs(stored[key], row) for key, row in rows.items()):
            result = upsert(db.session, PERIOD, list(rows.values()),
                            key=("course_id", "canvas_grading_period_id"), returning=("id",))
            self.stats.rows_written += result.rows_written
        if set(stored) - set(rows):
            delete_absent(db.session, PERIOD, scope={"course_id": course_id},
                          key="canvas_grading_period_id", keep=rows)
        self.periods[course_id] = rows

    def find_or_create_term(
        self, term: dict[str, Any] | None, *, flush: bool = True
    ) -> int | None:
        """The local id of a course's term, creating or updating the row as needed.

        ``flush=False`` stages the row and returns the id only if the term is already known;
        ``flush=True`` writes everything staged (one upsert) first.
        """
        if term is None:
            return None
        canvas_term_id = term["canvas_term_id"]
        stored = self.terms.get(canvas_term_id)
        if stored is None or _differs(stored, term):
            self._pending_terms[canvas_term_id] = {
                **term,
                "user_id": self.user_id,
                "connection_id": self.connection_id,
            }
        if flush:
            self.flush_terms()
        stored = self.terms.get(canvas_term_id)
        return stored["id"] if stored else None

    def flush_terms(self) -> None:
        if not self._pending_terms:
            return
        rows = list(self._pending_terms.values())
        self._pending_terms.clear()
        result = upsert_terms(db.session, rows)
        ids = {r.canvas_term_id: r.id for r in result.rows}
        for row in rows:
            canvas_term_id = row["canvas_term_id"]
            term_id = ids.get(canvas_term_id) or self.terms.get(canvas_term_id, {}).get("id")
            if term_id is None:  # inserted meanwhile by someone else, identical to ours
                term_id = db.session.scalar(
                    select(TERM.c.id).where(
                        TERM.c.connection_id == self.connection_id,
                        TERM.c.canvas_term_id == canvas_term_id,
                    )
                )
            self.terms[canvas_term_id] = {**row, "id": term_id}

    def sync_course(
        self, course: CourseData, *, content_hash: str | None = None, flush: bool = True
    ) -> int | None:
        """The local id of ``course``, writing its row if it is new or changed.

        ``flush=False`` stages the row (one upsert for all staged rows later, by
        ``flush_courses``) and returns the id if the course is already known.
        """
        row = {
            **course.row,
            "user_id": self.user_id,
            "connection_id": self.connection_id,
            "term_id": self.find_or_create_term(course.term, flush=flush),
        }
        if content_hash is not None:
            row["content_hash"] = content_hash
        cid = course.canvas_course_id
        stored = self.courses.get(cid)
        if stored is None or _differs(stored, row):
            self._pending_courses[cid] = row
            if not self.baseline:
                self._course_changes[cid] = course_changes(stored, row)
            if flush:
                self.flush_courses()
        stored = self.courses.get(cid)
        return stored["id"] if stored else None

    def flush_courses(self) -> None:
        if not self._pending_courses:
            return
        rows = list(self._pending_courses.values())
        self._pending_courses.clear()
        # A multi-row VALUES needs one column set: rows with and without content_hash apart.
        by_shape: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for row in rows:
            by_shape.setdefault(tuple(sorted(row)), []).append(row)
        ids: dict[int, int] = {}
        for shaped in by_shape.values():
            result = upsert_courses(db.session, shaped, also_set={"last_synced_canvas": utcnow()})
            self.stats.rows_written += result.rows_written
            ids.update({r.canvas_course_id: r.id for r in result.rows})
        for row in rows:
            cid = row["canvas_course_id"]
            stored = self.courses.get(cid, {"content_hash": None})
            course_id = ids.get(cid) or stored.get("id")
            if course_id is None:
                course_id = db.session.scalar(
                    select(COURSE.c.id).where(
                        COURSE.c.connection_id == self.connection_id,
                        COURSE.c.canvas_course_id == cid,
                    )
                )
            self.courses[cid] = {**stored, **row, "id": course_id}
            for change in self._course_changes.pop(cid, []):
                self._pending_events.append((course_id, change))

    def create_assignment_groups(
        self, course_id: int, groups: list[dict[str, Any]]
    ) -> dict[int, int]:
        """Upsert all of a course's assignment groups at once; returns canvas id -> local id."""
        result = upsert_groups(db.session, [{**g, "course_id": course_id} for g in groups])
        self.stats.rows_written += result.rows_written
        ids = dict(self.groups.get(course_id, {}))
        ids.update({r.canvas_group_id: r.id for r in result.rows})
        if any(g["canvas_group_id"] not in ids for g in groups):
            ids.update(
                db.session.execute(
                    select(GROUP.c.canvas_group_id, GROUP.c.id).where(
                        GROUP.c.course_id == course_id
                    )
                ).all()
            )
        return ids

    def sync_assignment(
        self,
        course_id: int,
        row: dict[str, Any],
        *,
        flush: bool = False,
        total: int | None = None,
    ) -> None:
        """Stage one assignment (with its submission) for the course's bulk upsert.

        ``flush=True`` writes everything staged now. Groups must be written first
        (``create_assignment_groups``) so the assignment can point at its group.
        """
        staged = {k: v for k, v in row.items() if k != "canvas_group_id"}
        staged["course_id"] = course_id
        staged["grade_category_id"] = self._group_ids.get(row.get("canvas_group_id") or 0)
        self._pending_assignments.append(staged)
        count = len(self._pending_assignments)
        if count % LOG_EVERY == 0:
            logger.info("    %d/%s assignments", count, total if total is not None else "?")
        if flush:
            self.flush_assignments()

    def flush_assignments(self) -> None:
        if not self._pending_assignments:
            return
        rows, self._pending_assignments = self._pending_assignments, []
        result = upsert_assignments(db.session, rows, also_set={"last_synced_canvas": utcnow()})
        self.stats.rows_written += result.rows_written

    def record_synced(self, started_at: datetime) -> None:
        """Every course synced: when it started, on the connection (the first: its baseline)."""
        values: dict[str, Any] = {"last_synced_at": started_at}
        if self.baseline:
            values.update(baseline_at=started_at, baseline_run_id=self.sync_run_id)
        db.session.execute(
            update(CONNECTION).where(CONNECTION.c.id == self.connection_id).values(**values)
        )

    def forget_course(self, canvas_course_id: int) -> None:
        """Drop a deleted course from the loaded state."""
        stored = self.courses.pop(canvas_course_id, None)
        if stored is not None:
            self._loaded.discard(stored["id"])
            self.groups.pop(stored["id"], None)
            self.assignments.pop(stored["id"], None)
            self.periods.pop(stored["id"], None)

    def _note_assignment_changes(
        self, course_id: int, stored: dict[int, dict[str, Any]], rows: list[dict[str, Any]]
    ) -> None:
        """Stage the ledger's events for a course's assignments (none for the baseline). A
        course new to us reports ``course_added`` alone, not every assignment in it."""
        if self.baseline or course_id not in self._known_course_ids:
            return
        for row in rows:
            changes = assignment_changes(stored.get(row["canvas_assignment_id"]), row)
            self.stats.new_grades += sum(c.kind == "grade_posted" for c in changes)
            self._pending_events.extend((course_id, c) for c in changes)
        keep = {row["canvas_assignment_id"] for row in rows}
        for canvas_assignment_id, old in stored.items():
            if canvas_assignment_id not in keep:
                self._pending_events.append((course_id, removed(old)))

    def flush_events(self) -> None:
        """Insert the staged ledger events (one statement, only when there are any)."""
        if self._pending_events:
            events, self._pending_events = self._pending_events, []
            self.stats.events += insert_events(db.session, self.user_id, self.stats.started_at,
                                               events, self.connection_id, self.sync_run_id)


def _differs(stored: dict[str, Any], row: dict[str, Any]) -> bool:
    return any(stored.get(key) != value for key, value in row.items())
