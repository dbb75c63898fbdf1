""""Download my data": a student's courses, assignments with their grades, and the change
ledger, as JSON (everything) or CSV (one row per assignment). Never a token or a password."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.models import Assignment, CanvasConnection, Course, GradeEvent, User, utcnow

COURSE_FIELDS = ("id", "canvas_course_id", "name", "course_code", "enrollment_state",
                 "canvas_current_score", "canvas_current_grade", "canvas_final_score",
                 "start_at", "end_at", "concluded", "last_synced_canvas")
ASSIGNMENT_FIELDS = ("canvas_assignment_id", "name", "due_at", "points_possible",
                     "grading_type", "score", "grade", "entered_score", "points_deducted",
                     "is_excused", "is_missing", "is_late", "workflow_state", "submitted_at",
                     "graded_at", "omit_from_final_grade")
EVENT_FIELDS = ("id", "canvas_course_id", "canvas_assignment_id", "kind", "before", "after",
                "at")
CSV_COLUMNS = ("course", "course_code", *ASSIGNMENT_FIELDS)


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _pick(row: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    return {name: _plain(getattr(row, name)) for name in fields}


def _courses(user_id: int) -> list[Course]:
    return list(db.session.scalars(
        select(Course).where(Course.user_id == user_id).order_by(Course.name, Course.id)))


def _assignments(course_id: int) -> list[Assignment]:
    return list(db.session.scalars(select(Assignment).where(Assignment.course_id == course_id)
                                   .order_by(Assignment.position, Assignment.id)))


def export_json(user: User) -> dict[str, Any]:
    """Everything GradeSync holds about ``user`` that is theirs to read."""
    connections = db.session.scalars(
        select(CanvasConnection).where(CanvasConnection.user_id == user.id)).all()
    events = db.session.scalars(
        select(GradeEvent).where(GradeEvent.user_id == user.id).order_by(GradeEvent.id)).all()
    return {
        "exported_at": utcnow().isoformat(),
        "account": {"email": user.email, "time_zone": user.time_zone,
                    "created_at": _plain(user.created_at),
                    "sync_interval_minutes": user.sync_interval_minutes},
        "connections": [{"label": c.display_name, "url": c.base_url, "kind": c.auth_kind,
                         "status": c.status, "last_synced_at": _plain(c.last_synced_at)}
                        for c in connections],
        "courses": [{**_pick(course, COURSE_FIELDS),
                     "assignments": [_pick(a, ASSIGNMENT_FIELDS)
                                     for a in _assignments(course.id)]}
                    for course in _courses(user.id)],
        "grade_events": [_pick(event, EVENT_FIELDS) for event in events],
    }


def export_csv(user: User) -> str:
    """One row per assignment, with its course: opens in any spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for course in _courses(user.id):
        for assignment in _assignments(course.id):
            values = [_plain(getattr(assignment, name)) for name in ASSIGNMENT_FIELDS]
            writer.writerow([_cell(course.name), _cell(course.course_code or ""),
                             *(_cell(v) for v in values)])
    return out.getvalue()


def _cell(value: Any) -> Any:
    """A spreadsheet must not run a cell as a formula (=, +, -, @ at the start)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
