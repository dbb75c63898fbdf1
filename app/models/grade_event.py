"""The ``grade_event`` table: the grade ledger, one row per change a sync saw.

Rows are written by the sync (``app.sync.ledger``) in the same transaction as the change
itself, and never updated. ``course_id`` becomes NULL when the course row goes away; the Canvas
ids stay, so the history outlives the course. ``sync_run_id`` and ``connection_id`` name the run
and the connection whose sync saw the change (the alerts select a run's events by them); NULL
for rows written before they were recorded, for a sync without a run, and ``connection_id``
once its connection is removed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime

EVENT_KINDS = (
    "grade_posted",
    "grade_changed",
    "excused",
    "missing",
    "missing_cleared",
    "late_penalty",
    "assignment_added",
    "assignment_removed",
    "due_changed",
    "points_changed",
    "course_added",
    "course_concluded",
    "course_grade_changed",
)


class GradeEvent(Base):
    __tablename__ = "grade_event"
    __table_args__ = (
        # "This user's latest": the dashboard feed and `flask changes`.
        Index("ix_grade_event_user_id_at", "user_id", "at"),
        # A course page's own history and chart.
        Index("ix_grade_event_course_id_at", "course_id", "at"),
        # A run's events: its alerts.
        Index("ix_grade_event_sync_run_id", "sync_run_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    course_id: Mapped[int | None] = mapped_column(ForeignKey("course.id", ondelete="SET NULL"))
    # No foreign key: runs are pruned (app.jobs.runs), the events stay.
    sync_run_id: Mapped[int | None] = mapped_column(Integer)
    connection_id: Mapped[int | None] = mapped_column(
        ForeignKey("canvas_connection.id", ondelete="SET NULL")
    )
    canvas_course_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    canvas_assignment_id: Mapped[int | None] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    before: Mapped[Any] = mapped_column(JSON(none_as_null=True), nullable=True)
    after: Mapped[Any] = mapped_column(JSON(none_as_null=True), nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
