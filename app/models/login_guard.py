"""The ``login_guard`` table: failure counters for sign-in and registration, shared by processes.

One row per key: ``email:<sha256>`` for emails without an account (accounts keep their own
count in ``users``), ``addr:<client address>`` per client address, ``register:<address>`` for
registrations. Emails are stored hashed: the table must not become a list of addresses people
typed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime


class LoginGuard(Base):
    __tablename__ = "login_guard"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0", nullable=False)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<LoginGuard {self.key} {self.failures}>"
