"""The what-if calculator behind the course page: hypothetical scores and "what do I need".

Students think in the unit the box shows: a score out of the item's points ("9" of 10) or a
percentage ("90%"). A value far beyond the item's points is a slip (100 meaning 100 %, typed
into a 10-point box), so it is refused with a message next to the box rather than turned into
a 542 % course grade. What-if scores are applied to an in-memory copy of the inputs; the
synced rows are never touched.
"""

from __future__ import annotations

import math
from typing import Any

from app import grades
from app.grades.check import CourseReport, scheme_of
from app.models import Assignment, Course
from app.pages.dashboard.course_page import ALL_PERIODS, course_report, scoped
from app.pages.inputs import parse_id

# Extra credit is real, but rarely more than half the item again: 150 % of its points.
EXTRA_CREDIT_MARGIN = 1.5
# Items worth 0 points are pure extra credit: any score up to this many points.
ZERO_POINT_MAX = 100.0

# "What do I need?" must say what it assumes about the rest of the ungraded work.
ASSUMPTIONS = {
    "exclude": "other ungraded work is left out, as in your current grade",
    "zero": "every other ungraded item scores 0",
    "average": "other ungraded work scores your current average in its group",
}
DEFAULT_ASSUMPTION = "exclude"
# The choices as the course page's select offers them (value, label), default first.
ASSUMPTION_CHOICES = [
    ("exclude", "Leave it out (like your current grade)"),
    ("zero", "Counts as 0"),
    ("average", "Scores your current average"),
]


class ScoreError(ValueError):
    """A what-if entry that cannot be used; the message is for the student."""


def score_limit(points: float | None) -> float:
    """The highest what-if score accepted for an item worth ``points``."""
    return points * EXTRA_CREDIT_MARGIN if points else ZERO_POINT_MAX


def parse_score(value: Any, points: float | None = None) -> float | None:
    """A what-if score from the browser: points ("9"), or a percentage ("90%"); None if blank.

    :raises ScoreError: not a number, negative, or more than :func:`score_limit` allows.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ScoreError("Enter a number, such as 9 or 90%.")
    text = str(value).strip().replace(",", ".")
    percent = text.endswith("%")
    try:
        number = float(text.rstrip("%").strip())
    except ValueError:
        raise ScoreError("Enter a number, such as 9 or 90%.") from None
    if not math.isfinite(number) or number < 0:
        raise ScoreError("Enter a score of 0 or more.")
    if percent:
        if not points:
            raise ScoreError("This item is worth 0 points: enter points, not a percentage.")
        number = number / 100 * points
    limit = score_limit(points)
    if number > limit + 1e-9:
        if points:
            raise ScoreError(
                f"At most {limit:g} points ({EXTRA_CREDIT_MARGIN:.0%} of {points:g}, extra "
                f"credit included). For a percentage, type it with %, e.g. 90%."
            )
        raise ScoreError(f"At most {limit:g} points for an extra-credit item.")
    return number


def what_if(course: Course, scores: Any, target: Any = None, period: str | None = None
            ) -> dict[str, Any]:
    """The grade with hypothetical scores, and optionally the score a target needs.

    The grade is the course total, or grading period ``period``'s grade (its Canvas id;
    ``"all"`` or None: the course total).

    Args:
        scores: ``{assignment id: "9" | "90%" | 9}`` (blank means "as is").
        target: ``{"assignment_id": id, "percent": 90, "assume": "exclude"}`` for "what do I
            need on it?"; ``assume`` is one of :data:`ASSUMPTIONS`.

    Returns the current and what-if grades, ``errors`` (sentences naming the assignment),
    ``field_errors`` (``{assignment id: message}`` for the box) and ``needed``.
    """
    report, assignments = course_report(course)
    by_id = {a.id: a for a in assignments}
    overrides: dict[int, float] = {}
    errors: list[str] = []
    field_errors: dict[str, str] = {}
    for key, value in (scores or {}).items() if isinstance(scores, dict) else ():
        try:
            assignment = by_id[parse_id(key)]
        except (KeyError, ValueError):
            errors.append("An assignment in the form is not part of this course.")
            continue
        try:
            score = parse_score(value, assignment.points_possible)
        except ScoreError as exc:
            errors.append(f"“{assignment.name}”: {exc}")
            field_errors[str(assignment.id)] = str(exc)
            continue
        if score is not None:
            overrides[assignment.id] = score

    period_ids = {str(p.id): p.id for p in report.periods}
    period_id = period_ids.get(period or ALL_PERIODS)
    hypothetical, _ = course_report(course, dict(overrides)) if overrides else (report, None)
    actual = _grade_json(report, period_id)
    imagined = _grade_json(hypothetical, period_id)
    if _rounded(actual["percent"]) == _rounded(imagined["percent"]):
        for assignment_id, score in overrides.items():
            assignment = by_id[assignment_id]
            if score and not assignment.points_possible:
                # Canvas counts a group only once it has points to divide by: extra credit on
                # a 0-point item there is accepted and changes nothing. Say so beside the box.
                message = (f"Worth 0 points in a group that counts nothing yet (no graded "
                           f"points, or no weight), so Canvas adds no extra credit from it: "
                           f"{score:g} changes nothing.")
                errors.append(f"“{assignment.name}”: {message}")
                field_errors[str(assignment_id)] = message
    group_inputs, item_inputs, periods = report.inputs
    inputs = _Inputs(course, group_inputs, item_inputs, scoped(report, period_id)[2], by_id,
                     periods, period_id)
    return {
        "current": actual,
        "what_if": imagined,
        "changed": _rounded(actual["percent"]) != _rounded(imagined["percent"]),
        "errors": errors,
        "field_errors": field_errors,
        "applied": len(overrides),
        "needed": _needed(inputs, overrides, target),
    }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _grade_json(report: CourseReport, period_id: int | None) -> dict[str, Any]:
    percent, final, result = scoped(report, period_id)
    return {
        "percent": percent,
        "final_percent": final,
        # The course's own scheme; no letter where it has none (as Canvas).
        "letter": grades.scheme_letter(percent, scheme_of(report.course)),
        "groups": [{"id": g.group.id, "percent": g.current.percent} for g in result.groups],
    }


class _Inputs:
    """The grade inputs of one course, computed once per request."""

    def __init__(self, course: Course, groups: list[grades.GradeGroup],
                 items: list[grades.GradeItem], actual: grades.GradeResult,
                 by_id: dict[int, Assignment], periods: list[grades.GradingPeriod],
                 period_id: int | None) -> None:
        self.course = course
        self.groups = groups
        self.items = items
        self.actual = actual
        self.by_id = by_id
        self.periods = periods
        self.period_id = period_id

    def averages(self, skip: set[int]) -> dict[int, float]:
        """Scores at the current group average for ungraded counted items not in ``skip``."""
        group_pct = {g.group.id: g.current.percent for g in self.actual.groups}
        course_pct = self.actual.current_percent
        found: dict[int, float] = {}
        for item in self.items:
            if item.id in skip or item.score is not None or not item.counts:
                continue
            pct = group_pct.get(item.group_id) if item.group_id is not None else None
            pct = pct if pct is not None else course_pct
            if pct is not None and item.points_possible:
                found[item.id] = item.points_possible * pct / 100
        return found


def _needed(inputs: _Inputs, overrides: dict[int, float], target: Any) -> dict[str, Any] | None:
    """Answer "what do I need on <assignment> for <target %>?", or None if not asked."""
    if not isinstance(target, dict):
        return None
    asked: dict[str, Any] = target  # JSON from the browser: values may be missing or wrong
    assume = asked.get("assume") or DEFAULT_ASSUMPTION
    if assume not in ASSUMPTIONS:
        return {"score": None, "message": "Choose what to assume about other ungraded work."}
    try:
        # A missing key (KeyError) or a null (TypeError) gets the same answer below.
        assignment = inputs.by_id[parse_id(asked["assignment_id"])]
        percent = float(asked["percent"])
    except (KeyError, TypeError, ValueError, OverflowError):
        return {"score": None, "message": "Choose an assignment and a target percentage."}
    if not math.isfinite(percent) or not 0 <= percent <= 1000:
        return {"score": None, "message": "Enter a target percentage such as 90."}
    others = {k: v for k, v in overrides.items() if k != assignment.id}
    if assume == "average":
        others = inputs.averages(skip={assignment.id, *others}) | others
    score = grades.needed_score(
        inputs.groups, inputs.items, inputs.course.apply_group_weights, assignment.id, percent,
        basis="final" if assume == "zero" else "current", what_if=others or None,
        periods=inputs.periods, weighted_periods=inputs.course.has_weighted_grading_periods,
        period_id=inputs.period_id,
    )
    points = assignment.points_possible or 0
    target_text = f"{percent:g}%"
    if score is None:
        message = (f"Even full marks on “{assignment.name}” would not bring the course to "
                   f"{target_text}.")
    elif score == 0:
        message = f"Any score on “{assignment.name}” keeps the course at {target_text} or above."
    else:
        share = f" ({score / points * 100:.1f}%)" if points else ""
        message = (f"You need {score:g} / {points:g}{share} on “{assignment.name}” for "
                   f"{target_text}.")
    message += f" This assumes {ASSUMPTIONS[assume]}."
    return {"assignment_id": assignment.id, "target": percent, "score": score,
            "assume": assume, "message": message}
