"""The ``course`` and ``grade_category`` tables: a Canvas course and its assignment groups."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime


class Course(Base):
    __tablename__ = "course"
    __table_args__ = (UniqueConstraint("connection_id", "canvas_course_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    # The Canvas instance the row came from: Canvas ids are unique per instance only.
    connection_id: Mapped[int] = mapped_column(
        ForeignKey("canvas_connection.id", ondelete="CASCADE"), nullable=False, index=True
    )
    term_id: Mapped[int | None] = mapped_column(ForeignKey("term.id", ondelete="SET NULL"))
    canvas_course_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    course_code: Mapped[str | None] = mapped_column(String(255))
    apply_group_weights: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    canvas_current_score: Mapped[float | None] = mapped_column(Float)
    canvas_final_score: Mapped[float | None] = mapped_column(Float)
    canvas_current_grade: Mapped[str | None] = mapped_column(String(32))
    enrollment_state: Mapped[str | None] = mapped_column(String(32))
    workflow_state: Mapped[str | None] = mapped_column(String(32))
    start_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    concluded: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    # Digest of everything the course's gradebook request returned; lets an incremental sync
    # skip writing a course whose Canvas data did not change.
    content_hash: Mapped[str | None] = mapped_column(String(64))
    # SHA-256 of the raw bytes that gradebook was parsed from, and the hash of its parsed rows
    # alone: the same bytes again need no parse (app.sync.digest). NULL: parse next time.
    response_digest: Mapped[str | None] = mapped_column(String(64))
    gradebook_hash: Mapped[str | None] = mapped_column(String(64))
    last_synced_canvas: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when the course first went missing from every course list while Canvas did not
    # (yet) confirm the enrollment is gone; NULL while Canvas lists it (app.sync.courses).
    missing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Grading periods and the course's own grading scheme (the periods are grading_period rows).
    has_weighted_grading_periods: Mapped[bool] = mapped_column(
        Boolean, default=False, nullable=False
    )
    # The teacher hid totals: Canvas sends no scores, so ours is only an estimate.
    hide_final_grades: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    # The grading standard whose scheme is stored; NULL with grading_scheme NULL: no letters.
    grading_standard_id: Mapped[int | None] = mapped_column(BigInteger)
    # [[name, lower bound as a fraction], ...] highest first, or NULL (no scheme).
    grading_scheme: Mapped[list[list[object]] | None] = mapped_column(JSON)
    canvas_current_period_id: Mapped[int | None] = mapped_column(BigInteger)
    canvas_period_current_score: Mapped[float | None] = mapped_column(Float)
    # Canvas's own letter for the current period (current_period_computed_current_grade).
    canvas_period_current_grade: Mapped[str | None] = mapped_column(String(32))
    # Canvas's "Display Totals for 'All Grading Periods'": False, Canvas shows no total over
    # all periods (only each period's), and neither do we.
    totals_for_all_periods: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    # What the course list said about the periods when GET /courses/:id/grading_periods was
    # last read (weights, close dates): read again only when it changes (app.sync.periods).
    periods_digest: Mapped[str | None] = mapped_column(String(64))
    # The grade check after each sync: our current score, and ours minus Canvas's (course and
    # current period; NULL where Canvas shows no score to compare with).
    our_current_score: Mapped[float | None] = mapped_column(Float)
    score_difference: Mapped[float | None] = mapped_column(Float)
    period_score_difference: Mapped[float | None] = mapped_column(Float)
    # Canvas recomputes its totals in a background job after a grade change: when a sync first
    # saw the current difference, and whether it outlived the recompute (app.grades.settling:
    # "settling", "persisted", "aged"; NULL when the last sync saw no difference).
    differs_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    difference_status: Mapped[str | None] = mapped_column(String(16))


class GradeCategory(Base):
    """A Canvas assignment group: weight, position and drop rules."""

    __tablename__ = "grade_category"
    __table_args__ = (UniqueConstraint("course_id", "canvas_group_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    course_id: Mapped[int] = mapped_column(
        ForeignKey("course.id", ondelete="CASCADE"), nullable=False
    )
    canvas_group_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    weight: Mapped[float | None] = mapped_column(Float)
    position: Mapped[int | None] = mapped_column(Integer)
    drop_lowest: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    drop_highest: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    # Canvas assignment ids that are never dropped.
    never_drop: Mapped[list[int]] = mapped_column(JSON, default=list, nullable=False)
