"""The ``progress_stream`` table: the progress streams open now, so every process sees them.

A row is inserted when a progress stream opens and deleted when it ends; ``seen_at`` is
refreshed with each heartbeat, so rows left by a process that died stop counting after a few
seconds (see ``app.pages.sync.streams``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime, utcnow


class ProgressStream(Base):
    __tablename__ = "progress_stream"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True, nullable=False
    )
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    def __repr__(self) -> str:
        return f"<ProgressStream {self.id} user {self.user_id}>"
