"""What one assignment is worth: its share of the course grade, in percent.

From the group weights and points, on the *final* basis (every assignment that counts, graded
or not): ``group's share of the course x points possible / the group's points possible``. In a
course without group weights a group's share is its points over the course's, so this is
simply ``points possible / the course's points possible``. An assignment the drop rules leave
out today is shown with the share it has if it counts. Grading-period weights are not applied
(the share is of the grade over the assignments' own course list).
"""

from __future__ import annotations

from collections.abc import Sequence

from app.grades.calculator import course_grade
from app.grades.model import GradeGroup, GradeItem


def assignment_worth(groups: Sequence[GradeGroup], items: Sequence[GradeItem],
                     apply_group_weights: bool) -> dict[int, float | None]:
    """Each item's share of the course grade in percent; None when it is not in the grade."""
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
