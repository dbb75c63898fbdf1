"""The ``grading_period`` table: a course's grading periods as Canvas lists them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime


class GradingPeriod(Base):
    """One grading period (``include[]=grading_periods`` on the course list).

    Assignments point at it through ``assignment.grading_period_id``, which holds the *Canvas*
    id (``canvas_grading_period_id``), as Canvas's submissions do.
    """

    __tablename__ = "grading_period"
    __table_args__ = (UniqueConstraint("course_id", "canvas_grading_period_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    course_id: Mapped[int] = mapped_column(
        ForeignKey("course.id", ondelete="CASCADE"), nullable=False
    )
    canvas_grading_period_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    title: Mapped[str] = mapped_column(String(255), nullable=False)
    weight: Mapped[float | None] = mapped_column(Float)
    start_date: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_date: Mapped[datetime | None] = mapped_column(UTCDateTime)
    close_date: Mapped[datetime | None] = mapped_column(UTCDateTime)
    is_closed: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
