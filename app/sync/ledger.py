"""The grade ledger: what changed between the rows we stored and the rows Canvas sends now.

The writer already holds what the database had for the user (read once per sync) and the rows
it is about to write; these pure functions compare the two and name each difference as a
:class:`SeenChange`. No Canvas request and no extra read is needed. The writer inserts the changes
as ``grade_event`` rows in the course's own transaction, so an event exists exactly when its
change was saved.

Shapes of ``before`` / ``after`` (JSON): every assignment event carries the assignment's
``name`` on the side that still exists; grade events carry ``score``, ``grade`` and
``points_possible``; course events carry the course ``name``, ``score`` and ``grade``.

Why an incremental sync records the same events as a full one: it skips a course's gradebook
only when its content hash equals the stored one, i.e. when every stored row equals what
Canvas sends, so there is nothing to report there; the course row itself (scores, conclusion)
is compared in both.
"""

from __future__ import annotations

import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, insert

from app.extensions import SessionLike
from app.models import GradeEvent

# Core, not the ORM's bulk insert: that one splits rows by which values are None.
EVENT = typing.cast(Table, GradeEvent.__table__)

# What the writer loads per stored assignment to tell what changed.
ASSIGNMENT_LEDGER_FIELDS = (
    "canvas_assignment_id",
    "canvas_course_id",
    "name",
    "due_at",
    "points_possible",
    "score",
    "grade",
    "is_excused",
    "is_missing",
    "points_deducted",
)
# The course grade as the course row has it (a grading period's score joins here once the
# course row stores one).
COURSE_GRADE_FIELDS = {"score": "canvas_current_score", "grade": "canvas_current_grade"}


@dataclass(frozen=True)
class SeenChange:
    """One change the sync saw, before it becomes a ``grade_event`` row."""

    kind: str
    canvas_course_id: int
    canvas_assignment_id: int | None
    before: Any
    after: Any


def _json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _grade(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": row.get("name"),
        "score": row.get("score"),
        "grade": row.get("grade"),
        "points_possible": row.get("points_possible"),
    }


def _entered(row: Mapping[str, Any]) -> float | None:
    """What the teacher typed: Canvas's ``score`` is after the late deduction."""
    score = row.get("score")
    if score is None:
        return None
    return float(score) + float(row.get("points_deducted") or 0)


def course_changes(stored: Mapping[str, Any] | None, row: Mapping[str, Any]) -> list[SeenChange]:
    """Course added, concluded, or its grade moved (``stored`` None: a course new to us)."""
    cid = int(row["canvas_course_id"])
    grade_now = {k: row.get(col) for k, col in COURSE_GRADE_FIELDS.items()}
    if stored is None:
        return [SeenChange("course_added", cid, None, None, {"name": row.get("name"), **grade_now})]
    changes = []
    if row.get("concluded") and not stored.get("concluded"):
        changes.append(
            SeenChange(
                "course_concluded",
                cid,
                None,
                {"concluded": False},
                {"name": row.get("name"), "concluded": True},
            )
        )
    grade_then = {k: stored.get(col) for k, col in COURSE_GRADE_FIELDS.items()}
    # A total the teacher hides (score gone) is not a grade change; its return is.
    if grade_now["score"] is not None and grade_now != grade_then:
        after = {"name": row.get("name"), **grade_now}
        changes.append(SeenChange("course_grade_changed", cid, None, grade_then, after))
    return changes


def assignment_changes(
    stored: Mapping[str, Any] | None, row: Mapping[str, Any]
) -> list[SeenChange]:
    """What happened to one assignment and the student's submission on it."""
    cid, aid = int(row["canvas_course_id"]), int(row["canvas_assignment_id"])
    name = row.get("name")

    def change(kind: str, before: Any, after: Any) -> SeenChange:
        return SeenChange(kind, cid, aid, before, after)

    if stored is None:
        added = change(
            "assignment_added",
            None,
            {
                "name": name,
                "due_at": _json(row.get("due_at")),
                "points_possible": row.get("points_possible"),
            },
        )
        graded = row.get("score") is not None
        return [added, change("grade_posted", None, _grade(row))] if graded else [added]
    changes = []
    deducted = row.get("points_deducted") or 0
    new_penalty = deducted > 0 and deducted != (stored.get("points_deducted") or 0)
    if row.get("score") is not None:
        # A score that moved only by a new late deduction is that deduction (late_penalty);
        # any other move, a lifted deduction included, is a regrade.
        moved = _entered(stored) != _entered(row) or (
            stored.get("score") != row.get("score") and not new_penalty
        )
        if stored.get("score") is None:
            # Includes a grade entered long ago and released (posted) only now.
            changes.append(change("grade_posted", None, _grade(row)))
        elif moved:
            before = {"score": stored.get("score"), "grade": stored.get("grade")}
            changes.append(change("grade_changed", before, _grade(row)))
    if row.get("is_excused") and not stored.get("is_excused"):
        changes.append(
            change("excused", {"excused": False, "score": stored.get("score")}, {"name": name})
        )
    if bool(row.get("is_missing")) != bool(stored.get("is_missing")):
        kind = "missing" if row.get("is_missing") else "missing_cleared"
        was = bool(stored.get("is_missing"))
        changes.append(change(kind, {"missing": was}, {"name": name, "missing": not was}))
    if new_penalty:
        changes.append(
            change(
                "late_penalty",
                {"points_deducted": stored.get("points_deducted")},
                {**_grade(row), "points_deducted": deducted},
            )
        )
    if stored.get("due_at") != row.get("due_at"):
        changes.append(
            change(
                "due_changed",
                {"due_at": _json(stored.get("due_at"))},
                {"name": name, "due_at": _json(row.get("due_at"))},
            )
        )
    if stored.get("points_possible") != row.get("points_possible"):
        changes.append(
            change(
                "points_changed",
                {"points_possible": stored.get("points_possible")},
                {"name": name, "points_possible": row.get("points_possible")},
            )
        )
    return changes


def removed(stored: Mapping[str, Any]) -> SeenChange:
    """An assignment that vanished from Canvas (deleted or unpublished)."""
    return SeenChange(
        "assignment_removed",
        int(stored["canvas_course_id"]),
        int(stored["canvas_assignment_id"]),
        {
            "name": stored.get("name"),
            "due_at": _json(stored.get("due_at")),
            "points_possible": stored.get("points_possible"),
            "score": stored.get("score"),
        },
        None,
    )


def insert_events(
    session: SessionLike,
    user_id: int,
    at: datetime,
    changes: Iterable[tuple[int | None, SeenChange]],
    connection_id: int | None = None,
    sync_run_id: int | None = None,
) -> int:
    """Insert ``(course_id, change)`` pairs as ``grade_event`` rows, one statement, each
    naming the connection and the run that saw it; returns how many."""
    rows = [
        {
            "user_id": user_id,
            "connection_id": connection_id,
            "sync_run_id": sync_run_id,
            "course_id": course_id,
            "canvas_course_id": c.canvas_course_id,
            "canvas_assignment_id": c.canvas_assignment_id,
            "kind": c.kind,
            "before": c.before,
            "after": c.after,
            "at": at,
        }
        for course_id, c in changes
    ]
    if rows:
        session.execute(insert(EVENT), rows)
    return len(rows)
