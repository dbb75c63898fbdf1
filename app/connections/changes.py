"""A connection's token-change stamp (read by the scheduler, app.jobs.schedule)."""

from __future__ import annotations

from app.models import CanvasConnection, utcnow


def note_token_change(connection: CanvasConnection) -> None:
    """A token was saved for ``connection``: a refusal of the old one no longer holds (see
    ``CanvasConnection.rejected``), and a scheduled sync may try it. Part of the caller's
    transaction."""
    connection.token_changed_at = utcnow()
