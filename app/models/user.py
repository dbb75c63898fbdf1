"""The ``users`` table: an account (its Canvas connections are ``canvas_connection``)."""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

import clock
from app.models.base import Base, UTCDateTime, utcnow
from app.models.connection import CanvasConnection

# Hourly unless the student picks another interval in Settings (these, in minutes; 0 = off).
DEFAULT_SYNC_INTERVAL_MINUTES = 60
SYNC_INTERVAL_CHOICES: tuple[tuple[int, str], ...] = (
    (15, "Every 15 minutes"),
    (30, "Every 30 minutes"),
    (60, "Every hour"),
    (180, "Every 3 hours"),
    (360, "Every 6 hours"),
    (720, "Every 12 hours"),
    (1440, "Once a day"),
    (0, "Off: only when I click Sync"),
)


class User(UserMixin, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True, nullable=False)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    # The Canvas connections are their own records (app.models.connection), each with the
    # time of its last successful sync.
    # An IANA zone name ("America/Chicago"): every date is shown in it (app.timezones).
    time_zone: Mapped[str | None] = mapped_column(String(64))
    # Login slow-down: consecutive failures and when the last one happened.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    last_failed_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Part of every session and "remember me" cookie (see session_token); raising it ends all
    # of this user's sessions at once (logout does).
    session_version: Mapped[int] = mapped_column(
        Integer, default=0, server_default="0", nullable=False
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    # Automatic syncs: minutes between scheduled syncs, 0 = off (app.jobs.schedule).
    sync_interval_minutes: Mapped[int] = mapped_column(
        Integer, default=DEFAULT_SYNC_INTERVAL_MINUTES,
        server_default=str(DEFAULT_SYNC_INTERVAL_MINUTES), nullable=False
    )
    # SHA-256 (hex) of the calendar feed's secret; the secret itself is never stored.
    calendar_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, index=True)
    # An operator (``flask user create EMAIL --admin``): may open the operator's view (/admin).
    is_admin: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false(), nullable=False
    )

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def session_token(self, issued_at: int) -> str:
        """What the session and the remember cookie carry: ``"<id>:<version>:<issued_at>"``.

        Flask-Login stores this instead of the bare id (``login_manager.id_attribute``), so
        a cookie names the session generation it belongs to and when it was issued;
        ``app.pages.auth.sessions`` refuses it once the version moved on or it is too old.
        """
        return f"{self.id}:{self.session_version}:{issued_at}"

    def get_session_id(self) -> str:
        """The token for a sign-in happening now (Flask-Login's ``id_attribute``)."""
        return self.session_token(int(clock.timestamp()))

    connections: Mapped[list[CanvasConnection]] = relationship(
        CanvasConnection, order_by=CanvasConnection.id, lazy="selectin", viewonly=True
    )

    @property
    def canvas_connected(self) -> bool:
        """Whether at least one connection is usable (``CanvasConnection.usable``)."""
        return any(c.usable for c in self.connections)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"
