""""What do I need": the lowest score on one assignment that reaches a target grade.

Works on the course total or on one grading period's grade; with weighted grading periods
the course total is the weight-average of the periods (see :mod:`app.grades.periods`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

from app.grades.calculator import course_grade
from app.grades.model import GradeGroup, GradeItem, GradingPeriod, Number
from app.grades.periods import period_grades

# Percentages are compared with this slack: the float results of exact fractions can land a
# hair under a target the student reaches exactly (89.99999999999999 for 90).
EPSILON = 1e-9


def needed_score(
    groups: Sequence[GradeGroup],
    assignments: Iterable[GradeItem],
    apply_group_weights: bool,
    target_item_id: int,
    target_percent: float,
    *,
    basis: Literal["current", "final"] = "current",
    what_if: Mapping[int, Number | None] | None = None,
    max_score: float | None = None,
    periods: Sequence[GradingPeriod] = (),
    weighted_periods: bool = False,
    period_id: int | None = None,
) -> float | None:
    """The lowest score on ``target_item_id`` that gets the grade to ``target_percent``.

    The grade is the course total, or period ``period_id``'s grade when given (``periods``
    and ``weighted_periods`` describe the course's grading periods; without periods the
    course total is the plain course grade). ``basis`` "current" leaves other ungraded work
    out (Canvas's default view); "final" counts it as 0. Scores go in steps of 0.01 from 0 to
    ``max_score`` (default: the item's points possible, i.e. no extra credit). Returns 0.0
    when even a 0 reaches the target, None when ``max_score`` does not. Found by bisection,
    which assumes more points never lower the grade (true without drop rules and for either
    rule alone); the score returned always reaches the target.

    :raises ValueError: unknown ``target_item_id``, ``period_id`` or ``what_if`` id.
    """
    items = list(assignments)
    target = next((item for item in items if item.id == target_item_id), None)
    if target is None:
        raise ValueError(f"unknown assignment id {target_item_id}")
    if period_id is not None and all(p.id != period_id for p in periods):
        raise ValueError(f"unknown grading period id {period_id}")
    if max_score is None:
        max_score = target.points_possible or 0.0
    overrides = dict(what_if or {})

    def percent() -> float | None:
        if periods:
            result = period_grades(groups, items, apply_group_weights, periods,
                                   weighted_periods=weighted_periods, what_if=overrides)
            graded = result.period(period_id) if period_id is not None else result
            return graded.current_percent if basis == "current" else graded.final_percent
        plain = course_grade(groups, items, apply_group_weights, what_if=overrides)
        return plain.current_percent if basis == "current" else plain.final_percent

    def reaches(cents: int) -> bool:
        overrides[target_item_id] = cents / 100
        pct = percent()
        return pct is not None and pct >= target_percent - EPSILON

    if reaches(0):
        return 0.0
    high = math.ceil(max(max_score, 0.0) * 100 - EPSILON)
    if high <= 0 or not reaches(high):
        return None
    low = 0  # invariant: reaches(high) and not reaches(low)
    while high - low > 1:
        mid = (low + high) // 2
        if reaches(mid):
            high = mid
        else:
            low = mid
    return high / 100
