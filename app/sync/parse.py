"""Canvas JSON -> plain row dicts for the sync's bulk upserts.

Pure functions, no database and no HTTP, so the sync can call them from any thread and the tests
can feed them junk. Canvas payloads are trusted for nothing: a missing key, a ``null`` where a
number belongs, an unknown field, a 10 MB name or a lone surrogate must never crash a sync. Each
value is coerced to what its column can hold (strings are truncated to the column's length,
numbers clamped to a sane range with one warning per course); items that cannot be stored at all
(no usable id) are skipped and counted, with one warning per list, never one per item.

Rules that encode Canvas semantics (CANVAS_API.md §3):

- A grade the student may not see yet has its ``score``/``grade`` keys *absent*: NULL score.
- ``excused: true`` means ``is_excused`` with a NULL score and grade, whatever else is sent,
  once it is posted: an unposted excused submission (``posted_at: null``) is a hidden grade.
- Only the student's *own* assignments are kept (``own_only``): see :func:`parse_gradebook`.
- Unpublished or deleted assignments are not shown to students; if one slips through, it is
  dropped here so that it disappears from the database like it disappears from Canvas.
- A course reduced to ``{"id", "access_restricted_by_date": true}`` is *restricted*: enrolled,
  but unreadable until its dates allow it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from app.sync.coerce import (  # noqa: F401  (re-exported: the parser's scalar rules)
    ID_MAX,
    INT_MAX,
    INT_MIN,
    _dict,
    _list,
    clamp_report,
    clean_joined,
    clean_text,
    parse_bool,
    parse_datetime,
    parse_float,
    parse_id,
    parse_int,
    parse_percent,
    parse_points,
)
from app.sync.fields import (  # noqa: F401  (re-exported)
    _LIMITS,
    ASSIGNMENT_FIELDS,
    COURSE_FIELDS,
    GROUP_FIELDS,
    PARSER_VERSION,
    content_hash,
)
from app.sync.termparse import _log_junk, parse_periods, parse_term  # noqa: F401  (re-exported)

logger = logging.getLogger(__name__)

# --- courses and terms ------------------------------------------------------------------------


@dataclass(frozen=True)
class CourseData:
    """One readable course from the course list: its row, and its term's row (or None)."""

    canvas_course_id: int
    row: dict[str, Any]
    term: dict[str, Any] | None
    periods: tuple[dict[str, Any], ...] = ()  # grading_period rows (parse_periods)
    grading_standard_id: int | None = None  # the course's grading scheme, if it has one
    # Canvas says the course has grading periods, listed or not (a course-level period group
    # is not in the course list's include[]=grading_periods: app.sync.periods reads it).
    has_grading_periods: bool = False

    @property
    def name(self) -> str:
        return str(self.row["name"])

    @property
    def concluded(self) -> bool:
        return bool(self.row["concluded"])


@dataclass
class CourseList:
    """The course list split into readable courses and date-restricted course ids.

    ``not_student``: courses listed only for another role (TA, teacher, observer): not synced.
    """

    courses: list[CourseData] = field(default_factory=list)
    restricted: list[int] = field(default_factory=list)
    invalid: int = 0
    not_student: list[int] = field(default_factory=list)

    @property
    def enrolled_ids(self) -> set[int]:
        """Every course the student is still enrolled in, readable or not."""
        return {c.canvas_course_id for c in self.courses} | set(self.restricted)


def is_student_course(course: Mapping[str, Any]) -> bool:
    """False when the course lists enrollments and none is the student's own.

    A course without an ``enrollments`` array is taken as the student's (nothing says
    otherwise); a TA, teacher, designer or observer enrollment has no student scores.
    """
    enrollments = [e for e in _list(course.get("enrollments")) if isinstance(e, Mapping)]
    return not enrollments or any(_is_student(e) for e in enrollments)


def _is_student(enrollment: Mapping[str, Any]) -> bool:
    return enrollment.get("type") == "student" or enrollment.get("role") == "StudentEnrollment"


def _student_enrollment(course: Mapping[str, Any]) -> Mapping[str, Any]:
    enrollments = [e for e in _list(course.get("enrollments")) if isinstance(e, Mapping)]
    for enrollment in enrollments:
        if _is_student(enrollment):
            return enrollment
    return enrollments[0] if enrollments else {}


def parse_course(raw: Any) -> CourseData | None:
    """A readable course from the course list, or None (restricted courses included).

    Numbers out of range are clamped, with one warning for the course.
    """
    with clamp_report(logger, f"course {parse_id(_dict(raw).get('id'))}"):
        return _parse_course(raw)


def _parse_course(raw: Any) -> CourseData | None:
    course = _dict(raw)
    canvas_course_id = parse_id(course.get("id"))
    if canvas_course_id is None or parse_bool(course.get("access_restricted_by_date")):
        return None
    enrollment = _student_enrollment(course)
    enrollment_state = clean_text(
        enrollment.get("enrollment_state"), _LIMITS["course.enrollment_state"]
    )
    workflow_state = clean_text(course.get("workflow_state"), _LIMITS["course.workflow_state"])
    name = clean_text(course.get("name"), _LIMITS["course.name"])
    course_code = clean_text(course.get("course_code"), _LIMITS["course.course_code"])
    if not name:
        logger.warning("course %s has no name; using its code or id", canvas_course_id)
        name = course_code or f"Course {canvas_course_id}"
    row = {
        "canvas_course_id": canvas_course_id,
        "name": name,
        "course_code": course_code,
        "apply_group_weights": parse_bool(course.get("apply_assignment_group_weights")),
        # Absent with hide_final_grades, null before anything is graded: NULL either way.
        "canvas_current_score": parse_percent(enrollment.get("computed_current_score")),
        "canvas_final_score": parse_percent(enrollment.get("computed_final_score")),
        "canvas_current_grade": clean_text(
            enrollment.get("computed_current_grade"), _LIMITS["course.canvas_current_grade"]
        ),
        "enrollment_state": enrollment_state,
        "workflow_state": workflow_state,
        "start_at": parse_datetime(course.get("start_at")),
        "end_at": parse_datetime(course.get("end_at")),
        "concluded": (
            enrollment_state == "completed"
            or workflow_state == "completed"
            or parse_bool(course.get("concluded"))
        ),
        "missing_since": None,  # listed: not missing
        "has_weighted_grading_periods": parse_bool(course.get("has_weighted_grading_periods")),
        "hide_final_grades": parse_bool(course.get("hide_final_grades")),
        "canvas_current_period_id": parse_id(enrollment.get("current_grading_period_id")),
        "canvas_period_current_score": parse_percent(
            enrollment.get("current_period_computed_current_score")
        ),
        "canvas_period_current_grade": clean_text(
            enrollment.get("current_period_computed_current_grade"),
            _LIMITS["course.canvas_current_grade"],
        ),
        # Absent (older Canvas, no current_grading_period_scores): totals are shown.
        "totals_for_all_periods": enrollment.get("totals_for_all_grading_periods_option")
        is not False,
    }
    return CourseData(
        canvas_course_id,
        row,
        parse_term(course.get("term")),
        periods=parse_periods(course.get("grading_periods")),
        # 0 is a real value: schemes on, Canvas's default one (Course#grading_standard_enabled=).
        grading_standard_id=parse_int(course.get("grading_standard_id"), lo=0, hi=ID_MAX),
        has_grading_periods=parse_bool(course.get("has_grading_periods"))
        or parse_bool(enrollment.get("has_grading_periods")),
    )


def parse_course_list(raw_courses: Any) -> CourseList:
    """Split the course list; junk entries are logged and counted, never fatal."""
    result = CourseList()
    seen: set[int] = set()
    for raw in _list(raw_courses):
        item = _dict(raw)
        canvas_course_id = parse_id(item.get("id"))
        if canvas_course_id is None:
            result.invalid += 1
            continue
        if canvas_course_id in seen:  # a course listed twice (pages shifted while paging)
            continue
        seen.add(canvas_course_id)
        if parse_bool(item.get("access_restricted_by_date")):
            result.restricted.append(canvas_course_id)
            continue
        if not is_student_course(item):
            result.not_student.append(canvas_course_id)
            continue
        course = parse_course(item)
        if course is not None:
            result.courses.append(course)
    _log_junk(result.invalid, "course list entries")
    return result


# --- groups, assignments, submissions ---------------------------------------------------------


@dataclass(frozen=True)
class Gradebook:
    """A course's groups and assignments as rows, and a digest of both."""

    groups: list[dict[str, Any]]
    assignments: list[dict[str, Any]]  # with "canvas_group_id" (mapped to a local id on write)
    skipped: int = 0
    response_digest: str | None = None  # of the raw bytes it was parsed from (app.sync.digest)

    @cached_property
    def content_hash(self) -> str:
        return content_hash(self.groups, self.assignments)


def _parse_group(raw: Mapping[str, Any]) -> dict[str, Any] | None:
    canvas_group_id = parse_id(raw.get("id"))
    if canvas_group_id is None:
        return None  # counted in Gradebook.skipped, logged once for the course
    rules = _dict(raw.get("rules"))
    never_drop = sorted(
        {i for i in (parse_id(v) for v in _list(rules.get("never_drop"))) if i is not None}
    )
    return {
        "canvas_group_id": canvas_group_id,
        "name": clean_text(raw.get("name"), _LIMITS["group.name"]) or f"Group {canvas_group_id}",
        "weight": parse_percent(raw.get("group_weight")),
        "position": parse_int(raw.get("position")),
        "drop_lowest": parse_int(rules.get("drop_lowest"), lo=0) or 0,
        "drop_highest": parse_int(rules.get("drop_highest"), lo=0) or 0,
        "never_drop": never_drop,
    }


def _is_visible(assignment: Mapping[str, Any]) -> bool:
    if assignment.get("published") is False:
        return False
    return assignment.get("workflow_state") not in ("unpublished", "deleted")


def _parse_assignment(
    raw: Mapping[str, Any],
    canvas_course_id: int,
    default_group_id: int | None,
    submission: Any,
) -> dict[str, Any] | None:
    canvas_assignment_id = parse_id(raw.get("id"))
    if canvas_assignment_id is None:
        return None  # counted in Gradebook.skipped, logged once for the course
    sub = _dict(submission)
    # Canvas's GradeCalculator#ignore_submission? (lib/grade_calculator.rb) ignores an unposted
    # submission in the scores the student sees, excused or not: left out of the current score,
    # 0 of its points in the final score. ``excused`` is not among the keys Submission#
    # filter_attributes_for_user removes, so an unposted excused one still says so: it is a
    # hidden grade until posted (posted_at sent and null; an older payload without the key is
    # taken as posted).
    excused = parse_bool(sub.get("excused")) and not ("posted_at" in sub
                                                       and sub["posted_at"] is None)
    group_id = parse_id(raw.get("assignment_group_id"))
    # `missing`/`late` are Canvas's own verdicts (they already account for late_policy_status);
    # fall back to the policy status only when the booleans are absent.
    policy = sub.get("late_policy_status")
    missing = sub.get("missing")
    late = sub.get("late")
    return {
        "canvas_assignment_id": canvas_assignment_id,
        "canvas_course_id": canvas_course_id,
        "canvas_group_id": group_id if group_id is not None else default_group_id,
        "name": clean_text(raw.get("name"), _LIMITS["assignment.name"])
        or f"Assignment {canvas_assignment_id}",
        "position": parse_int(raw.get("position")),
        "due_at": parse_datetime(raw.get("due_at")),
        "points_possible": parse_points(raw.get("points_possible")),
        "grading_type": clean_text(raw.get("grading_type"), _LIMITS["assignment.grading_type"]),
        "submission_types": clean_joined(raw.get("submission_types"),
                                         _LIMITS["assignment.submission_types"]),
        "omit_from_final_grade": parse_bool(raw.get("omit_from_final_grade")),
        # Hidden (unposted) grades arrive with the keys absent: .get() gives None, as it should.
        "score": None if excused else parse_points(sub.get("score")),
        "grade": None if excused else clean_text(sub.get("grade"), _LIMITS["assignment.grade"]),
        "is_excused": excused,
        "is_missing": parse_bool(missing) if missing is not None else policy == "missing",
        "is_late": parse_bool(late) if late is not None else policy == "late",
        "points_deducted": None if excused else parse_points(sub.get("points_deducted")),
        "workflow_state": clean_text(
            sub.get("workflow_state"), _LIMITS["assignment.workflow_state"]
        ),
        "entered_score": None if excused else parse_points(sub.get("entered_score")),
        "grading_period_id": parse_id(sub.get("grading_period_id")),
        "submitted_at": parse_datetime(sub.get("submitted_at")),
        "graded_at": parse_datetime(sub.get("graded_at")),
        "posted_at": parse_datetime(sub.get("posted_at")),
        "canvas_updated_at": parse_datetime(raw.get("updated_at")),
    }


def parse_gradebook(
    canvas_course_id: int,
    groups_payload: Any,
    assignments_payload: Any = None,
    submissions_payload: Any = None,
    *,
    own_only: bool = False,
) -> Gradebook:
    """Rows from either fetch plan.

    One-request plan: ``groups_payload`` is ``assignment_groups`` with embedded assignments and
    their ``submission``. Three-request plan: groups without assignments, plus the
    ``assignments`` list and the bulk ``students/submissions`` list, joined on assignment id.

    ``own_only`` (submissions asked for): drop a differentiated assignment (``only_visible_to_
    overrides``) that carries no submission of the student's own. A user who is also an
    observer or TA is shown other students' assignments too (canvas-lms ``AssignmentGroup.
    visible_assignments`` -> ``DifferentiableAssignment.filter``: no filter for staff, nor for
    an observer without observees), but ``submission`` is the caller's own active row
    (``Api::V1::Assignment#submissions_hash``), which Canvas keeps for each assigned student,
    and Canvas's grade counts only those (``GradeCalculator#assignment_visible_to_student?``).
    An assignment for everyone is never dropped for a missing submission (a placeholder not
    made yet). ``include[]=assignment_visibility`` is for staff only and ``scope_assignments_
    to_student`` needs a grading period: neither tells a student's assignments apart.

    Numbers out of range are clamped, with one warning for the course.
    """
    with clamp_report(logger, f"course {canvas_course_id}"):
        return _parse_gradebook(canvas_course_id, groups_payload, assignments_payload,
                                submissions_payload, own_only)


def _parse_gradebook(canvas_course_id: int, groups_payload: Any, assignments_payload: Any,
                     submissions_payload: Any, own_only: bool) -> Gradebook:
    groups: dict[int, dict[str, Any]] = {}
    raw_assignments: list[tuple[Mapping[str, Any], int | None]] = []
    skipped = 0
    for raw in _list(groups_payload):
        if not isinstance(raw, Mapping):
            skipped += 1
            continue
        group = _parse_group(raw)
        if group is None:
            skipped += 1
            continue
        groups[group["canvas_group_id"]] = group
        if assignments_payload is None:
            for item in _list(raw.get("assignments")):
                raw_assignments.append((_dict(item), group["canvas_group_id"]))
    if assignments_payload is not None:
        raw_assignments = [(_dict(item), None) for item in _list(assignments_payload)]

    submissions: dict[int, Mapping[str, Any]] = {}
    for raw in _list(submissions_payload):
        assignment_id = parse_id(_dict(raw).get("assignment_id"))
        if assignment_id is not None:
            submissions[assignment_id] = raw

    assignments: dict[int, dict[str, Any]] = {}
    for raw, group_id in raw_assignments:
        if not _is_visible(raw):
            continue
        submission = raw.get("submission")
        if submissions_payload is not None:
            submission = submissions.get(parse_id(raw.get("id")) or 0, submission)
        if own_only and not isinstance(submission, Mapping) and parse_bool(
                raw.get("only_visible_to_overrides")):
            continue  # assigned to other students only: not the student's
        row = _parse_assignment(raw, canvas_course_id, group_id, submission)
        if row is None:
            skipped += 1
            continue
        assignments[row["canvas_assignment_id"]] = row
    _log_junk(skipped, f"groups or assignments of course {canvas_course_id}")
    return Gradebook(
        groups=sorted(groups.values(), key=lambda g: g["canvas_group_id"]),
        assignments=sorted(assignments.values(), key=lambda a: a["canvas_assignment_id"]),
        skipped=skipped,
    )
