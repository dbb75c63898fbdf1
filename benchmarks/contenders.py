"""The five ways of syncing a gradebook that the benchmark compares.

The two canvasapi contenders are the baseline: ordinary code a developer would write with the
canvasapi library, writing into the same tables with simple ORM code. They are written to be
fair, not slow: canvasapi's own ``per_page=100`` pages, no sleeps, no extra requests.

- ``canvasapi_plain``: the original "before". Sequential pages; for each course its groups and
  assignments, then ONE submission request per assignment (``assignment.get_submission``); a
  commit per row.
- ``canvasapi_well``: still sequential, but groups with their assignments embedded, the
  student's submissions for a whole course in one list (``course.get_multiple_submissions``),
  and one commit per course.
- ``gradesync_full`` / ``gradesync_incremental``: ``create_canvas_sync_service(user)``.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select

import clock

logger = logging.getLogger(__name__)

# What the course list asks for; the same for every contender so that they fetch the same
# courses (all of the student's enrollments, current and concluded).
COURSE_LIST_PARAMS: dict[str, Any] = {
    "include": ["term", "total_scores"],
    "enrollment_type": "student",  # TA, teacher and observer courses are not the student's
}


def parse_time(value: str | None) -> datetime | None:
    """Canvas ISO-8601 (``...Z``) to an aware datetime."""
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _attrs(obj: Any) -> dict[str, Any]:
    """The JSON fields of a canvasapi object (it keeps them as attributes)."""
    return {k: v for k, v in vars(obj).items() if not k.startswith("_")}


def _canvas(base_url: str, token: str) -> Any:
    # canvasapi >= 3.5 sends "User-Agent: python-canvasapi/<version>" on its own; hosted Canvas
    # and the simulator refuse requests without one.
    from canvasapi import Canvas

    with warnings.catch_warnings():
        # The simulator speaks plain HTTP on loopback; canvasapi warns about any http:// URL.
        warnings.filterwarnings("ignore", message="Canvas may respond unexpectedly",
                                category=UserWarning)
        return Canvas(base_url, token)


# --- Simple ORM writes shared by both canvasapi contenders ------------------------------------

def _connection_id(session: Any, user_id: int) -> int | None:
    """The user's (first) Canvas connection: terms and courses hang off it."""
    from app.models import CanvasConnection

    return session.scalar(select(CanvasConnection.id).where(CanvasConnection.user_id == user_id)
                          .order_by(CanvasConnection.id).limit(1))


def _term_row(session: Any, user_id: int, term: dict[str, Any]) -> Any:
    from app.models import Term

    row = session.scalar(select(Term).where(Term.user_id == user_id,
                                            Term.canvas_term_id == term["id"]))
    if row is None:
        row = Term(user_id=user_id, connection_id=_connection_id(session, user_id),
                   canvas_term_id=term["id"], name=term.get("name") or "")
        session.add(row)
    row.name = term.get("name") or ""
    row.start_at = parse_time(term.get("start_at"))
    row.end_at = parse_time(term.get("end_at"))
    return row


def _course_row(session: Any, user_id: int, data: dict[str, Any], term_id: int | None) -> Any:
    from app.models import Course

    row = session.scalar(select(Course).where(Course.user_id == user_id,
                                              Course.canvas_course_id == data["id"]))
    if row is None:
        row = Course(user_id=user_id, connection_id=_connection_id(session, user_id),
                     canvas_course_id=data["id"], name=data.get("name") or "")
        session.add(row)
    enrollment = next((e for e in data.get("enrollments") or [] if e.get("type") == "student"),
                      {})
    row.term_id = term_id
    row.name = data.get("name") or ""
    row.course_code = data.get("course_code")
    row.apply_group_weights = bool(data.get("apply_assignment_group_weights"))
    row.canvas_current_score = enrollment.get("computed_current_score")
    row.canvas_final_score = enrollment.get("computed_final_score")
    row.canvas_current_grade = enrollment.get("computed_current_grade")
    row.enrollment_state = enrollment.get("enrollment_state")
    row.workflow_state = data.get("workflow_state")
    row.start_at = parse_time(data.get("start_at"))
    row.end_at = parse_time(data.get("end_at"))
    row.concluded = (data.get("workflow_state") == "completed"
                     or enrollment.get("enrollment_state") == "completed")
    row.last_synced_canvas = clock.now()
    return row


def _group_fields(row: Any, group: dict[str, Any]) -> None:
    rules = group.get("rules") or {}
    row.name = group.get("name") or ""
    row.weight = group.get("group_weight")
    row.position = group.get("position")
    row.drop_lowest = rules.get("drop_lowest") or 0
    row.drop_highest = rules.get("drop_highest") or 0
    row.never_drop = sorted(rules.get("never_drop") or [])


def _assignment_fields(row: Any, data: dict[str, Any], submission: dict[str, Any] | None,
                       group_ids: dict[int, int]) -> None:
    sub = submission or {}
    row.grade_category_id = group_ids.get(data.get("assignment_group_id"))
    row.name = data.get("name") or ""
    row.position = data.get("position")
    row.due_at = parse_time(data.get("due_at"))
    row.points_possible = data.get("points_possible")
    row.grading_type = data.get("grading_type")
    row.omit_from_final_grade = bool(data.get("omit_from_final_grade"))
    row.canvas_updated_at = parse_time(data.get("updated_at"))
    # Unposted grades come without the score keys: .get() gives None, which is the truth.
    row.score = sub.get("score")
    row.grade = sub.get("grade")
    row.is_excused = bool(sub.get("excused"))
    row.is_missing = bool(sub.get("missing"))
    row.is_late = bool(sub.get("late"))
    row.workflow_state = sub.get("workflow_state")
    row.submitted_at = parse_time(sub.get("submitted_at"))
    row.graded_at = parse_time(sub.get("graded_at"))
    row.posted_at = parse_time(sub.get("posted_at"))
    row.last_synced_canvas = clock.now()


def _visible(course: Any) -> bool:
    return not getattr(course, "access_restricted_by_date", False)


def _student_courses(canvas: Any) -> list[Any]:
    """Every course of the student, as real Canvas needs it (CANVAS_API.md, "Read first"): the
    default list, the courses a teacher concluded (``state[]=completed``), and each course of
    an enrollment the registrar completed, which only the enrollments list shows
    (``state[]=current_and_concluded``), read with ``GET /courses/:id``."""
    seen: set[int] = set()
    courses: list[Any] = []

    def add(course: Any) -> None:
        if course.id not in seen:
            seen.add(course.id)
            if _visible(course):
                courses.append(course)

    for extra in ({}, {"state": ["completed"]}):
        for course in canvas.get_courses(**COURSE_LIST_PARAMS, **extra):
            add(course)
    enrollments = canvas.get_current_user().get_enrollments(
        state=["current_and_concluded"], type=["StudentEnrollment"])
    for enrollment in enrollments:
        if enrollment.course_id not in seen:
            add(canvas.get_course(enrollment.course_id, include=COURSE_LIST_PARAMS["include"]))
    return courses


# --- Contender 1: canvasapi written plainly ---------------------------------------------------

def canvasapi_plain(base_url: str, token: str, user_id: int,
                    progress: Callable[[str], None] | None = None) -> None:
    """The original "before": one request per assignment and one commit per row."""
    from app.extensions import db
    from app.models import Assignment, GradeCategory

    session = db.session
    canvas = _canvas(base_url, token)
    courses = _student_courses(canvas)
    for number, course in enumerate(courses, 1):
        if progress:
            progress(f"[{number}/{len(courses)}] {course.name}")
        data = _attrs(course)
        term_id = None
        if data.get("term"):
            term = _term_row(session, user_id, data["term"])
            session.commit()
            term_id = term.id
        course_row = _course_row(session, user_id, data, term_id)
        session.commit()
        group_ids: dict[int, int] = {}
        for group in course.get_assignment_groups():
            fields = _attrs(group)
            row = session.scalar(select(GradeCategory).where(
                GradeCategory.course_id == course_row.id,
                GradeCategory.canvas_group_id == fields["id"]))
            if row is None:
                row = GradeCategory(course_id=course_row.id, canvas_group_id=fields["id"])
                session.add(row)
            _group_fields(row, fields)
            session.commit()
            group_ids[fields["id"]] = row.id
        for assignment in course.get_assignments():
            fields = _attrs(assignment)
            submission = _attrs(assignment.get_submission("self"))
            row = session.scalar(select(Assignment).where(
                Assignment.course_id == course_row.id,
                Assignment.canvas_assignment_id == fields["id"]))
            if row is None:
                row = Assignment(course_id=course_row.id, canvas_assignment_id=fields["id"],
                                 canvas_course_id=course.id)
                session.add(row)
            _assignment_fields(row, fields, submission, group_ids)
            session.commit()


# --- Contender 2: canvasapi used well ---------------------------------------------------------

def canvasapi_well(base_url: str, token: str, user_id: int,
                   progress: Callable[[str], None] | None = None) -> None:
    """Sequential canvasapi with bulk lists and one commit per course."""
    from app.extensions import db
    from app.models import Assignment, GradeCategory

    session = db.session
    canvas = _canvas(base_url, token)
    courses = _student_courses(canvas)
    for number, course in enumerate(courses, 1):
        if progress:
            progress(f"[{number}/{len(courses)}] {course.name}")
        groups = [_attrs(g) for g in course.get_assignment_groups(include=["assignments"])]
        submissions = {s.assignment_id: _attrs(s) for s in course.get_multiple_submissions()}

        data = _attrs(course)
        term_id = None
        if data.get("term"):
            term = _term_row(session, user_id, data["term"])
            session.flush()
            term_id = term.id
        course_row = _course_row(session, user_id, data, term_id)
        session.flush()
        existing_groups = {g.canvas_group_id: g for g in session.scalars(
            select(GradeCategory).where(GradeCategory.course_id == course_row.id))}
        existing = {a.canvas_assignment_id: a for a in session.scalars(
            select(Assignment).where(Assignment.course_id == course_row.id))}
        for group in groups:
            row = existing_groups.get(group["id"])
            if row is None:
                row = GradeCategory(course_id=course_row.id, canvas_group_id=group["id"])
                session.add(row)
            _group_fields(row, group)
            existing_groups[group["id"]] = row
        session.flush()
        group_ids = {cid: row.id for cid, row in existing_groups.items()}
        for group in groups:
            for item in group.get("assignments") or []:
                row = existing.get(item["id"])
                if row is None:
                    row = Assignment(course_id=course_row.id, canvas_assignment_id=item["id"],
                                     canvas_course_id=course.id)
                    session.add(row)
                _assignment_fields(row, item, submissions.get(item["id"]), group_ids)
        session.commit()


# --- Contenders 3-5: GradeSync ----------------------------------------------------------------

def gradesync(user: Any, *, incremental: bool) -> dict[str, Any]:
    """One GradeSync run; raises if the sync reports a failure (a benchmark must not hide it)."""
    from app.connections import create_canvas_sync_service

    result = create_canvas_sync_service(user).sync_all_data(use_incremental=incremental)
    if not result.succeeded:
        raise RuntimeError(f"GradeSync sync failed: {result.error}")
    return result.as_dict()


# --- The small batch of changes for contender 5 -----------------------------------------------

def apply_small_changes(student: Any) -> list[str]:
    """A few grades posted, one assignment added and one group reweighted; returns what."""
    # Current courses only: a concluded course's gradebook does not change any more.
    everything = student.expected()
    expected = {cid: c for cid, c in everything.items() if not c["concluded"]} or everything
    done: list[str] = []
    graded = 0
    for course_id, course in sorted(expected.items()):
        for assignment_id, item in sorted(course["assignments"].items()):
            if graded < 3 and item["score"] is None and not item["excused"] \
                    and item["points_possible"]:
                student.grade(course_id, assignment_id, float(item["points_possible"]) * 0.9)
                done.append(f"graded {course_id}/{assignment_id}")
                graded += 1
                break
        if graded >= 3:
            break
    course_id, course = sorted(expected.items())[0]
    group_id = sorted(course["groups"])[0]
    student.add_assignment(course_id, group_id, "Benchmark pop quiz", points_possible=10.0)
    done.append(f"added an assignment to course {course_id}")
    weighted = [(cid, c) for cid, c in sorted(expected.items()) if c["apply_group_weights"]]
    cid, wcourse = weighted[0] if weighted else (course_id, course)
    gid = sorted(wcourse["groups"])[0]
    student.reweight_group(cid, gid, float(wcourse["groups"][gid]["weight"] or 0) + 5.0)
    done.append(f"reweighted group {gid} of course {cid}")
    return done


# --- Did the contender get the data right? ----------------------------------------------------

def check_database(user_id: int, expected: dict[int, dict[str, Any]], limit: int = 5) -> list[str]:
    """Compare the user's rows with the simulator's oracle; returns up to ``limit`` problems.

    Checked: the set of courses, each course's assignments, their scores and excused flags,
    and the group weights. A contender that skips work cannot pass.
    """
    from app.extensions import db
    from app.models import Assignment, Course, GradeCategory

    problems: list[str] = []
    courses = {c.canvas_course_id: c for c in db.session.scalars(
        select(Course).where(Course.user_id == user_id))}
    if set(courses) != set(expected):
        problems.append(f"courses: have {len(courses)}, expected {len(expected)}")
    for canvas_id, want in sorted(expected.items()):
        course = courses.get(canvas_id)
        if course is None:
            continue
        rows = {a.canvas_assignment_id: a for a in db.session.scalars(
            select(Assignment).where(Assignment.course_id == course.id))}
        if set(rows) != set(want["assignments"]):
            problems.append(f"course {canvas_id}: {len(rows)} assignments, "
                            f"expected {len(want['assignments'])}")
        for aid, item in want["assignments"].items():
            row = rows.get(aid)
            if row is None:
                continue
            if row.score != item["score"] or row.is_excused != bool(item["excused"]):
                problems.append(f"assignment {aid}: score {row.score}, expected {item['score']}")
        weights = {g.canvas_group_id: g.weight for g in db.session.scalars(
            select(GradeCategory).where(GradeCategory.course_id == course.id))}
        for gid, group in want["groups"].items():
            if weights.get(gid) != group["weight"]:
                problems.append(f"group {gid}: weight {weights.get(gid)}, "
                                f"expected {group['weight']}")
        if len(problems) >= limit:
            break
    return problems[:limit]
