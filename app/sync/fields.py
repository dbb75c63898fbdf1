"""What the parser produces: the fields of each row, their limits, and the content hash.

The hash is over these normalized rows, so an incremental sync can tell "nothing changed"
without comparing row by row (:mod:`app.sync.engine`, "Incremental sync").
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from app.models import Assignment, Course, GradeCategory, GradingPeriod, Term

# Bump when the parsed shape changes, so that content hashes stored by an older version no
# longer match and the next incremental sync rewrites every course once.
# 4: submission_types, unposted excused as hidden, only the student's own assignments.
PARSER_VERSION = 4  # 2: points_deducted; 3: entered_score, grading periods


COURSE_FIELDS = (
    "canvas_course_id",
    "name",
    "course_code",
    "apply_group_weights",
    "canvas_current_score",
    "canvas_final_score",
    "canvas_current_grade",
    "enrollment_state",
    "workflow_state",
    "start_at",
    "end_at",
    "concluded",
    "missing_since",
    "has_weighted_grading_periods",
    "hide_final_grades",
    "canvas_current_period_id",
    "canvas_period_current_score",
    "canvas_period_current_grade",
    "totals_for_all_periods",
)
PERIOD_FIELDS = (
    "canvas_grading_period_id",
    "title",
    "weight",
    "start_date",
    "end_date",
    "close_date",
    "is_closed",
)
GROUP_FIELDS = (
    "canvas_group_id",
    "name",
    "weight",
    "position",
    "drop_lowest",
    "drop_highest",
    "never_drop",
)
ASSIGNMENT_FIELDS = (
    "canvas_assignment_id",
    "canvas_course_id",
    "name",
    "position",
    "due_at",
    "points_possible",
    "grading_type",
    "submission_types",
    "omit_from_final_grade",
    "score",
    "grade",
    "entered_score",
    "grading_period_id",
    "is_excused",
    "is_missing",
    "is_late",
    "points_deducted",
    "workflow_state",
    "submitted_at",
    "graded_at",
    "posted_at",
    "canvas_updated_at",
)


def _length(column: Any) -> int | None:
    return getattr(column.type, "length", None)


_LIMITS = {
    "term.name": _length(Term.__table__.c.name),
    "course.name": _length(Course.__table__.c.name),
    "course.course_code": _length(Course.__table__.c.course_code),
    "course.canvas_current_grade": _length(Course.__table__.c.canvas_current_grade),
    "course.enrollment_state": _length(Course.__table__.c.enrollment_state),
    "course.workflow_state": _length(Course.__table__.c.workflow_state),
    "group.name": _length(GradeCategory.__table__.c.name),
    "assignment.name": _length(Assignment.__table__.c.name),
    "assignment.grading_type": _length(Assignment.__table__.c.grading_type),
    "assignment.submission_types": _length(Assignment.__table__.c.submission_types),
    "assignment.grade": _length(Assignment.__table__.c.grade),
    "assignment.workflow_state": _length(Assignment.__table__.c.workflow_state),
    "period.title": _length(GradingPeriod.__table__.c.title),
}


# --- the content hash -------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def content_hash(
    groups: Iterable[Mapping[str, Any]], assignments: Iterable[Mapping[str, Any]]
) -> str:
    """SHA-256 of the normalized rows (not of the raw JSON).

    Hashing what we store, rather than the bytes Canvas sent, makes the digest blind to fields
    we ignore and to key order, and exact for everything we keep. ``PARSER_VERSION`` is mixed
    in so that a parser change invalidates every stored hash.
    """
    payload = {
        "v": PARSER_VERSION,
        "groups": [{k: _jsonable(g[k]) for k in GROUP_FIELDS} for g in groups],
        "assignments": [
            {k: _jsonable(a.get(k)) for k in (*ASSIGNMENT_FIELDS, "canvas_group_id")}
            for a in assignments
        ],
    }
    encoded = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(encoded.encode("ascii")).hexdigest()
