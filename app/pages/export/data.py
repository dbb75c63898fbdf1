"""The rows an export holds, and CSV written and read back without changing a value.

Three tables, the same in CSV and JSON: ``courses`` (with Canvas's and our grades),
``assignments`` (with the student's score on each) and ``grade_events`` (the change ledger).
Values are written as: timestamps ISO 8601 UTC (``2026-11-18T15:00:00Z``), true/false, numbers
as Python prints them, an empty cell for none, the ledger's before/after as JSON text. A text
cell that a spreadsheet would run as a formula (it starts with = + - @ or a tab) gets a leading
apostrophe in CSV, which :func:`read_csv` takes off again.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.models import Assignment, CanvasConnection, Course, GradeCategory, GradeEvent, Term

# (column, kind); kind is one of int, float, str, bool, datetime, json.
Columns = tuple[tuple[str, str], ...]

COURSE_COLUMNS: Columns = (
    ("id", "int"), ("canvas_url", "str"), ("canvas_course_id", "int"), ("name", "str"),
    ("course_code", "str"), ("term", "str"), ("concluded", "bool"),
    ("canvas_current_score", "float"), ("canvas_final_score", "float"),
    ("canvas_current_grade", "str"), ("our_current_score", "float"),
    ("apply_group_weights", "bool"), ("last_synced", "datetime"),
)
ASSIGNMENT_COLUMNS: Columns = (
    ("id", "int"), ("course_id", "int"), ("canvas_course_id", "int"),
    ("canvas_assignment_id", "int"), ("group", "str"), ("group_weight", "float"),
    ("name", "str"), ("due_at", "datetime"), ("points_possible", "float"), ("score", "float"),
    ("grade", "str"), ("entered_score", "float"), ("points_deducted", "float"),
    ("excused", "bool"), ("missing", "bool"), ("late", "bool"), ("submitted_at", "datetime"),
    ("graded_at", "datetime"),
)
EVENT_COLUMNS: Columns = (
    ("id", "int"), ("at", "datetime"), ("course_id", "int"), ("canvas_course_id", "int"),
    ("canvas_assignment_id", "int"), ("kind", "str"), ("before", "json"), ("after", "json"),
)
TABLES: dict[str, Columns] = {
    "courses": COURSE_COLUMNS, "assignments": ASSIGNMENT_COLUMNS, "grade_events": EVENT_COLUMNS,
}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def when(value: datetime | None) -> str | None:
    """A timestamp as ISO 8601 UTC (``2026-11-18T15:00:00Z``), or None."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def course_records(user_id: int, course_id: int | None = None) -> list[dict[str, Any]]:
    """The student's courses (or the one ``course_id``, if it is theirs) as records."""
    query = (
        select(Course, CanvasConnection.base_url, Term.name)
        .join(CanvasConnection, CanvasConnection.id == Course.connection_id)
        .outerjoin(Term, Term.id == Course.term_id)
        .where(Course.user_id == user_id).order_by(Course.id)
    )
    if course_id is not None:
        query = query.where(Course.id == course_id)
    return [{
        "id": c.id, "canvas_url": url, "canvas_course_id": c.canvas_course_id, "name": c.name,
        "course_code": c.course_code, "term": term, "concluded": bool(c.concluded),
        "canvas_current_score": c.canvas_current_score,
        "canvas_final_score": c.canvas_final_score,
        "canvas_current_grade": c.canvas_current_grade,
        "our_current_score": c.our_current_score,
        "apply_group_weights": bool(c.apply_group_weights),
        "last_synced": when(c.last_synced_canvas),
    } for c, url, term in db.session.execute(query).all()]


def assignment_records(user_id: int, *, course_id: int | None = None,
                       assignment_id: int | None = None) -> list[dict[str, Any]]:
    """The student's assignments with their scores (optionally of one course, or one)."""
    query = (
        select(Assignment, GradeCategory)
        .join(Course, Course.id == Assignment.course_id)
        .outerjoin(GradeCategory, GradeCategory.id == Assignment.grade_category_id)
        .where(Course.user_id == user_id).order_by(Assignment.course_id, Assignment.id)
    )
    if course_id is not None:
        query = query.where(Assignment.course_id == course_id)
    if assignment_id is not None:
        query = query.where(Assignment.id == assignment_id)
    return [{
        "id": a.id, "course_id": a.course_id, "canvas_course_id": a.canvas_course_id,
        "canvas_assignment_id": a.canvas_assignment_id,
        "group": g.name if g is not None else None,
        "group_weight": g.weight if g is not None else None, "name": a.name,
        "due_at": when(a.due_at), "points_possible": a.points_possible, "score": a.score,
        "grade": a.grade, "entered_score": a.entered_score,
        "points_deducted": a.points_deducted, "excused": bool(a.is_excused),
        "missing": bool(a.is_missing), "late": bool(a.is_late),
        "submitted_at": when(a.submitted_at), "graded_at": when(a.graded_at),
    } for a, g in db.session.execute(query).all()]


def event_record(e: GradeEvent) -> dict[str, Any]:
    """One change-ledger row as a record."""
    return {
        "id": e.id, "at": when(e.at), "course_id": e.course_id,
        "canvas_course_id": e.canvas_course_id, "canvas_assignment_id": e.canvas_assignment_id,
        "kind": e.kind, "before": e.before, "after": e.after,
    }


def export_rows(user_id: int) -> dict[str, list[dict[str, Any]]]:
    """The student's three tables as JSON-ready records (timestamps as ISO strings)."""
    events = db.session.scalars(
        select(GradeEvent).where(GradeEvent.user_id == user_id)
        .order_by(GradeEvent.at, GradeEvent.id)
    ).all()
    return {"courses": course_records(user_id), "assignments": assignment_records(user_id),
            "grade_events": [event_record(e) for e in events]}


def export_json(user_id: int, email: str, now: datetime) -> str:
    """The whole export as one JSON document."""
    document = {"exported_at": when(now.replace(microsecond=0)), "email": email,
                **export_rows(user_id)}
    return json.dumps(document, ensure_ascii=False, indent=1)


def _cell(value: Any, kind: str) -> str:
    if value is None:
        return ""
    if kind == "bool":
        return "true" if value else "false"
    if kind == "json":
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if kind == "float":
        return repr(float(value))
    text = str(value)
    if kind == "str" and text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def write_csv(records: Sequence[dict[str, Any]], columns: Columns) -> str:
    """One table as CSV text, with a header row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([name for name, _kind in columns])
    for record in records:
        writer.writerow([_cell(record[name], kind) for name, kind in columns])
    return out.getvalue()


def _value(cell: str, kind: str) -> Any:
    if cell == "":
        return None
    if kind == "int":
        return int(cell)
    if kind == "float":
        return float(cell)
    if kind == "bool":
        return cell == "true"
    if kind == "json":
        return json.loads(cell)
    if kind == "str" and cell.startswith("'") and cell[1:].startswith(FORMULA_STARTS):
        return cell[1:]
    return cell


def read_csv(text: str, columns: Columns) -> list[dict[str, Any]]:
    """The records :func:`write_csv` wrote (an empty text cell reads as none).

    :raises ValueError: the header is not this table's.
    """
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or rows[0] != [name for name, _kind in columns]:
        raise ValueError("the CSV header does not match this table's columns")
    return [{name: _value(cell, kind) for (name, kind), cell in zip(columns, row, strict=True)}
            for row in rows[1:]]
