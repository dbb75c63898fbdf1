"""Sessions that really end: every session and remember cookie names a session generation.

Flask-Login keeps ``User.get_session_id()`` (``"<id>:<version>:<issued_at>"``) in the session
and in the "Keep me signed in" cookie instead of the bare user id. :func:`load_user` accepts it
only while the user's ``session_version`` is still the one in the token and the token is no
older than ``REMEMBER_COOKIE_DURATION``. Logging out raises the version, which ends every
session and remember cookie of that user on every device at once: a copied cookie replayed
after logout is worthless, and a remember cookie stops working after its duration even if the
browser keeps it.
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import update

import clock
from app.extensions import db
from app.models import User

MAX_USER_ID = 2**31 - 1  # users.id is an INTEGER: a larger id cannot exist
CLOCK_SKEW_S = 300  # tokens "issued in the future" by more than this are forged or broken


def _max_age_s() -> float:
    duration = current_app.config.get("REMEMBER_COOKIE_DURATION", timedelta(days=30))
    if isinstance(duration, timedelta):
        return duration.total_seconds()
    return float(duration)


def parse_session_token(token: str) -> tuple[int, int, int] | None:
    """``(user id, version, issued_at)`` from a session token, or None if it is malformed."""
    parts = token.split(":")
    if len(parts) != 3 or not all(p.isascii() and p.isdigit() and len(p) <= 12 for p in parts):
        return None
    user_id, version, issued_at = (int(p) for p in parts)
    return user_id, version, issued_at


def load_user(token: str) -> User | None:
    """Flask-Login's user loader: the user whose current session generation ``token`` names."""
    parsed = parse_session_token(token)
    if parsed is None:
        return None
    user_id, version, issued_at = parsed
    now = clock.timestamp()
    if user_id > MAX_USER_ID or not now - _max_age_s() <= issued_at <= now + CLOCK_SKEW_S:
        return None
    user = db.session.get(User, user_id)
    if user is None or user.session_version != version:
        return None
    return user


def end_all_sessions(user_id: int) -> None:
    """End every session and remember cookie of this user, on every device; commits.

    One atomic UPDATE, so two logouts at once both take effect.
    """
    db.session.execute(
        update(User)
        .where(User.id == user_id)
        .values(session_version=User.session_version + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
