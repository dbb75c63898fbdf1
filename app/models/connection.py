"""The ``canvas_connection`` table: one Canvas instance a user syncs from.

A user has any number of connections (a student at two colleges). Terms and courses hang off
their connection, so two instances that both have a course 123 never collide, and removing one
leaves the other's rows alone. Credentials are Fernet ciphertext (``app.security``), never the
tokens themselves.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from app.models.base import Base, UTCDateTime, utcnow

# status values: "ok"; "expiring" (a personal token within its warning window);
# "needs_reconnect" (Canvas refused the token or the refresh); "disconnected" (credentials
# forgotten, data kept).
CONNECTION_STATUSES = ("ok", "expiring", "needs_reconnect", "disconnected")
AUTH_KINDS = ("token", "oauth")


class CanvasConnection(Base):
    __tablename__ = "canvas_connection"
    __table_args__ = (UniqueConstraint("user_id", "base_url"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    label: Mapped[str | None] = mapped_column(String(100))
    # NULL only for a connection carried over from an account that had disconnected before
    # connections were records: its rows are kept, the address is unknown.
    base_url: Mapped[str | None] = mapped_column(String(255))
    auth_kind: Mapped[str] = mapped_column(
        String(16), default="token", server_default="token", nullable=False
    )
    canvas_user_id: Mapped[int | None] = mapped_column(BigInteger)
    canvas_user_name: Mapped[str | None] = mapped_column(String(255))
    access_token_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    refresh_token_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(
        String(32), default="ok", server_default="ok", nullable=False
    )
    # The connection's sync state, its own (the scheduler, the alerts and every "synced
    # before?" read these and nothing else):
    # when the last successful sync started (the engine writes it; NULL: never synced),
    last_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # when its first successful sync started, the ledger's baseline, and which run that was
    # (NULL with a baseline: a run since pruned, or one before runs were recorded here),
    baseline_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    baseline_run_id: Mapped[int | None] = mapped_column(Integer)
    # when its token was last saved (Settings, ``canvas connect``, the OAuth2 sign-in),
    token_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # when Canvas last refused its credentials (or they could not be used) in a sync.
    rejected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    @hybrid_property
    def usable(self) -> bool:
        """Whether a sync can try this connection: an address and a token are stored. The one
        answer to "connected?" (in Python and, as ``CanvasConnection.usable``, in SQL)."""
        return bool(self.base_url and self.access_token_encrypted)

    @usable.inplace.expression
    @classmethod
    def _usable_expression(cls) -> ColumnElement[bool]:
        return cls.base_url.is_not(None) & cls.access_token_encrypted.is_not(None)

    @property
    def rejected(self) -> bool:
        """Canvas refused this token and it has not been replaced since: a scheduled sync
        would fail the same way, so none is started until the student saves a new one."""
        return token_rejected(self.rejected_at, self.token_changed_at)

    @property
    def display_name(self) -> str:
        """The label the student chose, else the Canvas host."""
        if self.label:
            return self.label
        if self.base_url:
            return self.base_url.split("://", 1)[-1]
        return "Earlier Canvas connection"

    def __repr__(self) -> str:  # never the credentials
        return f"<CanvasConnection {self.id} user={self.user_id} {self.base_url}>"


def token_rejected(rejected_at: datetime | None, token_changed_at: datetime | None) -> bool:
    """A refusal stands until a token is saved after it."""
    return rejected_at is not None and (token_changed_at is None or token_changed_at <= rejected_at)


class CanvasOAuthClient(Base):
    """A school's developer key for "Connect with Canvas", registered once by an operator."""

    __tablename__ = "canvas_oauth_client"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    base_url: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    client_id: Mapped[str] = mapped_column(String(255), nullable=False)
    # Fernet ciphertext (app.security), never the secret itself.
    client_secret_encrypted: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    # The scopes asked for at Canvas (``url:GET|/api/v1/...``), space-separated, as the school's
    # key allows them; NULL asks for GradeSync's own list (app/connections/scopes.py), so a
    # new version's list reaches every key that was registered without one.
    scopes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    def __repr__(self) -> str:  # never the secret
        return f"<CanvasOAuthClient {self.base_url} {self.client_id}>"
