"""The account-level stamp of a token change (read by the scheduler, app.jobs.schedule)."""

from __future__ import annotations

from sqlalchemy import update

from app.extensions import db
from app.models import User, utcnow


def note_token_change(user_id: int) -> None:
    """A stored token changed (any connection's): the scheduler may retry a sync that Canvas
    refused before. Part of the caller's transaction."""
    db.session.execute(
        update(User).where(User.id == user_id).values(canvas_token_changed_at=utcnow())
    )
