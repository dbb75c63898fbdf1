"""Helpers for tests that sync against the Canvas simulator.

``assert_db_matches(user, student)`` compares everything the database holds for ``user`` with
``student.expected()`` (the simulator's oracle), field by field, and fails with a list of every
difference (course, group or assignment id, field, database value, expected value).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from app.extensions import db
from app.models import Assignment, CanvasConnection, Course, GradeCategory, Term

COURSE_FIELDS = {  # expected() key -> course column
    "name": "name",
    "course_code": "course_code",
    "apply_group_weights": "apply_group_weights",
    "computed_current_score": "canvas_current_score",
    "computed_final_score": "canvas_final_score",
    "concluded": "concluded",
}
GROUP_FIELDS = ("name", "weight", "position", "drop_lowest", "drop_highest", "never_drop")
ASSIGNMENT_FIELDS = {  # expected() key -> assignment column
    "name": "name",
    "position": "position",
    "due_at": "due_at",
    "points_possible": "points_possible",
    "grading_type": "grading_type",
    "omit_from_final_grade": "omit_from_final_grade",
    "updated_at": "canvas_updated_at",
    "score": "score",
    "grade": "grade",
    "excused": "is_excused",
    "missing": "is_missing",
    "late": "is_late",
    "workflow_state": "workflow_state",
    "submitted_at": "submitted_at",
    "graded_at": "graded_at",
    "posted_at": "posted_at",
}


def db_snapshot(user_id: int, connection_id: int | None = None) -> dict[int, dict[str, Any]]:
    """The user's courses as stored (only one connection's, if given), in the shape of
    ``Student.expected()``."""
    session = db.session
    course_filter = [Course.user_id == user_id]
    term_filter = [Term.user_id == user_id]
    if connection_id is not None:
        course_filter.append(Course.connection_id == connection_id)
        term_filter.append(Term.connection_id == connection_id)
    courses = session.scalars(select(Course).where(*course_filter)).all()
    terms = {t.id: t for t in session.scalars(select(Term).where(*term_filter))}
    snapshot: dict[int, dict[str, Any]] = {}
    for course in courses:
        groups = session.scalars(
            select(GradeCategory).where(GradeCategory.course_id == course.id)
        ).all()
        canvas_group = {g.id: g.canvas_group_id for g in groups}
        assignments = session.scalars(
            select(Assignment).where(Assignment.course_id == course.id)
        ).all()
        term = terms.get(course.term_id) if course.term_id else None
        entry: dict[str, Any] = {k: getattr(course, col) for k, col in COURSE_FIELDS.items()}
        entry["term"] = (
            {
                "id": term.canvas_term_id,
                "name": term.name,
                "start_at": term.start_at,
                "end_at": term.end_at,
            }
            if term
            else None
        )
        entry["groups"] = {
            g.canvas_group_id: {
                **{f: getattr(g, f) for f in GROUP_FIELDS},
                "never_drop": sorted(g.never_drop or []),
            }
            for g in groups
        }
        entry["assignments"] = {
            a.canvas_assignment_id: {
                **{k: getattr(a, col) for k, col in ASSIGNMENT_FIELDS.items()},
                "group_id": canvas_group.get(a.grade_category_id),
            }
            for a in assignments
        }
        snapshot[course.canvas_course_id] = entry
    return snapshot


def _diff(path: str, got: Any, want: Any, out: list[str]) -> None:
    if isinstance(want, dict) and isinstance(got, dict):
        for key in sorted(set(want) | set(got), key=str):
            if key not in got:
                out.append(f"{path}/{key}: missing from the database")
            elif key not in want:
                out.append(f"{path}/{key}: in the database but not in Canvas")
            else:
                _diff(f"{path}/{key}", got[key], want[key], out)
        return
    if got != want or type(got) is bool and type(want) is not bool:
        out.append(f"{path}: database {got!r} != expected {want!r}")


def db_differences(user_id: int, student: Any, connection_id: int | None = None) -> list[str]:
    """Every difference between the database and ``student.expected()`` (empty = equal)."""
    differences: list[str] = []
    _diff("courses", db_snapshot(user_id, connection_id), student.expected(), differences)
    return differences


def assert_no_duplicates(user_id: int) -> None:
    """Each natural key appears once (the UNIQUE constraints say so; this proves it)."""
    session = db.session
    checks = [
        (
            Course.canvas_course_id,
            Course.user_id == user_id,
            (Course.connection_id, Course.canvas_course_id),
        ),
        (Term.canvas_term_id, Term.user_id == user_id, (Term.connection_id, Term.canvas_term_id)),
    ]
    for _column, where, group_by in checks:
        dupes = session.execute(
            select(*group_by, func.count())
            .where(where)
            .group_by(*group_by)
            .having(func.count() > 1)
        ).all()
        assert not dupes, f"duplicate rows: {dupes}"
    course_ids = select(Course.id).where(Course.user_id == user_id)
    for model, key in (
        (Assignment, Assignment.canvas_assignment_id),
        (GradeCategory, GradeCategory.canvas_group_id),
    ):
        dupes = session.execute(
            select(model.course_id, key, func.count())
            .where(model.course_id.in_(course_ids))
            .group_by(model.course_id, key)
            .having(func.count() > 1)
        ).all()
        assert not dupes, f"duplicate {model.__tablename__} rows: {dupes}"


def assert_db_matches(user: Any, student: Any, connection: Any = None) -> None:
    """The database holds exactly what ``student`` sees in Canvas, field by field (with
    ``connection``: what is stored under that connection, and nothing else of it)."""
    user_id = user if isinstance(user, int) else user.id
    connection_id = connection if connection is None or isinstance(connection, int) else (
        connection.id
    )
    db.session.expire_all()
    differences = db_differences(user_id, student, connection_id)
    assert_no_duplicates(user_id)
    assert not differences, (
        f"{len(differences)} differences between the database and Canvas:\n  "
        + "\n  ".join(differences[:40])
    )


def row_counts(user_id: int) -> dict[str, int]:
    """How many term, course, group and assignment rows the user has."""
    session = db.session
    course_ids = select(Course.id).where(Course.user_id == user_id)
    return {
        "term": session.scalar(
            select(func.count()).select_from(Term).where(Term.user_id == user_id)
        )
        or 0,
        "course": session.scalar(
            select(func.count()).select_from(Course).where(Course.user_id == user_id)
        )
        or 0,
        "grade_category": session.scalar(
            select(func.count())
            .select_from(GradeCategory)
            .where(GradeCategory.course_id.in_(course_ids))
        )
        or 0,
        "assignment": session.scalar(
            select(func.count()).select_from(Assignment).where(Assignment.course_id.in_(course_ids))
        )
        or 0,
    }


def connections_of(user: Any) -> list[CanvasConnection]:
    """The user's Canvas connections as stored now, oldest first."""
    user_id = user if isinstance(user, int) else user.id
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(CanvasConnection)
            .where(CanvasConnection.user_id == user_id)
            .order_by(CanvasConnection.id)
        )
    )


def only_connection(user: Any) -> CanvasConnection | None:
    """The user's one connection (None when there is none; fails when there are several)."""
    connections = connections_of(user)
    assert len(connections) <= 1, f"expected at most one connection, found {connections}"
    return connections[0] if connections else None


def add_fake_connection(
    user: Any, url: str = "https://canvas.example.edu", token: bytes = b"x"
) -> CanvasConnection:
    """A stored connection that no sync will reach (for page tests); commits."""
    connection = CanvasConnection(
        user_id=user.id, base_url=url, access_token_encrypted=token, status="ok"
    )
    db.session.add(connection)
    db.session.commit()
    return connection


def connection_id_for(user: Any) -> int:
    """The id of the user's first connection, adding a fake one if there is none."""
    connections = connections_of(user)
    if connections:
        return connections[0].id
    return add_fake_connection(user).id
