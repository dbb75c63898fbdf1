"""``api_token``: a student's personal tokens for the read-only API (``/api/v1/``).

The token itself is shown once, when it is created, and never stored: the row keeps its
SHA-256 (``token_hash``) and a short visible ``prefix`` (``gsk_`` and 8 characters) by which
the student recognises it in Settings and by which a request's token is looked up. A revoked
token keeps its row (``revoked_at`` set) so Settings can say when it stopped working.

The per-token rate limit lives in the row too (``rate_window_start``, ``rate_count``): every
web process (gunicorn runs several) counts against the same window.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime, utcnow


class ApiToken(Base):
    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    # What the student called it ("my spreadsheet").
    name: Mapped[str] = mapped_column(String(60), nullable=False)
    # The token's first 12 characters: shown in Settings, and the lookup key.
    prefix: Mapped[str] = mapped_column(String(16), nullable=False, index=True)
    # SHA-256 (hex) of the whole token.
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The rate limit's current window: when it began and the requests counted in it.
    rate_window_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rate_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0",
                                            nullable=False)
