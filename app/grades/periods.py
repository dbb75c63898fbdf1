"""Grading periods: a grade per period and the course total over all of them.

Canvas's rules (``GradeCalculator`` and the JS ``calculateWithGradingPeriods``):

* An assignment belongs to the period its submission (or assignment) names through
  ``grading_period_id``; each period's grade is the ordinary course grade over its own
  assignments (groups without any are left out, drop rules apply within the period).
* **Weighted** grading periods: the course total is ``sum(period grade * period weight)``,
  scaled up by ``100 / sum of the weights counted`` when those weights sum to less than 100
  and never scaled down. Which weights count differs between the two totals (canvas-lms
  ``lib/grade_calculator.rb`` ``apply_grading_period_weights_to_scores`` and
  ``scale_and_round_scores``; the JS ``ui/shared/grading/CourseGradeCalculator.ts``
  ``combineGradingPeriodGrades`` agrees):

  - **current**: only the periods that have a current score (``weight if
    score.current_score``; the JS filters on ``possible``): a period with nothing graded is
    left out of the weight. No period with a score gives None.
  - **final**: *every* period's weight counts, a period with nothing graded adding 0
    (``scores[:final][:full_weight] += weight`` unconditionally, ``final_score || 0.0``).
    Weights summing to 0 give 0.0 (``scale_score_up``).
* **Not weighted**: the course total is the ordinary grade over every assignment.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from fractions import Fraction

from app.grades.calculator import apply_what_if, course_grade
from app.grades.model import (
    GradeGroup,
    GradeItem,
    GradingPeriod,
    Number,
    PeriodGrade,
    PeriodsResult,
)

_ZERO = Fraction(0)


def period_grades(
    groups: Sequence[GradeGroup],
    assignments: Iterable[GradeItem],
    apply_group_weights: bool,
    periods: Sequence[GradingPeriod],
    *,
    weighted_periods: bool,
    what_if: Mapping[int, Number | None] | None = None,
) -> PeriodsResult:
    """Each period's grade and the course total, as Canvas computes them.

    ``what_if`` works as in :func:`course_grade` and applies to every period.

    :raises ValueError: ``what_if`` names an item that is not in ``assignments``.
    """
    items = apply_what_if(list(assignments), what_if)
    per_period = tuple(
        PeriodGrade(p, course_grade(groups, [i for i in items if i.grading_period_id == p.id],
                                    apply_group_weights))
        for p in periods
    )
    everything = course_grade(groups, items, apply_group_weights)
    if weighted_periods and periods:
        current = weighted_total((p.current_percent, p.period.weight) for p in per_period)
        final = weighted_total(((p.final_percent, p.period.weight) for p in per_period),
                               every_weight=True)
    else:
        current, final = everything.current_percent, everything.final_percent
    return PeriodsResult(weighted_periods, current, final, per_period, everything)


def weighted_total(scores: Iterable[tuple[float | None, float | None]], *,
                   every_weight: bool = False) -> float | None:
    """Weight-average (percent, weight) pairs Canvas's way (module docstring).

    Current (default): None percents are left out, and nothing left gives None.
    ``every_weight`` (the final score): every weight counts, a None percent as 0; weights
    summing to 0 give 0.0.
    """
    total = _ZERO
    weight_sum = _ZERO
    for percent, weight in scores:
        if percent is None and not every_weight:
            continue
        w = Fraction(weight or 0)
        total += Fraction(percent or 0) * w
        weight_sum += w
    if weight_sum == 0:
        return 0.0 if every_weight else None
    # Scaled up to 100 when the counted weights fall short, never down when they exceed it.
    return float(total / min(weight_sum, Fraction(100)))


def current_period(periods: Sequence[GradingPeriod], now: datetime) -> GradingPeriod | None:
    """The period ``now`` falls in (start inclusive, end exclusive), or None."""
    for period in periods:
        if period.start_date is None or period.end_date is None:
            continue
        if period.start_date <= now < period.end_date:
            return period
    return None
