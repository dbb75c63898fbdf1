"""The ``users`` table: an account and its Canvas connection."""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import BigInteger, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from app.models.base import Base, UTCDateTime, utcnow


class User(UserMixin, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True, nullable=False)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    canvas_base_url: Mapped[str | None] = mapped_column(String(255))
    # Fernet ciphertext; see app.security. Never the token itself.
    canvas_token_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    canvas_user_id: Mapped[int | None] = mapped_column(BigInteger)
    canvas_user_name: Mapped[str | None] = mapped_column(String(255))
    last_canvas_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Login slow-down: consecutive failures and when the last one happened.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    last_failed_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def canvas_connected(self) -> bool:
        return bool(self.canvas_base_url and self.canvas_token_encrypted)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"
