"""The grade check: our grades computed as Canvas does, compared with Canvas's own.

:func:`build_report` computes a course's grade the way Canvas does (:mod:`app.grades`: grading
periods, pending review, drops, weights) and pairs it with the scores Canvas sent in the
course list (course total, current grading period). The sync calls :func:`check_values` on
every gradebook it parsed, before writing, so the result lands in the course row's own write
(no extra statement); the dashboard, the course page and ``flask grades`` read
:func:`course_reports` from the stored rows: the same maths, so they never disagree.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from types import SimpleNamespace
from typing import Any, Protocol

from sqlalchemy import select

from app import grades
from app.extensions import SessionLike
from app.grades import settling
from app.models import Assignment, Course, GradeCategory, GradingPeriod, utcnow

logger = logging.getLogger(__name__)

# Canvas shows scores with 2 decimals: a difference below one hundredth is no difference.
SCORE_TOLERANCE = 0.01


class CourseFacts(Protocol):
    """What the grade check reads of a course (a ``Course`` row, or a parsed row)."""

    apply_group_weights: bool
    has_weighted_grading_periods: bool
    hide_final_grades: bool
    canvas_current_score: float | None
    canvas_current_period_id: int | None
    canvas_period_current_score: float | None
    grading_scheme: list[list[object]] | None
    totals_for_all_periods: bool
    canvas_current_grade: str | None
    canvas_period_current_grade: str | None


@dataclass(frozen=True)
class PeriodReport:
    """One grading period: our score, and Canvas's where it sent one (the current period)."""

    id: int  # Canvas id
    title: str
    weight: float | None
    is_closed: bool
    is_current: bool
    current_score: float | None
    final_score: float | None
    canvas_current_score: float | None
    canvas_letter: str | None = None  # Canvas's own (current_period_computed_current_grade)


@dataclass(frozen=True)
class CourseReport:
    """A course's grade as we compute it, beside Canvas's."""

    course: Any  # the Course row (CourseFacts when computed before writing)
    current_score: float | None
    final_score: float | None
    # Canvas's own letter (computed_current_grade) where Canvas shows one; ours, from the
    # course's scheme, is only for what-if and "what do I need" (``our_letter``).
    letter: str | None
    periods: tuple[PeriodReport, ...]
    result: grades.GradeResult | grades.PeriodsResult
    inputs: tuple[list[grades.GradeGroup], list[grades.GradeItem], list[grades.GradingPeriod]]

    @property
    def hidden(self) -> bool:
        """The teacher hid totals: ours is only an estimate, and nothing can differ."""
        return bool(self.course.hide_final_grades)

    @property
    def shows_total(self) -> bool:
        """Canvas shows a total over all grading periods. With periods and "Display Totals for
        'All Grading Periods'" off it shows none (canvas-lms ``GradebooksController#
        exclude_total?``, ``GradeSummaryPresenter``; the course list still sends
        ``computed_current_score``), so neither do we."""
        return not self.periods or getattr(self.course, "totals_for_all_periods", True) \
            is not False

    @property
    def our_letter(self) -> str | None:
        """Our current score's letter under the course's scheme (what-if, "what do I need")."""
        return grades.scheme_letter(self.current_score, scheme_of(self.course))

    @property
    def canvas_current_score(self) -> float | None:
        return None if self.hidden or not self.shows_total else self.course.canvas_current_score

    @property
    def current_period(self) -> PeriodReport | None:
        return next((p for p in self.periods if p.is_current), None)

    @property
    def course_differs(self) -> bool:
        return scores_differ(self.canvas_current_score, self.current_score)

    @property
    def period_differs(self) -> bool:
        period = self.current_period
        return period is not None and not self.hidden and scores_differ(
            period.canvas_current_score, period.current_score)

    @property
    def differs(self) -> bool:
        return self.course_differs or self.period_differs

    @property
    def settling(self) -> bool:
        """A difference the last sync saw soon after a grade change: Canvas may still be
        recomputing its total (:mod:`app.grades.settling`), so it is not flagged yet."""
        return self.differs and getattr(self.course, "difference_status", None) == \
            settling.SETTLING

    @property
    def flagged(self) -> bool:
        """A difference that outlived Canvas's recompute: shown as "differs"."""
        return self.differs and not self.settling

    @property
    def difference_status(self) -> str | None:
        """Why a flagged difference counts (``persisted``/``aged``; None: not recorded)."""
        return getattr(self.course, "difference_status", None) if self.flagged else None


def round2(value: float | None) -> float | None:
    """Rounded as Canvas rounds a score: 2 decimals, half away from zero."""
    if value is None:
        return None
    if not math.isfinite(value) or abs(value) >= 1e15:
        return value  # beyond any real score (junk points); nothing to round
    return float(Decimal(repr(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def scores_differ(canvas: float | None, ours: float | None) -> bool:
    """Canvas shows a score and ours is missing or off by more than the tolerance.

    Without a Canvas score (totals hidden, nothing graded) there is nothing to differ from.
    """
    if canvas is None:
        return False
    if ours is None:
        return True
    return abs(canvas - ours) > SCORE_TOLERANCE + 1e-9


def scheme_of(course: CourseFacts) -> grades.GradingScheme | None:
    """The course's stored grading scheme (None: the course has none, so no letters)."""
    try:
        return grades.parse_scheme(course.grading_scheme)
    except (ValueError, TypeError, IndexError):
        return None


def build_report(course: CourseFacts, categories: Sequence[Any], assignments: Sequence[Any],
                 period_rows: Sequence[Any],
                 what_if: dict[int, float | None] | None = None) -> CourseReport:
    """One course's report from its rows (``what_if``: assignment row id -> score)."""
    groups, items = grades.from_rows(categories, assignments)
    periods = grades.periods_from_rows(period_rows)
    result: grades.GradeResult | grades.PeriodsResult
    reports: list[PeriodReport] = []
    if periods:
        result = grades.period_grades(groups, items, course.apply_group_weights, periods,
                                      weighted_periods=course.has_weighted_grading_periods,
                                      what_if=what_if or None)
        for graded in result.periods:
            is_current = graded.period.id == course.canvas_current_period_id
            reports.append(PeriodReport(
                id=graded.period.id, title=graded.period.title, weight=graded.period.weight,
                is_closed=graded.period.is_closed, is_current=is_current,
                current_score=round2(graded.current_percent),
                final_score=round2(graded.final_percent),
                canvas_current_score=(course.canvas_period_current_score
                                      if is_current and not course.hide_final_grades
                                      else None),
                canvas_letter=(getattr(course, "canvas_period_current_grade", None)
                               if is_current and not course.hide_final_grades else None),
            ))
    else:
        result = grades.course_grade(groups, items, course.apply_group_weights,
                                     what_if=what_if or None)
    current = round2(result.current_percent)
    shows_total = not reports or getattr(course, "totals_for_all_periods", True) is not False
    return CourseReport(
        course=course,
        current_score=current,
        final_score=round2(result.final_percent),
        letter=None if course.hide_final_grades or not shows_total
        else getattr(course, "canvas_current_grade", None),
        periods=tuple(reports),
        result=result,
        inputs=(groups, items, periods),
    )


def course_reports(session: SessionLike, user_id: int,
                   canvas_course_ids: Iterable[int] | None = None) -> list[CourseReport]:
    """Reports for the user's courses (or the listed ones), by name; four queries in all."""
    query = select(Course).where(Course.user_id == user_id).order_by(Course.name, Course.id)
    if canvas_course_ids is not None:
        query = query.where(Course.canvas_course_id.in_(list(canvas_course_ids)))
    courses = list(session.scalars(query))
    ids = [c.id for c in courses]
    groups: dict[int, list[GradeCategory]] = {cid: [] for cid in ids}
    items: dict[int, list[Assignment]] = {cid: [] for cid in ids}
    periods: dict[int, list[GradingPeriod]] = {cid: [] for cid in ids}
    if ids:
        for group in session.scalars(select(GradeCategory).where(GradeCategory.course_id.in_(ids))
                                     .order_by(GradeCategory.position, GradeCategory.id)):
            groups[group.course_id].append(group)
        for item in session.scalars(select(Assignment).where(Assignment.course_id.in_(ids))
                                    .order_by(Assignment.position, Assignment.due_at,
                                              Assignment.id)):
            items[item.course_id].append(item)
        for period in session.scalars(select(GradingPeriod)
                                      .where(GradingPeriod.course_id.in_(ids))
                                      .order_by(GradingPeriod.start_date, GradingPeriod.id)):
            periods[period.course_id].append(period)
    return [build_report(c, groups[c.id], items[c.id], periods[c.id]) for c in courses]


# What the check reads of a course row besides its gradebook and periods (CourseFacts minus the
# scheme, which only names letters), and the columns it writes.
CHECK_INPUTS = ("apply_group_weights", "has_weighted_grading_periods", "hide_final_grades",
                "canvas_current_score", "canvas_current_period_id", "canvas_period_current_score")
CHECK_COLUMNS = ("our_current_score", "score_difference", "period_score_difference")


def stored_check(stored: Mapping[str, Any] | None, row: Mapping[str, Any],
                 digest: str) -> dict[str, float | None] | None:
    """The stored course's check values when nothing the check reads has changed, else None.

    ``digest`` is the new gradebook-and-periods digest (``course_digest``): equal to the stored
    one, and with the same course facts, the maths would give the same numbers, so a no-change
    sync skips them.
    """
    if stored is None or stored.get("content_hash") != digest:
        return None
    if any(stored.get(key) != row.get(key) for key in CHECK_INPUTS):
        return None
    return {key: stored.get(key) for key in CHECK_COLUMNS}


def check_values(row: Mapping[str, Any], periods: Sequence[Mapping[str, Any]],
                 groups: Sequence[Mapping[str, Any]], assignments: Sequence[Mapping[str, Any]]
                 ) -> dict[str, float | None]:
    """The grade check's columns for a course row, from the parsed (not yet written) rows.

    The parsed rows stand in for the stored ones: groups and assignments keyed by their Canvas
    ids, an assignment outside every listed group in no group (as the writer stores it).
    """
    group_ids = {g["canvas_group_id"] for g in groups}
    categories = [SimpleNamespace(**g, id=g["canvas_group_id"]) for g in groups]
    items = [
        SimpleNamespace(**a, id=a["canvas_assignment_id"],
                        grade_category_id=a["canvas_group_id"]
                        if a.get("canvas_group_id") in group_ids else None)
        for a in assignments
    ]
    facts = SimpleNamespace(**{"grading_scheme": None, **row})
    try:
        report = build_report(facts, categories, items, [SimpleNamespace(**p) for p in periods])
    except (ArithmeticError, ValueError) as exc:  # junk numbers: the check says nothing
        logger.warning("course %s: grade check skipped (%s)", row.get("canvas_course_id"), exc)
        return {"our_current_score": None, "score_difference": None,
                "period_score_difference": None}
    period = report.current_period
    return {
        "our_current_score": report.current_score,
        # Checked even where Canvas's pages hide the all-periods total: the API still sends it.
        "score_difference": _difference(
            report.current_score, None if report.hidden else report.course.canvas_current_score),
        "period_score_difference": _difference(
            period.current_score if period else None,
            period.canvas_current_score if period else None),
    }


def check_course(stored: Mapping[str, Any] | None, row: Mapping[str, Any], digest: str,
                 periods: Sequence[Mapping[str, Any]], groups: Sequence[Mapping[str, Any]],
                 assignments: Sequence[Mapping[str, Any]], now: datetime | None = None
                 ) -> dict[str, Any]:
    """The grade check's columns for the course row this sync writes, and whether a
    difference is flagged yet (:func:`app.grades.settling.settle`, timed by ``now``, by
    default ``clock.now()``: when Canvas's totals were just read)."""
    checked: dict[str, Any] = dict(stored_check(stored, row, digest)
                                   or check_values(row, periods, groups, assignments))
    return {**checked, **settling.settle(stored, differs(row, checked), assignments,
                                         now or utcnow())}


def differs(row: Mapping[str, Any], checked: Mapping[str, Any]) -> bool:
    """Whether the check's values put our grade and Canvas's apart (before settling)."""
    period_gap = checked["period_score_difference"]
    return bool((not row.get("hide_final_grades") and scores_differ(
        row.get("canvas_current_score"), checked["our_current_score"])) or (
        period_gap is not None and abs(period_gap) > SCORE_TOLERANCE + 1e-9))


def _difference(ours: float | None, canvas: float | None) -> float | None:
    """Ours minus Canvas's; None when Canvas shows no score (nothing to compare)."""
    if canvas is None:
        return None
    if ours is None:
        return -canvas  # Canvas has a grade and we have none: the whole of it is missing
    return round2(ours - canvas)
