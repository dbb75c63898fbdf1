"""A course grade over time as a server-rendered SVG line chart.

The template draws it with SVG attributes and CSS classes only: the strict Content Security
Policy allows no inline script and no ``style`` attribute, and an SVG needs neither.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.sync.history import GradePoint

WIDTH, HEIGHT = 600, 200
PAD_X, PAD_Y = 44, 16


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
    step = 10.0 if high - low <= 50 else 20.0
    ticks = []
    value = low
    while value <= high:
        ticks.append((round(y_of(value), 1), f"{value:g}%"))
        value += step
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
