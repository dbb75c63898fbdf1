"""The bulk upsert helpers, on SQLite and Postgres: insert, no-op, change detection, chunks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, func, select

from app.models import Assignment, Course, GradeCategory, User
from app.sync.upserts import (
    ASSIGNMENT,
    GROUP,
    dedupe,
    delete_absent,
    upsert,
    upsert_assignments,
    upsert_groups,
)
from tests.sync_helpers import connection_id_for


@pytest.fixture
def course_id(db: Any) -> int:
    user = User(email="u@example.edu", password_hash="x")
    db.session.add(user)
    db.session.flush()
    course = Course(user_id=user.id, connection_id=connection_id_for(user),
                    canvas_course_id=1, name="Biology")
    db.session.add(course)
    db.session.commit()
    return course.id


def group_row(course_id: int, gid: int, **changes: Any) -> dict[str, Any]:
    row = {
        "course_id": course_id,
        "canvas_group_id": gid,
        "name": f"Group {gid}",
        "weight": 25.0,
        "position": gid,
        "drop_lowest": 0,
        "drop_highest": 0,
        "never_drop": [],
    }
    row.update(changes)
    return row


def assignment_row(course_id: int, aid: int, **changes: Any) -> dict[str, Any]:
    row = {
        "course_id": course_id,
        "canvas_assignment_id": aid,
        "canvas_course_id": 1,
        "grade_category_id": None,
        "name": f"Lab {aid}",
        "position": aid,
        "due_at": datetime(2025, 1, 24, 5, 59, 59, tzinfo=UTC),
        "points_possible": 20.0,
        "grading_type": "points",
        "omit_from_final_grade": False,
        "score": None,
        "grade": None,
        "is_excused": False,
        "is_missing": False,
        "is_late": False,
        "workflow_state": "unsubmitted",
        "submitted_at": None,
        "graded_at": None,
        "posted_at": None,
        "canvas_updated_at": datetime(2025, 1, 1, tzinfo=UTC),
    }
    row.update(changes)
    return row


def count_statements(db: Any) -> list[str]:
    seen: list[str] = []

    @event.listens_for(db.engine, "before_cursor_execute")
    def _count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    return seen


def test_insert_then_same_rows_write_nothing(db: Any, course_id: int) -> None:
    rows = [group_row(course_id, g) for g in (1, 2, 3)]
    first = upsert_groups(db.session, rows)
    db.session.commit()
    assert first.rows_written == 3
    again = upsert_groups(db.session, rows)
    db.session.commit()
    assert again.rows_written == 0
    assert db.session.scalar(select(func.count()).select_from(GradeCategory)) == 3


def test_only_changed_rows_are_updated(db: Any, course_id: int) -> None:
    upsert_assignments(
        db.session,
        [assignment_row(course_id, a) for a in (1, 2, 3)],
        also_set={"last_synced_canvas": datetime(2025, 1, 1, tzinfo=UTC)},
    )
    db.session.commit()
    later = datetime(2025, 6, 1, tzinfo=UTC)
    changed = [
        assignment_row(course_id, 1),
        assignment_row(course_id, 2, score=18.0, grade="18"),  # newly posted grade
        assignment_row(course_id, 3),
    ]
    result = upsert_assignments(db.session, changed, also_set={"last_synced_canvas": later})
    db.session.commit()
    assert [r.canvas_assignment_id for r in result.rows] == [2]
    rows = {a.canvas_assignment_id: a for a in db.session.scalars(select(Assignment))}
    assert rows[2].score == 18.0 and rows[2].last_synced_canvas == later
    # The untouched rows keep their bookkeeping column: also_set never forces a write.
    assert rows[1].last_synced_canvas == datetime(2025, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ({"score": 10.0}, {"score": None}),  # a grade hidden again: value -> NULL
        ({"score": None}, {"score": 0.0}),  # NULL -> 0 is a change, not "both falsy"
        ({"due_at": None}, {"due_at": datetime(2025, 3, 1, tzinfo=UTC)}),
        ({"is_excused": False}, {"is_excused": True}),
        ({"name": "Lab"}, {"name": "Lab (revised) ✔"}),
    ],
)
def test_null_safe_change_detection(
    db: Any, course_id: int, before: dict[str, Any], after: dict[str, Any]
) -> None:
    upsert_assignments(db.session, [assignment_row(course_id, 7, **before)], also_set={})
    db.session.commit()
    result = upsert_assignments(db.session, [assignment_row(course_id, 7, **after)], also_set={})
    db.session.commit()
    assert result.rows_written == 1
    stored = db.session.scalar(select(Assignment))
    for key, value in after.items():
        assert getattr(stored, key) == value


def test_json_column_changes_are_detected(db: Any, course_id: int) -> None:
    upsert_groups(db.session, [group_row(course_id, 1, never_drop=[5, 9])])
    db.session.commit()
    assert upsert_groups(db.session, [group_row(course_id, 1, never_drop=[5, 9])]).rows_written == 0
    assert upsert_groups(db.session, [group_row(course_id, 1, never_drop=[5])]).rows_written == 1
    db.session.commit()
    assert db.session.scalar(select(GradeCategory)).never_drop == [5]


def test_duplicate_keys_in_one_batch_keep_the_last(db: Any, course_id: int) -> None:
    rows = [
        group_row(course_id, 1, name="old"),
        group_row(course_id, 2),
        group_row(course_id, 1, name="new"),
    ]
    result = upsert_groups(db.session, rows)
    db.session.commit()
    assert result.rows_written == 2
    names = dict(
        db.session.execute(select(GradeCategory.canvas_group_id, GradeCategory.name)).all()
    )
    assert names == {1: "new", 2: "Group 2"}
    assert [r["name"] for r in dedupe(rows, ("course_id", "canvas_group_id"))] == ["new", "Group 2"]


def test_rows_are_chunked(db: Any, course_id: int) -> None:
    statements = count_statements(db)
    rows = [group_row(course_id, g) for g in range(1, 8)]
    result = upsert(
        db.session,
        GROUP,
        rows,
        key=("course_id", "canvas_group_id"),
        returning=("id",),
        chunk_size=3,
    )
    db.session.commit()
    assert result.statements == 3
    assert len([s for s in statements if s.lstrip().upper().startswith("INSERT")]) == 3
    assert result.rows_written == 7


def test_delete_absent_keeps_listed_rows_and_scope(db: Any, course_id: int) -> None:
    owner = db.session.scalar(select(User))
    other = Course(user_id=owner.id, connection_id=connection_id_for(owner), canvas_course_id=2,
                   name="Other")
    db.session.add(other)
    db.session.commit()
    upsert_assignments(db.session, [assignment_row(course_id, a) for a in (1, 2, 3)], also_set={})
    upsert_assignments(db.session, [assignment_row(other.id, 1)], also_set={})
    db.session.commit()
    deleted = delete_absent(
        db.session, ASSIGNMENT, scope={"course_id": course_id}, key="canvas_assignment_id", keep=[2]
    )
    db.session.commit()
    assert deleted == 2
    left = db.session.execute(
        select(Assignment.course_id, Assignment.canvas_assignment_id).order_by(Assignment.course_id)
    ).all()
    assert [tuple(r) for r in left] == [(course_id, 2), (other.id, 1)]
    # Keeping nothing empties the scope (a course whose last assignment was deleted).
    assert (
        delete_absent(
            db.session,
            ASSIGNMENT,
            scope={"course_id": course_id},
            key="canvas_assignment_id",
            keep=[],
        )
        == 1
    )
