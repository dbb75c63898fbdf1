"""The simulator's oracle for Canvas's ``computed_current_score`` and ``computed_final_score``.

Deliberately written apart from :mod:`app.grades` and with a different drop algorithm (brute
force over which assignments to drop, where ``app.grades`` solves a parametric problem), so a
test that compares the two checks something real. Both follow Canvas's ``GradeCalculator``:

* An assignment counts unless it is excused, ``omit_from_final_grade``, or not graded:
  Canvas grades only ``gradeable`` assignments (canvas-lms ``app/models/assignment.rb``
  ``scope :gradeable``: ``submission_types`` other than exactly ``not_graded`` or
  ``wiki_page``); an input without ``submission_types`` falls back to ``grading_type``
  ``not_graded``. ``points_possible`` None counts as 0.
* **Current** score: ungraded assignments (score None, which also covers hidden/unposted
  grades) are left out entirely, before drop rules. **Final** score: they count as 0.
* A group's score is ``sum(scores) / sum(points)`` over the assignments it keeps.
* **Drop rules** (per group, per score kind). ``never_drop`` assignments are always kept and
  count in every candidate's grade. Of the ``n`` droppable ones, Canvas's fudge applies:
  ``drop_lowest`` is capped at ``n - 1`` and ``drop_highest`` becomes 0 when
  ``drop_lowest + drop_highest >= n``. Then two stages, as Canvas does: keep the
  ``n - drop_lowest`` assignments whose *resulting group grade* is highest (not simply the
  lowest raw scores: with 0/1, 50/100, 100/100 dropping 50/100 leaves 100/101), then from
  those drop ``drop_highest`` so the resulting group grade is lowest.
* How two candidate kept sets compare (earned ``S``, possible ``P``, never-drop included): the
  grade is ``S/P``; a set with ``P == 0`` rates +infinity when ``S >= 0`` and -infinity when
  ``S < 0`` (that is how Canvas's bisection treats point-less sets, and it reduces to "keep
  the highest scores" for groups without points). Ties in grade, which Canvas leaves to an
  unstable sort, are broken towards the larger ``P`` (keep more evidence), then for ``P == 0``
  towards the larger ``S`` when dropping lowest and the smaller ``S`` when dropping highest.
  Comparisons use exact fractions, so both implementations see the same ties. With these
  rules the kept scores are unique, whichever of two identical assignments is dropped.
* **Weighted** courses: a group takes part when its kept points are > 0 (so a group with
  nothing graded is left out of the current score and its weight is redistributed). The
  grade is ``sum(S/P * weight)``; when the participating weights sum to less than 100 it is
  scaled by ``100 / sum(weights)``. Canvas does *not* scale down when they sum to more than
  100, and neither do we. ``weight`` None counts as 0; all weights 0 gives None.
* **Unweighted** courses: ``sum(S) / sum(P)`` over all groups after drops; None when
  ``sum(P) == 0`` even if some extra credit was earned.
* **Pending review** (a quiz awaiting manual grading, ``workflow_state: pending_review``):
  left out of the current score, counted at its partial score in the final score.
* **Grading periods**: each period's score is the course score over the assignments whose
  ``grading_period_id`` names it. With weighted periods the course score is
  ``sum(period score * weight)`` divided by the counted weight when that is under 100 and by
  100 otherwise (scaled up, never down); unrounded period scores go in. The current score
  counts the periods that have a current score; the final score counts every period's
  weight, a period without a score adding 0 (``lib/grade_calculator.rb``
  ``apply_grading_period_weights_to_scores``). Without weighting the course score is over
  every assignment.
* Results are rounded to 2 decimals, half away from zero (Ruby's ``round(2)``).

Cost: each drop stage tries every combination of assignments to drop, a few integer operations
each (totals are precomputed and values scaled to integers over a common denominator). Above
:data:`BRUTE_FORCE_LIMIT` combinations (a 450-assignment group dropping 2, say) it falls back
to a greedy search that drops one assignment at a time, each time the best single choice. The
greedy answer can differ from Canvas's in contrived cases; no simulator preset gets near the limit.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from fractions import Fraction
from itertools import combinations
from typing import Any

logger = logging.getLogger(__name__)

BRUTE_FORCE_LIMIT = 100_000

# A candidate: (earned, possible) of one assignment.
_Pair = tuple[Fraction, Fraction]
_ZERO = Fraction(0)


def canvas_scores(course: dict[str, Any]) -> tuple[float | None, float | None]:
    """Return Canvas's (current, final) course score in percent for one student.

    ``course`` is ``{"apply_group_weights": bool, "groups": [{"id", "weight", "rules":
    {"drop_lowest", "drop_highest", "never_drop"}, "assignments": [{"id", "points_possible",
    "omit_from_final_grade", "score", "excused", "grading_type", "pending_review",
    "grading_period_id"}]}], "grading_periods": [{"id", "weight"}],
    "weighted_grading_periods": bool}``; optional keys default to "absent" (no rules, not
    excused, graded by points, no periods...).
    """
    return _round_pair(_exact_scores(course))


def canvas_period_scores(course: dict[str, Any]
                         ) -> dict[int, tuple[float | None, float | None]]:
    """Canvas's (current, final) score of each grading period, keyed by period id."""
    return {period["id"]: _round_pair(_exact_scores(course, period["id"]))
            for period in course.get("grading_periods") or []}


_Exact = tuple[Fraction | None, Fraction | None]


def _round_pair(pair: _Exact) -> tuple[float | None, float | None]:
    current, final = pair
    return (None if current is None else _round2(current),
            None if final is None else _round2(final))


def _exact_scores(course: dict[str, Any], period_id: int | None = None) -> _Exact:
    """Unrounded (current, final): of one period, or of the course."""
    weighted = bool(course.get("apply_group_weights"))
    groups = course.get("groups") or []
    periods = course.get("grading_periods") or []
    if period_id is not None:
        groups = [{**g, "assignments": [a for a in g.get("assignments") or []
                                        if a.get("grading_period_id") == period_id]}
                  for g in groups]
    elif periods and course.get("weighted_grading_periods"):
        scores = [(_exact_scores(course, p["id"]), Fraction(p.get("weight") or 0))
                  for p in periods]
        return (_weigh_periods([(s[0], w) for s, w in scores]),
                _weigh_periods([(s[1], w) for s, w in scores], every_weight=True))
    return (_course_score(groups, weighted, ungraded_as_zero=False),
            _course_score(groups, weighted, ungraded_as_zero=True))


def _weigh_periods(scores: list[tuple[Fraction | None, Fraction]], *,
                   every_weight: bool = False) -> Fraction | None:
    """canvas-lms ``lib/grade_calculator.rb`` ``apply_grading_period_weights_to_scores`` and
    ``scale_and_round_scores``: the current score counts the weight of the periods that have
    a current score; the final score counts every period's weight (no score adds 0)."""
    counted = [(s or _ZERO, w) for s, w in scores if s is not None or every_weight]
    weight = sum((w for _, w in counted), _ZERO)
    if weight == 0:
        return _ZERO if every_weight else None
    total = sum((s * w for s, w in counted), _ZERO)
    return total / weight if weight < 100 else total / 100


def _course_score(groups: Sequence[dict[str, Any]], weighted: bool, *, ungraded_as_zero: bool
                  ) -> Fraction | None:
    sums = [_group_sum(g, ungraded_as_zero) for g in groups]
    if weighted:
        grade = _ZERO
        full_weight = _ZERO
        for group, (earned, possible) in zip(groups, sums, strict=True):
            if possible <= 0:
                continue
            weight = Fraction(group.get("weight") or 0)
            grade += earned / possible * weight
            full_weight += weight
        if full_weight == 0:
            return None
        if full_weight < 100:
            grade = grade * 100 / full_weight
        return grade
    earned = sum((s for s, _ in sums), _ZERO)
    possible = sum((p for _, p in sums), _ZERO)
    if possible <= 0:
        return None
    return earned / possible * 100


def _group_sum(group: dict[str, Any], ungraded_as_zero: bool) -> _Pair:
    """(earned, possible) of one group after its drop rules."""
    rules = group.get("rules") or {}
    never_drop = set(rules.get("never_drop") or ())
    fixed: list[_Pair] = []
    droppable: list[_Pair] = []
    for a in group.get("assignments") or []:
        if a.get("excused") or a.get("omit_from_final_grade"):
            continue
        if _not_graded(a):
            continue
        score = a.get("score")
        if a.get("pending_review") and not ungraded_as_zero:
            continue  # awaiting manual grading: in the final score only
        if score is None:
            if not ungraded_as_zero:
                continue
            score = 0
        pair = (Fraction(score), Fraction(a.get("points_possible") or 0))
        (fixed if a.get("id") in never_drop else droppable).append(pair)

    drop_lowest = int(rules.get("drop_lowest") or 0)
    drop_highest = int(rules.get("drop_highest") or 0)
    n = len(droppable)
    if n and (drop_lowest or drop_highest):
        drop_lowest = min(drop_lowest, n - 1)
        if drop_lowest + drop_highest >= n:
            drop_highest = 0
        base = (sum((s for s, _ in fixed), _ZERO), sum((p for _, p in fixed), _ZERO))
        kept = _drop(droppable, base, drop_lowest, best=True)
        kept = _drop(kept, base, drop_highest, best=False)
    else:
        kept = droppable
    pairs = fixed + kept
    return sum((s for s, _ in pairs), _ZERO), sum((p for _, p in pairs), _ZERO)


def _not_graded(assignment: dict[str, Any]) -> bool:
    types = assignment.get("submission_types")
    if types is None:
        return assignment.get("grading_type") == "not_graded"
    return list(types) in (["not_graded"], ["wiki_page"])


def _rank(earned: int, possible: int) -> int:
    """0 = -infinity, 1 = a finite grade, 2 = +infinity (see the module docstring)."""
    if possible > 0:
        return 1
    return 2 if earned >= 0 else 0


def _better(a: tuple[int, int], b: tuple[int, int], best: bool) -> bool:
    """Whether kept set ``a`` (earned, possible) is strictly preferred to ``b``.

    ``best``: the higher grade wins (drop lowest); otherwise the lower (drop highest). Ties:
    more points possible, then for point-less sets the higher/lower earned.
    """
    (sa, pa), (sb, pb) = a, b
    sign = 1 if best else -1
    ra, rb = _rank(sa, pa), _rank(sb, pb)
    if ra != rb:
        return sign * (ra - rb) > 0
    if ra == 1:
        # Both finite: compare sa/pa with sb/pb by cross-multiplying (pa, pb > 0).
        diff = sa * pb - sb * pa
        if diff:
            return sign * diff > 0
    if pa != pb:
        return pa > pb
    return sign * (sa - sb) > 0


def _drop(pairs: list[_Pair], base: _Pair, count: int, *, best: bool) -> list[_Pair]:
    """Drop ``count`` of ``pairs`` so the group grade (with ``base`` added) is best/worst."""
    if count <= 0 or not pairs:
        return pairs
    # Exact and fast: scale every value to integers over a common denominator.
    den = math.lcm(*(x.denominator for pair in (*pairs, base) for x in pair))
    ints = [(int(s * den), int(p * den)) for s, p in pairs]
    total = (int(base[0] * den) + sum(s for s, _ in ints),
             int(base[1] * den) + sum(p for _, p in ints))
    if math.comb(len(pairs), count) > BRUTE_FORCE_LIMIT:
        logger.debug("drop: %d of %d exceeds the brute-force limit, greedy", count, len(pairs))
        return _without(pairs, _drop_greedy(ints, total, count, best=best))
    best_set: tuple[int, int] | None = None
    best_drop: tuple[int, ...] = ()
    for dropped in combinations(range(len(ints)), count):
        kept = (total[0] - sum(ints[i][0] for i in dropped),
                total[1] - sum(ints[i][1] for i in dropped))
        if best_set is None or _better(kept, best_set, best):
            best_set, best_drop = kept, dropped
    return _without(pairs, best_drop)


def _drop_greedy(ints: list[tuple[int, int]], total: tuple[int, int], count: int, *,
                 best: bool) -> list[int]:
    """Indices to drop, one at a time, each the best single choice at that point."""
    dropped: list[int] = []
    for _ in range(count):
        choice: int | None = None
        choice_set = (0, 0)
        for i, (s, p) in enumerate(ints):
            if i in dropped:
                continue
            kept = (total[0] - s, total[1] - p)
            if choice is None or _better(kept, choice_set, best):
                choice, choice_set = i, kept
        assert choice is not None  # count < len(ints): something is left to drop
        dropped.append(choice)
        total = choice_set
    return dropped


def _without(pairs: list[_Pair], dropped: Iterable[int]) -> list[_Pair]:
    gone = set(dropped)
    return [p for i, p in enumerate(pairs) if i not in gone]


def _round2(value: Fraction) -> float:
    """Round to 2 decimals, halves away from zero, from the exact value."""
    scaled = abs(value) * 100
    rounded = math.floor(scaled + Fraction(1, 2))
    return math.copysign(rounded / 100, value) if rounded else 0.0
