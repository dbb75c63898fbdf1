"""Grade maths: Canvas's course grade, drop rules, what-if scores, "what do I need".

Pure functions over small frozen dataclasses; no database and no Flask, so the course page,
the what-if form and the tests all call the same code. :func:`from_rows` builds the inputs
from our ORM rows (or anything with the same attributes).

The rules are Canvas's ``GradeCalculator`` (the documented choices, shared with the simulator's
independent oracle :mod:`simulator.scoring`):

* An assignment counts unless it is excused, omitted from the final grade or ``not_graded``;
  ``points_possible`` None counts as 0.
* The **current** grade leaves ungraded assignments (score None: not graded yet, or not posted)
  out entirely; the **final** grade counts them as 0. Drop rules run separately for each.
* Drop rules: ``never_drop`` items are always kept. Of the ``n`` droppable items,
  ``drop_lowest`` is capped at ``n - 1`` and ``drop_highest`` is ignored when
  ``drop_lowest + drop_highest >= n``. First keep the ``n - drop_lowest`` items that give the
  *highest group grade* (not the lowest raw scores), then of those the
  ``n - drop_lowest - drop_highest`` that give the lowest. A point-less kept set rates
  +infinity (-infinity if its score is negative); ties go to the set with more points
  possible, then for point-less sets to the higher (dropping lowest) or lower (dropping
  highest) score.
* Weighted courses: groups with kept points > 0 take part; ``sum(pct * weight)`` is scaled up
  by ``100 / sum(weights)`` when the weights sum to less than 100 (never scaled down). All
  weights 0 gives None. Unweighted: ``sum(earned) / sum(possible)``, None when nothing is
  possible.

Drop rules are solved exactly with Dinkelbach's method: for a trial grade ``q`` the best set
of ``k`` items maximizes ``sum(score - q * points)``, which is just the top ``k`` items by
that value; taking the grade of that set as the next ``q`` strictly improves until the sum is
0, after a handful of rounds. Arithmetic is exact (fractions; integers over a common
denominator inside the drop search), so ties are real ties and agree with the oracle.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any, Literal

logger = logging.getLogger(__name__)

__all__ = [
    "CANVAS_DEFAULT_SCALE",
    "DEFAULT_SCALE",
    "CourseGrade",
    "GradeGroup",
    "GradeItem",
    "GradeResult",
    "GroupGrade",
    "GroupScore",
    "course_grade",
    "from_rows",
    "letter_grade",
    "needed_score",
]

Number = int | float | Fraction
_ZERO = Fraction(0)
# Percentages are compared with this slack: the float results of exact fractions can land a
# hair under a target the student reaches exactly (89.99999999999999 for 90).
_EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class GradeGroup:
    """A Canvas assignment group: its weight (percent of the course) and drop rules."""

    id: int
    name: str = ""
    weight: float | None = None
    drop_lowest: int = 0
    drop_highest: int = 0
    never_drop: frozenset[int] = frozenset()  # GradeItem ids


@dataclass(frozen=True, slots=True)
class GradeItem:
    """An assignment with the student's score on it (None = ungraded or not posted)."""

    id: int
    group_id: int | None
    name: str = ""
    points_possible: float | None = None
    score: float | None = None
    excused: bool = False
    omit_from_final_grade: bool = False
    grading_type: str | None = "points"

    @property
    def counts(self) -> bool:
        """Whether this assignment can take part in the grade at all."""
        return not (self.excused or self.omit_from_final_grade
                    or self.grading_type == "not_graded")


@dataclass(frozen=True, slots=True)
class GroupScore:
    """One group's standing for one kind of grade (current or final)."""

    earned: float
    possible: float
    percent: float | None          # None when nothing is possible
    counted: tuple[int, ...]       # item ids in the grade (after drops)
    dropped: tuple[int, ...]       # item ids removed by the drop rules
    effective_weight: float        # share of the course grade in percent; 0 when left out


@dataclass(frozen=True, slots=True)
class GroupGrade:
    """One group's breakdown for the current and the final grade."""

    group: GradeGroup
    current: GroupScore
    final: GroupScore


@dataclass(frozen=True, slots=True)
class GradeResult:
    """The course grade: overall percentages and the per-group breakdown."""

    apply_group_weights: bool
    current_percent: float | None
    final_percent: float | None
    groups: tuple[GroupGrade, ...] = field(default=())

    def group(self, group_id: int) -> GroupGrade:
        """The breakdown of one group; KeyError when the course has no such group."""
        for g in self.groups:
            if g.group.id == group_id:
                return g
        raise KeyError(group_id)


CourseGrade = GradeResult  # the name the grade-maths brief uses

# ---------------------------------------------------------------------------------------------
# Course grade
# ---------------------------------------------------------------------------------------------


def course_grade(
    groups: Sequence[GradeGroup],
    assignments: Iterable[GradeItem],
    apply_group_weights: bool,
    *,
    what_if: Mapping[int, Number | None] | None = None,
) -> GradeResult:
    """Compute the current and final course grade the way Canvas does.

    ``what_if`` maps item ids to hypothetical scores (None = as if ungraded). A what-if score
    on an excused item counts it, since the student asks "what if I got this"; the inputs are
    never modified. Items whose group is not in ``groups`` are ignored, as in Canvas.

    :raises ValueError: ``what_if`` names an item that is not in ``items``.
    """
    items = _apply_what_if(list(assignments), what_if)
    by_group: dict[int | None, list[GradeItem]] = {}
    for item in items:
        by_group.setdefault(item.group_id, []).append(item)

    current = [_group_score(g, by_group.get(g.id, []), ungraded_as_zero=False) for g in groups]
    final = [_group_score(g, by_group.get(g.id, []), ungraded_as_zero=True) for g in groups]
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


def _apply_what_if(items: list[GradeItem], what_if: Mapping[int, Number | None] | None
                   ) -> list[GradeItem]:
    if not what_if:
        return items
    unknown = set(what_if) - {item.id for item in items}
    if unknown:
        raise ValueError(f"what-if scores for unknown assignments: {sorted(unknown)}")
    return [
        replace(item, score=_as_float(what_if[item.id]), excused=False)
        if item.id in what_if else item
        for item in items
    ]


def _as_float(value: Number | None) -> float | None:
    return None if value is None else float(value)


@dataclass(slots=True)
class _Sum:
    """Internal exact result of one group."""

    earned: Fraction
    possible: Fraction
    counted: list[int]
    dropped: list[int]


@dataclass(frozen=True, slots=True)
class _Cand:
    # Score and points scaled to integers over the group's common denominator: exact, and
    # much faster than fractions in the drop search.
    score: int
    points: int
    index: int  # position in the group, for a stable order of equal candidates
    item_id: int


def _group_score(group: GradeGroup, items: Sequence[GradeItem], *, ungraded_as_zero: bool
                 ) -> _Sum:
    exact = [
        (index, item, Fraction(item.score or 0), Fraction(item.points_possible or 0))
        for index, item in enumerate(items)
        if item.counts and (item.score is not None or ungraded_as_zero)
    ]
    den = math.lcm(*(x.denominator for _, _, s, p in exact for x in (s, p)))
    fixed: list[_Cand] = []
    droppable: list[_Cand] = []
    for index, item, score, points in exact:
        cand = _Cand(int(score * den), int(points * den), index, item.id)
        (fixed if item.id in group.never_drop else droppable).append(cand)

    kept = droppable
    n = len(droppable)
    if n and (group.drop_lowest > 0 or group.drop_highest > 0):
        drop_lowest = min(max(group.drop_lowest, 0), n - 1)
        drop_highest = max(group.drop_highest, 0)
        if drop_lowest + drop_highest >= n:
            drop_highest = 0
        base_score = sum(c.score for c in fixed)
        base_points = sum(c.points for c in fixed)
        kept = _keep(droppable, base_score, base_points, n - drop_lowest, best=True)
        kept = _keep(kept, base_score, base_points, len(kept) - drop_highest, best=False)

    kept_ids = {c.item_id for c in kept}
    counted = sorted(fixed + kept, key=lambda c: c.index)
    return _Sum(
        earned=Fraction(sum(c.score for c in counted), den),
        possible=Fraction(sum(c.points for c in counted), den),
        counted=[c.item_id for c in counted],
        dropped=[c.item_id for c in droppable if c.item_id not in kept_ids],
    )


def _keep(cands: list[_Cand], base_score: int, base_points: int, keep: int, *,
          best: bool) -> list[_Cand]:
    """The ``keep`` candidates giving the highest (``best``) or lowest group grade.

    ``base_*`` are the never-dropped items, which count in every choice.
    """
    if keep >= len(cands):
        return cands
    sign = 1 if best else -1

    # Point-less choices rate +/-infinity, so they win outright when they exist at all and
    # have the right sign; they need every kept item (never-drop ones too) to be point-less.
    unpointed = [c for c in cands if c.points == 0]
    if base_points == 0 and len(unpointed) >= keep:
        chosen = sorted(unpointed, key=lambda c: (-sign * c.score, c.index))[:keep]
        total = base_score + sum(c.score for c in chosen)
        if (total >= 0) if best else (total < 0):
            return chosen
        if len(unpointed) == len(cands):
            return chosen  # no choice has points: this is the best of a bad lot
        # Otherwise every point-less choice is beaten by any choice with points; and below,
        # a point-less choice's value sum(score - q * points) is its total (< 0 when
        # maximizing, >= 0 when minimizing), which can never beat the current choice's 0.

    # Start from a choice with points (the largest-point items), then iterate.
    chosen = sorted(cands, key=lambda c: (-c.points, c.index))[:keep]
    while True:
        # q = score / points is the chosen grade; values are scaled by points (> 0) to stay
        # integers: score_i * points - score * points_i = points * (score_i - q * points_i).
        score = base_score + sum(c.score for c in chosen)
        points = base_points + sum(c.points for c in chosen)

        # Top ``keep`` by value (bottom when minimizing); among equal values prefer more
        # points, which picks the tied choice with the most points possible.
        def order(c: _Cand, s: int = score, p: int = points) -> tuple[int, int, int]:
            return (-sign * (c.score * p - s * c.points), -c.points, c.index)

        candidate = sorted(cands, key=order)[:keep]
        value = (base_score * points - score * base_points
                 + sum(c.score * points - score * c.points for c in candidate))
        if sign * value <= 0:
            # q is optimal; ``candidate`` reaches it too (value 0) with the most points.
            return candidate
        chosen = candidate


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


# ---------------------------------------------------------------------------------------------
# What do I need?
# ---------------------------------------------------------------------------------------------


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
) -> float | None:
    """The lowest score on ``target_item_id`` that gets the course to ``target_percent``.

    ``basis`` "current" leaves other ungraded work out (Canvas's default view, "calculate based
    only on graded assignments"); "final" counts it as 0. Scores go in steps of 0.01 from 0 to
    ``max_score`` (default: the item's points possible, i.e. no extra credit). Returns 0.0 when
    even a 0 reaches the target, None when ``max_score`` does not. Found by bisection, which
    assumes more points never lower the grade (true without drop rules and for either rule
    alone); the score returned always reaches the target.

    :raises ValueError: unknown ``target_item_id`` or a ``what_if`` id that is unknown.
    """
    items = list(assignments)
    target = next((item for item in items if item.id == target_item_id), None)
    if target is None:
        raise ValueError(f"unknown assignment id {target_item_id}")
    if max_score is None:
        max_score = target.points_possible or 0.0
    overrides = dict(what_if or {})

    def reaches(cents: int) -> bool:
        overrides[target_item_id] = cents / 100
        result = course_grade(groups, items, apply_group_weights, what_if=overrides)
        pct = result.current_percent if basis == "current" else result.final_percent
        return pct is not None and pct >= target_percent - _EPSILON

    if reaches(0):
        return 0.0
    high = math.ceil(max(max_score, 0.0) * 100 - _EPSILON)
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


# ---------------------------------------------------------------------------------------------
# Letter grades
# ---------------------------------------------------------------------------------------------

# (minimum percent, letter), highest first. The plain US scale: A >= 90, B >= 80, C >= 70,
# D >= 60, else F.
DEFAULT_SCALE: tuple[tuple[float, str], ...] = (
    (90.0, "A"), (80.0, "B"), (70.0, "C"), (60.0, "D"), (0.0, "F"),
)
# Canvas's own default grading scheme, for courses that want +/- letters.
CANVAS_DEFAULT_SCALE: tuple[tuple[float, str], ...] = (
    (94.0, "A"), (90.0, "A-"), (87.0, "B+"), (84.0, "B"), (80.0, "B-"), (77.0, "C+"),
    (74.0, "C"), (70.0, "C-"), (67.0, "D+"), (64.0, "D"), (61.0, "D-"), (0.0, "F"),
)


def letter_grade(percent: float, scale: Sequence[tuple[float, str]] = DEFAULT_SCALE) -> str:
    """The letter for ``percent`` on ``scale`` (default A >= 90, B >= 80, C >= 70, D >= 60, F).

    The percent is rounded to 2 decimals first, so a grade shown as 90.00% is an A.
    Anything below the scale's last cut-off (e.g. a negative percent) gets its last letter.
    """
    shown = round(percent, 2)
    for minimum, letter in scale:
        if shown >= minimum:
            return letter
    return scale[-1][1]


# ---------------------------------------------------------------------------------------------
# From database rows
# ---------------------------------------------------------------------------------------------


def from_rows(categories: Iterable[Any], assignments: Iterable[Any]
              ) -> tuple[list[GradeGroup], list[GradeItem]]:
    """Build grade inputs from ``GradeCategory`` and ``Assignment`` rows (or look-alikes).

    Groups and items are keyed by the rows' ``id``; items point at their group through
    ``grade_category_id``. ``never_drop`` holds *Canvas* assignment ids, so it is translated
    to row ids through each assignment's ``canvas_assignment_id``.
    """
    assignments = list(assignments)
    row_id_by_canvas_id = {a.canvas_assignment_id: a.id for a in assignments
                           if getattr(a, "canvas_assignment_id", None) is not None}
    groups = [
        GradeGroup(
            id=c.id,
            name=c.name or "",
            weight=c.weight,
            drop_lowest=c.drop_lowest or 0,
            drop_highest=c.drop_highest or 0,
            never_drop=frozenset(row_id_by_canvas_id[cid] for cid in (c.never_drop or ())
                                 if cid in row_id_by_canvas_id),
        )
        for c in categories
    ]
    items = [
        GradeItem(
            id=a.id,
            group_id=a.grade_category_id,
            name=a.name or "",
            points_possible=a.points_possible,
            score=a.score,
            excused=bool(a.is_excused),
            omit_from_final_grade=bool(a.omit_from_final_grade),
            grading_type=a.grading_type,
        )
        for a in assignments
    ]
    return groups, items
