"""The grade ledger read back: a user's changes, in words, and a course's grade over time.

:mod:`app.sync.ledger` writes ``grade_event`` rows; this module is what the dashboard, the
course page and ``flask changes`` read. Every query filters by the user.

All events of one sync share one ``at`` (the sync's start), which is how an assignment's event
finds its effect on the course grade: the ``course_grade_changed`` of the same course and sync.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.models import Course, GradeEvent

FEED_LIMIT = 20


@dataclass(frozen=True)
class Change:
    """One event as people read it: "Lab 4 graded 18/20", "course 87.1% → 88.0%"."""

    kind: str
    at: datetime
    course_id: int | None
    course_name: str
    text: str
    effect: str | None  # the course grade before → after, when this sync moved it


def events_for(
    user_id: int,
    *,
    since: datetime | None = None,
    course_id: int | None = None,
    limit: int | None = None,
    newest_first: bool = True,
) -> list[GradeEvent]:
    """The user's events (optionally one course's, or from ``since`` on)."""
    query = select(GradeEvent).where(GradeEvent.user_id == user_id)
    if since is not None:
        query = query.where(GradeEvent.at >= since)
    if course_id is not None:
        query = query.where(GradeEvent.course_id == course_id)
    if newest_first:
        query = query.order_by(GradeEvent.at.desc(), GradeEvent.id.desc())
    else:
        query = query.order_by(GradeEvent.at, GradeEvent.id)
    if limit is not None:
        query = query.limit(limit)
    return list(db.session.scalars(query))


def as_json(event: GradeEvent) -> dict[str, Any]:
    """The ``flask changes --json`` shape (a contract with scripts: do not rename)."""
    return {
        "kind": event.kind,
        "canvas_course_id": event.canvas_course_id,
        "canvas_assignment_id": event.canvas_assignment_id,
        "before": event.before,
        "after": event.after,
        "at": event.at.isoformat(),
    }


def _n(value: Any) -> str:
    if value is None:
        return "—"
    return f"{float(value):.2f}".rstrip("0").rstrip(".")


def _out_of(side: dict[str, Any]) -> str:
    score, points = side.get("score"), side.get("points_possible")
    if score is None:
        return side.get("grade") or "—"
    return f"{_n(score)}/{_n(points)}" if points else _n(score)


def _percent(side: dict[str, Any] | None) -> str:
    score = (side or {}).get("score")
    return "—" if score is None else f"{float(score):.1f}%"


def describe(event: GradeEvent) -> str:
    """One line about what happened, without the course name."""
    before: dict[str, Any] = event.before or {}
    after: dict[str, Any] = event.after or {}
    name = after.get("name") or before.get("name") or "An assignment"
    kind = event.kind
    if kind == "grade_posted":
        return f"{name} graded {_out_of(after)}"
    if kind == "grade_changed":
        old = _out_of({**before, "points_possible": after.get("points_possible")})
        return f"{name} regraded {old} → {_out_of(after)}"
    if kind == "excused":
        return f"{name} excused"
    if kind == "missing":
        return f"{name} marked missing"
    if kind == "missing_cleared":
        return f"{name} no longer missing"
    if kind == "late_penalty":
        return f"{name}: late penalty −{_n(after.get('points_deducted'))}, now {_out_of(after)}"
    if kind == "assignment_added":
        return f"New assignment: {name} ({_n(after.get('points_possible'))} pts)"
    if kind == "assignment_removed":
        return f"Assignment removed: {name}"
    if kind == "due_changed":
        due = after.get("due_at")
        return f"{name} now due {due[:10]}" if due else f"{name} no longer has a due date"
    if kind == "points_changed":
        return f"{name} now out of {_n(after.get('points_possible'))} points"
    if kind == "course_added":
        return "Course added"
    if kind == "course_concluded":
        return "Course concluded"
    if kind == "course_grade_changed":
        return f"Course grade {_percent(before)} → {_percent(after)}"
    return kind.replace("_", " ")


def feed(
    user_id: int, *, course_id: int | None = None, limit: int = FEED_LIMIT
) -> list[Change]:
    """The latest changes, newest first, each with its effect on the course grade.

    A ``course_grade_changed`` is folded into the assignment events of its sync; it stands on
    its own only when nothing else in that course and sync explains it.
    """
    # Folded grade events take rows from the limit: read a few more than shown.
    events = events_for(user_id, course_id=course_id, limit=limit * 3)
    return as_changes(user_id, events)[:limit]


def as_changes(user_id: int, events: Sequence[GradeEvent]) -> list[Change]:
    """``events`` in words, in their order, with each one's effect on the course grade."""
    names = _course_names(user_id, {e.course_id for e in events if e.course_id is not None})
    moved = {
        (e.canvas_course_id, e.at): e for e in events if e.kind == "course_grade_changed"
    }
    explained = {
        (e.canvas_course_id, e.at) for e in events if e.kind != "course_grade_changed"
    }
    changes = []
    for event in events:
        key = (event.canvas_course_id, event.at)
        if event.kind == "course_grade_changed" and key in explained:
            continue
        grade = moved.get(key) if event.kind != "course_grade_changed" else None
        effect = None
        if grade is not None:
            effect = f"course {_percent(grade.before)} → {_percent(grade.after)}"
        # A course event's own name outlives the course row (a deleted course keeps its events).
        own = (event.after or event.before or {}) if event.kind.startswith("course") else {}
        changes.append(
            Change(
                kind=event.kind,
                at=event.at,
                course_id=event.course_id,
                course_name=names.get(event.course_id or 0) or own.get("name") or "A course",
                text=describe(event),
                effect=effect,
            )
        )
    return changes


def _course_names(user_id: int, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = db.session.execute(
        select(Course.id, Course.name).where(Course.user_id == user_id, Course.id.in_(ids))
    )
    return {course_id: name for course_id, name in rows}


@dataclass(frozen=True)
class GradePoint:
    at: datetime
    score: float


def grade_series(user_id: int, course: Course) -> list[GradePoint]:
    """The course grade over time: each recorded change, ending with the current score."""
    events: Sequence[GradeEvent] = [
        e
        for e in events_for(user_id, course_id=course.id, newest_first=False)
        if e.kind == "course_grade_changed"
    ]
    points: list[GradePoint] = []
    if events and (events[0].before or {}).get("score") is not None:
        # The grade before the first change held from the previous sync; place it there.
        first = events[0]
        points.append(GradePoint(first.at, float(first.before["score"])))
    for event in events:
        score = (event.after or {}).get("score")
        if score is not None:
            points.append(GradePoint(event.at, float(score)))
    if course.canvas_current_score is not None and course.last_synced_canvas is not None:
        if not points or points[-1].score != course.canvas_current_score:
            points.append(GradePoint(course.last_synced_canvas, course.canvas_current_score))
    return points
