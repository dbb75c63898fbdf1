"""The API's JSON bodies, built from the read side the pages already use.

Courses, assignments and changes are the export's records (:mod:`app.pages.export.data`);
grades are the dashboard's course rows (:func:`app.pages.dashboard.view_data.course_row`); the
GPA is :func:`app.grades.gpa_rows.student_gpa`'s report; the planner is
:func:`app.pages.planner.items.build_planner`'s. No grade is computed here.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.connections import connection_views
from app.extensions import db
from app.grades.check import course_reports
from app.grades.gpa_rows import student_gpa
from app.models import GradeEvent, User
from app.pages.dashboard.view_data import course_row
from app.pages.export.data import event_record, when
from app.pages.planner.items import WINDOW, PlannerItem, build_planner


def grade_records(user_id: int) -> list[dict[str, Any]]:
    """Each course's grade as the dashboard shows it: Canvas's, ours, the letter, and why
    they differ when they do."""
    synced = {c.id: c.last_synced_at for c in connection_views(user_id)}
    records = []
    for report in course_reports(db.session, user_id):
        row = course_row(report, synced.get(report.course.connection_id))
        records.append({
            "course_id": row.id, "name": row.name, "course_code": row.code,
            "canvas_score": row.canvas_score, "our_score": row.our_score,
            "letter": row.letter, "scope": row.scope, "differs": row.differs,
            "explanation": row.explanation, "settling": row.settling is not None,
            "hidden": row.hidden, "concluded": bool(row.concluded),
            "last_synced": when(row.last_synced),
        })
    return sorted(records, key=lambda record: record["course_id"])


def gpa_record(user_id: int) -> dict[str, Any]:
    """The term and cumulative GPA, and how each course entered it."""
    report, _entries = student_gpa(db.session, user_id)
    return {
        "scale": report.scale.key, "scale_label": report.scale.label,
        "cumulative": report.cumulative, "cumulative_credits": report.cumulative_credits,
        "cumulative_projected": report.cumulative_projected,
        "terms": [{"term": t.term, "gpa": t.gpa, "credits": t.credits,
                   "projected": t.projected} for t in report.terms],
        "courses": [{
            "course_id": o.course.id, "term": o.course.term, "credits": o.course.credits,
            "letter": o.letter, "points": o.points, "from_percent": o.from_percent,
            "projected": o.course.projected, "counted": o.counted, "reason": o.reason,
        } for o in report.courses],
    }


def change_records(user_id: int, after: int, limit: int) -> dict[str, Any]:
    """Up to ``limit`` ledger rows with an id above ``after``, oldest first, and the cursor
    for the next page (None when this is the last)."""
    events = db.session.scalars(
        select(GradeEvent).where(GradeEvent.user_id == user_id, GradeEvent.id > after)
        .order_by(GradeEvent.id).limit(limit + 1)).all()
    page = events[:limit]
    return {"changes": [event_record(e) for e in page],
            "next_after": page[-1].id if len(events) > limit else None}


def _planner_item(item: PlannerItem) -> dict[str, Any]:
    return {
        "assignment_id": item.assignment_id, "canvas_assignment_id": item.canvas_assignment_id,
        "course_id": item.course_id, "course_name": item.course_name, "name": item.name,
        "due_at": when(item.due_at), "local_day": item.local_day.isoformat(),
        "worth": item.worth, "status": item.status, "late": item.late,
        "missing": item.missing, "done": item.done, "url": item.url,
    }


def planner_record(user: User) -> dict[str, Any]:
    """What is due in the next 14 days, and what is overdue or missing."""
    planner = build_planner(user)
    return {"now": when(planner.now.replace(microsecond=0)), "window_days": WINDOW.days,
            "upcoming": [_planner_item(i) for i in planner.upcoming],
            "overdue": [_planner_item(i) for i in planner.overdue]}
