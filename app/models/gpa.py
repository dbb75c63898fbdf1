"""What the student tells GradeSync for the GPA, and the planner's "done" marks.

Canvas has no credit hours, so they are the student's own entries, kept in tables the sync
never writes: ``gpa_settings`` (the scale), ``gpa_connection`` (the default credits of one
Canvas instance), ``gpa_course`` (a course's credits, left out, or a retake replacing an
earlier attempt). ``assignment_done`` holds the planner's local checkbox; nothing here is ever
sent to Canvas.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime

DEFAULT_CREDITS = 3.0


class GpaSettings(Base):
    __tablename__ = "gpa_settings"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    # A key of app.grades.gpa.SCALES, or "custom" (then custom_scale holds the rows).
    scale: Mapped[str] = mapped_column(String(16), nullable=False, default="4.0+-")
    # [[letter, lowest percent, points], ...] best first; NULL unless scale is "custom".
    custom_scale: Mapped[list[list[object]] | None] = mapped_column(JSON)


class GpaConnection(Base):
    __tablename__ = "gpa_connection"

    connection_id: Mapped[int] = mapped_column(
        ForeignKey("canvas_connection.id", ondelete="CASCADE"), primary_key=True
    )
    default_credits: Mapped[float] = mapped_column(Float, nullable=False)


class GpaCourse(Base):
    __tablename__ = "gpa_course"

    course_id: Mapped[int] = mapped_column(
        ForeignKey("course.id", ondelete="CASCADE"), primary_key=True
    )
    # NULL: the connection's default.
    credits: Mapped[float | None] = mapped_column(Float)
    excluded: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # The earlier attempt this course (a retake) replaces in the cumulative GPA.
    replaces_course_id: Mapped[int | None] = mapped_column(
        ForeignKey("course.id", ondelete="SET NULL")
    )


class AssignmentDone(Base):
    __tablename__ = "assignment_done"

    assignment_id: Mapped[int] = mapped_column(
        ForeignKey("assignment.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    done_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
