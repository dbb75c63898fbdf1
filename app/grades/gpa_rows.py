"""The GPA's inputs read from the database: the student's scale, credits and courses.

Which letter counts (:mod:`app.grades.gpa`): a concluded course's final letter is Canvas's
final score through the course's own grading scheme (Canvas's ``computed_final_grade`` is
exactly that), else the last letter Canvas showed; a course in progress counts its current
letter, projected. Without a letter, the percentage (Canvas's, else ours) goes through the
chosen scale.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, scoped_session

from app.grades.gpa import (
    CUSTOM_KEY,
    DEFAULT_SCALE_KEY,
    SCALES,
    GoalPlan,
    GpaCourse,
    GpaReport,
    Scale,
    compute_gpa,
    plan_for_target,
)
from app.grades.schemes import parse_scheme, scheme_letter
from app.models import (
    DEFAULT_CREDITS,
    CanvasConnection,
    Course,
    GpaConnection,
    GpaSettings,
    Term,
)
from app.models import GpaCourse as GpaCourseRow

NO_TERM = "No term"

# A plain session or Flask-SQLAlchemy's scoped one.
DbSession = Session | scoped_session[Any]


def load_scale(session: DbSession, user_id: int) -> Scale:
    """The student's chosen scale (the 4.0 scale with +/- until they choose)."""
    settings = session.get(GpaSettings, user_id)
    if settings is None:
        return SCALES[DEFAULT_SCALE_KEY]
    if settings.scale == CUSTOM_KEY and settings.custom_scale:
        rows = tuple((str(r[0]), float(r[1]), float(r[2]))  # type: ignore[arg-type]
                     for r in settings.custom_scale)
        return Scale(CUSTOM_KEY, "custom scale", rows)
    return SCALES.get(settings.scale, SCALES[DEFAULT_SCALE_KEY])


@dataclass(frozen=True, slots=True)
class CourseEntry:
    """One course on the GPA page: the row, its connection, and what the student entered."""

    course: Course
    connection: CanvasConnection
    term: str
    credits: float
    credits_entered: float | None
    default_credits: float
    excluded: bool
    replaces: int | None


def course_letter(course: Course) -> tuple[str | None, float | None, bool]:
    """(letter, percent, projected) for one course, as the module docstring says."""
    if course.concluded:
        scheme = parse_scheme(course.grading_scheme)
        letter = scheme_letter(course.canvas_final_score, scheme) or course.canvas_current_grade
        percent = course.canvas_final_score
        if percent is None:
            percent = course.canvas_current_score
        return letter, percent, False
    percent = course.canvas_current_score
    if percent is None:
        percent = course.our_current_score
    return course.canvas_current_grade, percent, True


def course_entries(session: DbSession, user_id: int) -> tuple[list[CourseEntry], list[str]]:
    """Every course of the student with its credits, and the term names in date order."""
    rows = session.execute(
        select(Course, CanvasConnection, Term, GpaCourseRow, GpaConnection)
        .join(CanvasConnection, CanvasConnection.id == Course.connection_id)
        .outerjoin(Term, Term.id == Course.term_id)
        .outerjoin(GpaCourseRow, GpaCourseRow.course_id == Course.id)
        .outerjoin(GpaConnection, GpaConnection.connection_id == Course.connection_id)
        .where(Course.user_id == user_id)
        .order_by(Course.name, Course.id)
    ).all()
    entries = []
    dated: dict[str, tuple[bool, str]] = {}
    for course, connection, term, entered, defaults in rows:
        name = term.name if term is not None else NO_TERM
        start = term.start_at if term is not None else None
        key = (start is None, start.isoformat() if start else "")
        dated[name] = min(dated.get(name, key), key)
        default = defaults.default_credits if defaults is not None else DEFAULT_CREDITS
        typed = entered.credits if entered is not None else None
        entries.append(CourseEntry(
            course=course, connection=connection, term=name,
            credits=typed if typed is not None else default, credits_entered=typed,
            default_credits=default,
            excluded=bool(entered.excluded) if entered is not None else False,
            replaces=entered.replaces_course_id if entered is not None else None,
        ))
    order = sorted(dated, key=lambda name: (*dated[name], name))
    return entries, order


def to_gpa_course(entry: CourseEntry) -> GpaCourse:
    letter, percent, projected = course_letter(entry.course)
    return GpaCourse(id=entry.course.id, term=entry.term, credits=entry.credits, letter=letter,
                     percent=percent, projected=projected, excluded=entry.excluded,
                     replaces=entry.replaces)


def goal_plan(session: DbSession, user_id: int, target: float) -> GoalPlan | None:
    """The letters the latest term with courses in progress needs to reach ``target``
    (None when no course is in progress)."""
    entries, order = course_entries(session, user_id)
    courses = [to_gpa_course(e) for e in entries]
    open_terms = [name for name in order if any(c.projected and c.term == name for c in courses)]
    if not open_terms:
        return None
    return plan_for_target(courses, load_scale(session, user_id), open_terms[-1], target)


def student_gpa(session: DbSession, user_id: int, *, what_if: Mapping[int, str] | None = None
                ) -> tuple[GpaReport, list[CourseEntry]]:
    """The student's GPA report (with ``what_if`` letters tried) and the courses behind it.

    :raises ValueError: a what-if letter not on the scale, or for a course not the student's.
    """
    entries, order = course_entries(session, user_id)
    report = compute_gpa([to_gpa_course(e) for e in entries], load_scale(session, user_id),
                         what_if=what_if, term_order=order)
    return report, entries
