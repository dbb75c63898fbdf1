"""Saving what the student enters on the GPA page; each bad value is a one-line error."""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy.orm import Session, scoped_session

from app.grades.gpa import CUSTOM_KEY, SCALES, parse_custom_scale
from app.models import Course, GpaConnection, GpaCourse, GpaSettings

MAX_CREDITS = 100.0

# A plain session or Flask-SQLAlchemy's scoped one.
DbSession = Session | scoped_session[Any]


class GpaInputError(ValueError):
    """A value the student typed that cannot be kept; the message says what to fix."""


def parse_credits(text: str | None, *, blank_ok: bool) -> float | None:
    """Credits typed in a form: a number from 0 to 100 (blank means "use the default")."""
    text = (text or "").strip()
    if not text:
        if blank_ok:
            return None
        raise GpaInputError("Enter the default credits, e.g. 3.")
    try:
        value = float(text)
    except ValueError:
        raise GpaInputError(f"Credits must be a number, e.g. 3 or 4.5 (not {text[:20]!r}).") \
            from None
    if not math.isfinite(value) or not 0 <= value <= MAX_CREDITS:
        raise GpaInputError(f"Credits must be between 0 and {MAX_CREDITS:g}.")
    return value


def save_scale(session: DbSession, user_id: int, key: str, custom_text: str) -> None:
    """Keep the chosen scale (a custom one is parsed first, so a bad table keeps the old)."""
    settings = session.get(GpaSettings, user_id) or GpaSettings(user_id=user_id)
    if key == CUSTOM_KEY:
        try:
            scale = parse_custom_scale(custom_text)
        except ValueError as exc:
            raise GpaInputError(str(exc)[:1].upper() + str(exc)[1:] + ".") from None
        settings.custom_scale = [list(row) for row in scale.rows]
    elif key not in SCALES:
        raise GpaInputError("Choose one of the scales listed.")
    settings.scale = key
    session.add(settings)
    session.commit()


def save_course(session: DbSession, course: Course, credits_text: str | None, excluded: bool,
                replaces_text: str | None) -> None:
    """Keep one course's credits, whether it is left out, and the attempt it replaces."""
    credits = parse_credits(credits_text, blank_ok=True)
    replaces: int | None = None
    if replaces_text:
        try:
            replaces = int(replaces_text)
        except ValueError:
            raise GpaInputError("Choose the earlier attempt from the list.") from None
        earlier = session.get(Course, replaces)
        if earlier is None or earlier.user_id != course.user_id or earlier.id == course.id:
            raise GpaInputError("Choose the earlier attempt from the list.")
    entry = session.get(GpaCourse, course.id) or GpaCourse(course_id=course.id)
    entry.credits = credits
    entry.excluded = excluded
    entry.replaces_course_id = replaces
    session.add(entry)
    session.commit()


def save_connection_default(session: DbSession, connection_id: int, text: str | None) -> None:
    """Keep the default credits for every course of one Canvas connection."""
    value = parse_credits(text, blank_ok=False)
    assert value is not None
    entry = session.get(GpaConnection, connection_id) or GpaConnection(
        connection_id=connection_id)
    entry.default_credits = value
    session.add(entry)
    session.commit()
