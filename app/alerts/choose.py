"""Which of a sync's events and which assignments become alerts, by a student's settings.

Pure: rows in, :class:`Alert` values out, no database and no network. Each alert carries a
``key`` that names its cause once and for all (the ``grade_event`` id, the assignment and its
due date, the failed run), which ``alert_delivery`` keeps unique per channel.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from app.grades.history import describe
from app.models import AlertSettings, Assignment, GradeEvent

GRADE_KINDS = frozenset({"grade_posted", "grade_changed", "excused", "late_penalty"})
DUE_SOON = timedelta(hours=24)


@dataclass(frozen=True)
class Alert:
    """One thing to tell the student: ``subject`` is short, ``text`` is the whole line."""

    key: str
    subject: str
    text: str


def _percent(side: Mapping[str, Any] | None) -> str:
    score = (side or {}).get("score")
    return "—" if score is None else f"{float(score):.1f}%"


def _course_grade(side: Mapping[str, Any] | None) -> str:
    grade = (side or {}).get("grade")
    return f"{_percent(side)} ({grade})" if grade else _percent(side)


def _fell_below(event: GradeEvent, threshold: float | None) -> bool:
    before, after = (event.before or {}).get("score"), (event.after or {}).get("score")
    if threshold is None or after is None:
        return False
    return float(after) < threshold and (before is None or float(before) >= threshold)


def _letter_changed(event: GradeEvent) -> bool:
    before, after = (event.before or {}).get("grade"), (event.after or {}).get("grade")
    return bool(before and after and before != after)


def from_events(
    settings: AlertSettings, events: Iterable[GradeEvent], course_names: Mapping[int, str]
) -> list[Alert]:
    """The alerts these ledger events deserve; a grade alert says what it did to the course."""
    events = list(events)
    course_grade = {
        (e.canvas_course_id, e.at): e for e in events if e.kind == "course_grade_changed"
    }
    alerts: list[Alert] = []
    for event in events:
        course = course_names.get(event.canvas_course_id, f"Course {event.canvas_course_id}")
        key = f"event:{event.id}"
        if event.kind in GRADE_KINDS and settings.on_grade:
            moved = course_grade.get((event.canvas_course_id, event.at))
            effect = (
                f"; course grade {_course_grade(moved.before)} → {_course_grade(moved.after)}"
                if moved is not None
                else ""
            )
            alerts.append(Alert(key, f"{course}: {describe(event)}",
                                f"{course}: {describe(event)}{effect}"))
        elif event.kind == "missing" and settings.on_missing:
            line = f"{course}: {describe(event)}"
            alerts.append(Alert(key, line, line))
        elif event.kind == "course_grade_changed" and settings.on_course_grade:
            below = _fell_below(event, settings.grade_threshold)
            if below or _letter_changed(event):
                why = (
                    f"below your {settings.grade_threshold:g}% alert" if below
                    else "the letter grade changed"
                )
                text = (f"{course}: course grade {_course_grade(event.before)} → "
                        f"{_course_grade(event.after)} ({why})")
                alerts.append(Alert(key, f"{course}: course grade {_percent(event.after)}", text))
    return alerts


def due_soon(
    settings: AlertSettings,
    assignments: Iterable[Assignment],
    course_names: Mapping[int, str],
    now: datetime,
) -> list[Alert]:
    """Assignments due within 24 hours that are not submitted, graded or excused."""
    if not settings.on_due_soon:
        return []
    alerts = []
    for a in assignments:
        if a.due_at is None or not now <= a.due_at <= now + DUE_SOON:
            continue
        if a.submitted_at is not None or a.score is not None or a.is_excused:
            continue
        course = course_names.get(a.canvas_course_id, f"Course {a.canvas_course_id}")
        hours = max(1, round((a.due_at - now).total_seconds() / 3600))
        text = f"{course}: {a.name} is due in about {hours} h and not submitted"
        alerts.append(Alert(f"due:{a.canvas_assignment_id}:{a.due_at:%Y%m%dT%H%M}",
                            f"{course}: {a.name} due soon", text))
    return alerts


def reconnect(settings: AlertSettings, token_stamp: str) -> list[Alert]:
    """The connection needs the student: Canvas refused the token, or none is saved.

    Keyed by when the token was last saved, so a scheduler that retries the same dead token
    sends one alert, and a new token that dies later sends another.
    """
    if not settings.on_reconnect:
        return []
    text = ("GradeSync could not sync: Canvas no longer accepts your access token. "
            "Open Settings and connect Canvas again.")
    return [Alert(f"reconnect:{token_stamp}", "Reconnect Canvas to keep syncing", text)]
