"""One course grade (current and final) from groups and items, the way Canvas computes it.

* An assignment counts unless it is excused, omitted from the final grade or not graded
  (its only submission type is ``not_graded`` or ``wiki_page``, as canvas-lms's
  ``Assignment.gradeable`` scope decides: :func:`app.grades.model.not_graded`);
  ``points_possible`` None counts as 0.
* The **current** grade leaves out ungraded assignments (score None: not graded yet, or not
  posted) and submissions pending review; the **final** grade counts ungraded ones as 0 and
  pending-review ones at their partial score. Drop rules run separately for each.
* Weighted courses: groups with kept points > 0 take part; ``sum(pct * weight)`` is scaled up
  by ``100 / sum(weights)`` when the weights sum to less than 100 (never scaled down). All
  weights 0 gives None. Unweighted: ``sum(earned) / sum(possible)``, None when nothing is
  possible. Arithmetic is exact (fractions) until the result.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction

from app.grades.drops import Candidate, apply_drop_rules
from app.grades.model import GradeGroup, GradeItem, GradeResult, GroupGrade, GroupScore, Number

_ZERO = Fraction(0)


def course_grade(
    groups: Sequence[GradeGroup],
    assignments: Iterable[GradeItem],
    apply_group_weights: bool,
    *,
    what_if: Mapping[int, Number | None] | None = None,
) -> GradeResult:
    """Compute the current and final course grade the way Canvas does.

    ``what_if`` maps item ids to hypothetical scores (None = as if ungraded). A what-if score
    counts as a finished grade (not excused, not pending review), since the student asks
    "what if I got this"; the inputs are never modified. Items whose group is not in
    ``groups`` are ignored, as in Canvas.

    :raises ValueError: ``what_if`` names an item that is not in ``assignments``.
    """
    items = apply_what_if(list(assignments), what_if)
    by_group: dict[int | None, list[GradeItem]] = {}
    for item in items:
        by_group.setdefault(item.group_id, []).append(item)

    current = [_group_sum(g, by_group.get(g.id, []), final=False) for g in groups]
    final = [_group_sum(g, by_group.get(g.id, []), final=True) for g in groups]
    current_pct, current_weights = _combine(groups, current, apply_group_weights)
    final_pct, final_weights = _combine(groups, final, apply_group_weights)

    breakdown = tuple(
        GroupGrade(
            group=g,
            current=_group_result(c, current_weights[i]),
            final=_group_result(f, final_weights[i]),
        )
        for i, (g, c, f) in enumerate(zip(groups, current, final, strict=True))
    )
    return GradeResult(apply_group_weights, current_pct, final_pct, breakdown)


def apply_what_if(items: list[GradeItem], what_if: Mapping[int, Number | None] | None
                  ) -> list[GradeItem]:
    """``items`` with the hypothetical scores put in (new objects; the inputs are kept).

    :raises ValueError: ``what_if`` names an item that is not in ``items``.
    """
    if not what_if:
        return items
    unknown = set(what_if) - {item.id for item in items}
    if unknown:
        raise ValueError(f"what-if scores for unknown assignments: {sorted(unknown)}")
    return [
        replace(item, score=_as_float(what_if[item.id]), excused=False, pending_review=False)
        if item.id in what_if else item
        for item in items
    ]


def _as_float(value: float | Fraction | None) -> float | None:
    return None if value is None else float(value)


@dataclass(slots=True)
class _Sum:
    """Internal exact result of one group."""

    earned: Fraction
    possible: Fraction
    counted: list[int]
    dropped: list[int]


def _included(item: GradeItem, final: bool) -> bool:
    if not item.counts:
        return False
    return True if final else item.counts_in_current


def _group_sum(group: GradeGroup, items: Sequence[GradeItem], *, final: bool) -> _Sum:
    exact = [
        (index, item, Fraction(item.score or 0), Fraction(item.points_possible or 0))
        for index, item in enumerate(items)
        if _included(item, final)
    ]
    den = math.lcm(*(x.denominator for _, _, s, p in exact for x in (s, p)))
    fixed: list[Candidate] = []
    droppable: list[Candidate] = []
    for index, item, score, points in exact:
        cand = Candidate(int(score * den), int(points * den), index, item.id)
        (fixed if item.id in group.never_drop else droppable).append(cand)

    kept = apply_drop_rules(droppable, fixed, group.drop_lowest, group.drop_highest)
    kept_ids = {c.item_id for c in kept}
    counted = sorted(fixed + kept, key=lambda c: c.index)
    return _Sum(
        earned=Fraction(sum(c.score for c in counted), den),
        possible=Fraction(sum(c.points for c in counted), den),
        counted=[c.item_id for c in counted],
        dropped=[c.item_id for c in droppable if c.item_id not in kept_ids],
    )


def _combine(groups: Sequence[GradeGroup], sums: Sequence[_Sum], weighted: bool
             ) -> tuple[float | None, list[float]]:
    """The course percentage and each group's effective weight in percent."""
    if weighted:
        weights = [Fraction(g.weight or 0) if s.possible > 0 else _ZERO
                   for g, s in zip(groups, sums, strict=True)]
        full_weight = sum(weights, _ZERO)
        if full_weight == 0:
            return None, [0.0] * len(groups)
        grade = sum((s.earned / s.possible * w for s, w in zip(sums, weights, strict=True)
                     if w), _ZERO)
        # Canvas scales up when the weights in play sum below 100, never down.
        scale = Fraction(100) / full_weight if full_weight < 100 else Fraction(1)
        return float(grade * scale), [float(w * scale) for w in weights]

    earned = sum((s.earned for s in sums), _ZERO)
    possible = sum((s.possible for s in sums), _ZERO)
    if possible <= 0:
        return None, [0.0] * len(groups)
    return (float(earned / possible * 100),
            [float(s.possible / possible * 100) for s in sums])


def _group_result(s: _Sum, effective_weight: float) -> GroupScore:
    return GroupScore(
        earned=float(s.earned),
        possible=float(s.possible),
        percent=float(s.earned / s.possible * 100) if s.possible > 0 else None,
        counted=tuple(s.counted),
        dropped=tuple(s.dropped),
        effective_weight=effective_weight,
    )
