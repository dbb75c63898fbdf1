"""The ``users`` table: an account (its Canvas connections are ``canvas_connection``)."""

from __future__ import annotations

import time
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from app.models.base import Base, UTCDateTime, utcnow
from app.models.connection import CanvasConnection


class User(UserMixin, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True, nullable=False)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    # The Canvas connections are their own records (app.models.connection), each with the
    # time of its last successful sync.
    # Login slow-down: consecutive failures and when the last one happened.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    last_failed_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Part of every session and "remember me" cookie (see session_token); raising it ends all
    # of this user's sessions at once (logout does).
    session_version: Mapped[int] = mapped_column(
        Integer, default=0, server_default="0", nullable=False
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

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
        return self.session_token(int(time.time()))

    connections: Mapped[list[CanvasConnection]] = relationship(
        CanvasConnection, order_by=CanvasConnection.id, lazy="selectin", viewonly=True
    )

    @property
    def canvas_connected(self) -> bool:
        """Whether at least one connection holds credentials."""
        return any(c.has_credentials for c in self.connections)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"
