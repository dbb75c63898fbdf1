"""The ``sync_run`` table: one sync of one user, with live progress."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime, utcnow

ACTIVE_STATUSES = ("queued", "running")
FINISHED_STATUSES = ("succeeded", "failed", "interrupted")
# summary["trigger"] of a run the scheduler queued (app.jobs.enqueue), not a person.
SCHEDULED_TRIGGER = "schedule"


class SyncRun(Base):
    __tablename__ = "sync_run"
    __table_args__ = (
        # At most one queued-or-running sync per user: the database, not the app, is the
        # referee when two clicks or two workers race.
        Index(
            "uq_sync_run_one_active_per_user",
            "user_id",
            unique=True,
            postgresql_where=text("status IN ('queued', 'running')"),
            sqlite_where=text("status IN ('queued', 'running')"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    kind: Mapped[str] = mapped_column(String(16), nullable=False, default="full")
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="queued")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    phase: Mapped[str | None] = mapped_column(String(32))
    courses_done: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    courses_total: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    message: Mapped[str | None] = mapped_column(Text)
    requests: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    error: Mapped[str | None] = mapped_column(Text)
    # Which process holds the run ("host:pid") and when it last showed signs of life: how a
    # starting process tells a dead process's run from a live one elsewhere.
    worker: Mapped[str | None] = mapped_column(String(255))
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The results dict the sync returned (counts, timings), for the history page.
    summary: Mapped[dict | None] = mapped_column(JSON)
    # The id of the web request (or CLI/scheduler tick) that asked for the run: the same id is
    # on every log line of the request, the Celery task and the alert delivery (app.logs).
    request_id: Mapped[str | None] = mapped_column(String(64))

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def percent(self) -> int:
        if self.status == "succeeded":
            return 100
        if not self.courses_total:
            return 0
        return min(99, int(100 * self.courses_done / self.courses_total))

    @property
    def duration_s(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None
