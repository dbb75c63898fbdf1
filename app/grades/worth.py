"""What one assignment is worth: its share of the course grade, in percent.

From the group weights and points, on the *final* basis (every assignment that counts, graded
or not): ``group's share of the course x points possible / the group's points possible``. In a
course without group weights a group's share is its points over the course's, so this is
simply ``points possible / the course's points possible``. An assignment the drop rules leave
out today is shown with the share it has if it counts.

With **weighted grading periods** the course total is the periods' grades weighted
(:mod:`app.grades.periods`: on the final basis every period's weight counts, and weights
summing to under 100 are scaled up to 100, never down: canvas-lms ``lib/grade_calculator.rb``
``apply_grading_period_weights_to_scores`` / ``scale_and_round_scores``), so an assignment's
share is its share of its period's grade times that period's weight (scaled). An assignment
in no period is in no period's grade, so in no share of the total.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.grades.calculator import course_grade
from app.grades.model import GradeGroup, GradeItem, GradingPeriod


def assignment_worth(groups: Sequence[GradeGroup], items: Sequence[GradeItem],
                     apply_group_weights: bool, periods: Sequence[GradingPeriod] = (),
                     *, weighted_periods: bool = False) -> dict[int, float | None]:
    """Each item's share of the course grade in percent; None when it is not in the grade
    (``periods`` and ``weighted_periods``: the course's grading periods, module docstring)."""
    if not (weighted_periods and periods):
        return _worth(groups, items, apply_group_weights)
    weights = {period.id: period.weight or 0.0 for period in periods}
    total = sum(weights.values())
    scale = 100 / total if 0 < total < 100 else 1.0
    worth: dict[int, float | None] = {item.id: None for item in items}
    for period in periods:
        inside = [item for item in items if item.grading_period_id == period.id]
        for item_id, share in _worth(groups, inside, apply_group_weights).items():
            if share is not None and total > 0:
                worth[item_id] = share * weights[period.id] / 100 * scale
    return worth


def _worth(groups: Sequence[GradeGroup], items: Sequence[GradeItem],
           apply_group_weights: bool) -> dict[int, float | None]:
    """Each item's share of the grade over ``items`` alone (a course, or one period)."""
    result = course_grade(groups, items, apply_group_weights)
    by_group = {g.group.id: g.final for g in result.groups}
    worth: dict[int, float | None] = {}
    for item in items:
        final = by_group.get(item.group_id) if item.group_id is not None else None
        points = item.points_possible or 0.0
        if final is None or not item.counts or points <= 0:
            worth[item.id] = None
            continue
        possible = final.possible + (points if item.id in final.dropped else 0.0)
        weight = final.effective_weight
        if item.id in final.dropped and not apply_group_weights:
            # Counting it would add its points to the course's: recompute the share.
            total = sum(g.final.possible for g in result.groups) + points
            worth[item.id] = points / total * 100 if total > 0 else None
            continue
        if weight <= 0 and apply_group_weights and item.id in final.dropped:
            weight = next((g.weight or 0.0 for g in groups if g.id == item.group_id), 0.0)
        worth[item.id] = weight * points / possible if possible > 0 else None
    return worth
