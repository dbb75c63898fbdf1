"""A course grade over time as a server-rendered SVG line chart.

The template draws it with SVG attributes and CSS classes only: the strict Content Security
Policy allows no inline script and no ``style`` attribute, and an SVG needs neither.

Bounded whatever the data: at most ``MAX_TICKS`` gridlines (the step grows with the range, so
a score of ``1e300`` from a hostile Canvas costs a few lines, not a loop to it), and points
that are not finite numbers are left out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from app.sync.history import GradePoint

WIDTH, HEIGHT = 600, 200
PAD_X, PAD_Y = 44, 16
MAX_TICKS = 11  # gridlines at most, whatever the range
SCORE_LIMIT = 1e12  # a "grade" beyond this is not one (rows stored before the parser clamped)


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    label: str  # "Nov 29: 88.0%" (the dot's <title>)


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    polyline: str  # "x,y x,y ..."
    dots: list[Dot]
    ticks: list[tuple[float, str]]  # (y, "80%") gridlines
    first: str  # date under the left end
    last: str  # date under the right end
    summary: str  # the chart in words, for screen readers


def grade_chart(points: Sequence[GradePoint]) -> Chart | None:
    """The chart of ``points`` (oldest first); None when there is nothing to draw."""
    points = [p for p in points if math.isfinite(p.score) and abs(p.score) <= SCORE_LIMIT]
    if not points:
        return None
    scores = [p.score for p in points]
    low = min(70.0, ((min(scores) - 1) // 10) * 10)  # room under the lowest point
    high = max(100.0, -(-max(scores) // 10) * 10)
    start, end = points[0].at.timestamp(), points[-1].at.timestamp()
    span = end - start
    inner_w, inner_h = WIDTH - 2 * PAD_X, HEIGHT - 2 * PAD_Y

    def x_of(index: int, point: GradePoint) -> float:
        if span <= 0:  # all on one moment: spread evenly
            return PAD_X + (inner_w * index / max(1, len(points) - 1) if len(points) > 1 else 0)
        return PAD_X + inner_w * (point.at.timestamp() - start) / span

    def y_of(score: float) -> float:
        return PAD_Y + inner_h * (high - score) / (high - low)

    dots = [
        Dot(
            round(x_of(i, p), 1),
            round(y_of(p.score), 1),
            f"{p.at:%b %d}: {p.score:.1f}%",
        )
        for i, p in enumerate(points)
    ]
    step = tick_step(high - low)
    count = min(MAX_TICKS, int((high - low) // step) + 1)
    ticks = [(round(y_of(low + i * step), 1), f"{low + i * step:g}%") for i in range(count)]
    fmt = "%b %d" if span >= 86_400 else "%b %d %H:%M"  # one day: tell the syncs apart
    summary = (
        f"Course grade from {scores[0]:.1f}% on {points[0].at:%b %d} "
        f"to {scores[-1]:.1f}% on {points[-1].at:%b %d}, {len(points)} points."
    )
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        polyline=" ".join(f"{d.x},{d.y}" for d in dots),
        dots=dots,
        ticks=ticks,
        first=points[0].at.strftime(fmt),
        last=points[-1].at.strftime(fmt),
        summary=summary,
    )


def tick_step(span: float) -> float:
    """10 or 20 points for a usual grade range; beyond, the smallest 1-2-5 step that keeps
    the gridlines within ``MAX_TICKS``."""
    if span <= 50:
        return 10.0
    if span <= 20 * (MAX_TICKS - 1):
        return 20.0
    magnitude = 10.0 ** math.floor(math.log10(span / (MAX_TICKS - 1)))
    for factor in (1.0, 2.0, 5.0, 10.0):
        if span / (factor * magnitude) <= MAX_TICKS - 1:
            return factor * magnitude
    return 10.0 * magnitude
