"""Canvas's drop rules (``GradeCalculator#drop_assignments``), solved exactly.

Rules: ``never_drop`` items are always kept and count in every choice. Of the ``n``
droppable items, ``drop_lowest`` is capped at ``n - 1`` and ``drop_highest`` becomes 0 when
``drop_lowest + drop_highest >= n``. Canvas first keeps the ``n - drop_lowest`` items that
give the *highest group grade* (not the lowest raw scores: with 0/1, 50/100, 100/100 it
drops 50/100), then of those the ``n - drop_lowest - drop_highest`` that give the lowest.
A point-less kept set rates +infinity (-infinity if its score is negative); ties go to the
set with more points possible, then for point-less sets to the higher (dropping lowest) or
lower (dropping highest) score.

Each stage is solved with Dinkelbach's method: for a trial grade ``q`` the best set of ``k``
items maximizes ``sum(score - q * points)``, which is just the top ``k`` items by that value;
taking the grade of that set as the next ``q`` strictly improves until the sum is 0, after a
handful of rounds. Values are integers over a common denominator, so ties are real ties.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Candidate:
    """One droppable item, scaled to integers over the group's common denominator."""

    score: int
    points: int
    index: int  # position in the group, for a stable order of equal candidates
    item_id: int


def capped_counts(n: int, drop_lowest: int, drop_highest: int) -> tuple[int, int]:
    """Canvas's caps on the rules for ``n`` droppable items: (drop_lowest, drop_highest)."""
    if n <= 0:
        return 0, 0
    lowest = min(max(drop_lowest, 0), n - 1)
    highest = max(drop_highest, 0)
    if lowest + highest >= n:
        highest = 0
    return lowest, highest


def apply_drop_rules(droppable: list[Candidate], fixed: list[Candidate], drop_lowest: int,
                     drop_highest: int) -> list[Candidate]:
    """The droppable candidates Canvas keeps, given the never-dropped ``fixed`` ones."""
    lowest, highest = capped_counts(len(droppable), drop_lowest, drop_highest)
    if not lowest and not highest:
        return droppable
    base_score = sum(c.score for c in fixed)
    base_points = sum(c.points for c in fixed)
    kept = keep(droppable, base_score, base_points, len(droppable) - lowest, best=True)
    return keep(kept, base_score, base_points, len(kept) - highest, best=False)


def keep(cands: list[Candidate], base_score: int, base_points: int, count: int, *,
         best: bool) -> list[Candidate]:
    """The ``count`` candidates giving the highest (``best``) or lowest group grade.

    ``base_*`` are the never-dropped items, which count in every choice.
    """
    if count >= len(cands):
        return cands
    sign = 1 if best else -1

    # Point-less choices rate +/-infinity, so they win outright when they exist at all and
    # have the right sign; they need every kept item (never-drop ones too) to be point-less.
    unpointed = [c for c in cands if c.points == 0]
    if base_points == 0 and len(unpointed) >= count:
        chosen = sorted(unpointed, key=lambda c: (-sign * c.score, c.index))[:count]
        total = base_score + sum(c.score for c in chosen)
        if (total >= 0) if best else (total < 0):
            return chosen
        if len(unpointed) == len(cands):
            return chosen  # no choice has points: this is the best of a bad lot
        # Otherwise every point-less choice is beaten by any choice with points; and below,
        # a point-less choice's value sum(score - q * points) is its total (< 0 when
        # maximizing, >= 0 when minimizing), which can never beat the current choice's 0.

    # Start from a choice with points (the largest-point items), then iterate.
    chosen = sorted(cands, key=lambda c: (-c.points, c.index))[:count]
    while True:
        # q = score / points is the chosen grade; values are scaled by points (> 0) to stay
        # integers: score_i * points - score * points_i = points * (score_i - q * points_i).
        score = base_score + sum(c.score for c in chosen)
        points = base_points + sum(c.points for c in chosen)

        # Top ``count`` by value (bottom when minimizing); among equal values prefer more
        # points, which picks the tied choice with the most points possible.
        def order(c: Candidate, s: int = score, p: int = points) -> tuple[int, int, int]:
            return (-sign * (c.score * p - s * c.points), -c.points, c.index)

        candidate = sorted(cands, key=order)[:count]
        value = (base_score * points - score * base_points
                 + sum(c.score * points - score * c.points for c in candidate))
        if sign * value <= 0:
            # q is optimal; ``candidate`` reaches it too (value 0) with the most points.
            return candidate
        chosen = candidate
