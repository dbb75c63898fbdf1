"""The ``service_heartbeat`` table: when each background service last did its work.

One row per service (``scheduler``: the last tick, in-process or Celery beat's). ``/readyz``
reads it to tell a stalled scheduler from a quiet one.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime


class ServiceHeartbeat(Base):
    __tablename__ = "service_heartbeat"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

    def __repr__(self) -> str:
        return f"<ServiceHeartbeat {self.name} {self.beat_at}>"
