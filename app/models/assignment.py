"""The ``assignment`` table: an assignment and the student's own submission on it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime


class Assignment(Base):
    __tablename__ = "assignment"
    __table_args__ = (UniqueConstraint("course_id", "canvas_assignment_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    course_id: Mapped[int] = mapped_column(
        ForeignKey("course.id", ondelete="CASCADE"), nullable=False
    )
    grade_category_id: Mapped[int | None] = mapped_column(
        ForeignKey("grade_category.id", ondelete="SET NULL")
    )
    canvas_assignment_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    canvas_course_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    position: Mapped[int | None] = mapped_column(Integer)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    points_possible: Mapped[float | None] = mapped_column(Float)
    grading_type: Mapped[str | None] = mapped_column(String(32))
    # Canvas's submission types, comma-joined as Canvas stores them ("online_upload,online_url");
    # an assignment whose only type is not_graded or wiki_page is not in the grade.
    submission_types: Mapped[str | None] = mapped_column(String(255))
    omit_from_final_grade: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    # The student's submission. NULL score/grade = not graded or not yet posted.
    score: Mapped[float | None] = mapped_column(Float)
    grade: Mapped[str | None] = mapped_column(String(64))
    # What the teacher typed, before a late or missing deduction (points_deducted below).
    entered_score: Mapped[float | None] = mapped_column(Float)
    # The submission's Canvas grading period id (grading_period.canvas_grading_period_id).
    grading_period_id: Mapped[int | None] = mapped_column(BigInteger)
    is_excused: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    is_missing: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    is_late: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    # Canvas's late-policy deduction: ``score`` is already after it.
    points_deducted: Mapped[float | None] = mapped_column(Float)
    workflow_state: Mapped[str | None] = mapped_column(String(32))
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    graded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    canvas_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_synced_canvas: Mapped[datetime | None] = mapped_column(UTCDateTime)
