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

from app.grades.history import GradePoint
from app.timezones import in_zone

# Room for labels a phone can read: the SVG scales to the page's width, so on a 375 px phone a
# user unit is about 0.55 px, and the stylesheet enlarges .chart-label there (style.css).
WIDTH, HEIGHT = 600, 220
PAD_X, PAD_TOP, PAD_BOTTOM = 64, 16, 36
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
    pad_x: int = PAD_X
    label_x: int = PAD_X - 8  # where the percentages end, left of the plot
    date_y: int = HEIGHT - 6  # the dates' baseline, under the plot


def grade_chart(points: Sequence[GradePoint], zone: str | None = None) -> Chart | None:
    """The chart of ``points`` (oldest first), its dates in the student's ``zone`` (UTC when
    none is chosen, as the page says); None when there is nothing to draw."""
    points = [p for p in points if math.isfinite(p.score) and abs(p.score) <= SCORE_LIMIT]
    if not points:
        return None
    moments = [in_zone(p.at, zone) for p in points]
    scores = [p.score for p in points]
    low = min(70.0, ((min(scores) - 1) // 10) * 10)  # room under the lowest point
    high = max(100.0, -(-max(scores) // 10) * 10)
    start, end = points[0].at.timestamp(), points[-1].at.timestamp()
    span = end - start
    inner_w, inner_h = WIDTH - 2 * PAD_X, HEIGHT - PAD_TOP - PAD_BOTTOM

    def x_of(index: int, point: GradePoint) -> float:
        if span <= 0:  # all on one moment: spread evenly
            return PAD_X + (inner_w * index / max(1, len(points) - 1) if len(points) > 1 else 0)
        return PAD_X + inner_w * (point.at.timestamp() - start) / span

    def y_of(score: float) -> float:
        return PAD_TOP + inner_h * (high - score) / (high - low)

    dots = [
        Dot(
            round(x_of(i, p), 1),
            round(y_of(p.score), 1),
            f"{moments[i]:%b %d %H:%M}: {p.score:.1f}%",
        )
        for i, p in enumerate(points)
    ]
    step = tick_step(high - low)
    count = min(MAX_TICKS, int((high - low) // step) + 1)
    ticks = [(round(y_of(low + i * step), 1), f"{low + i * step:g}%") for i in range(count)]
    fmt = "%b %d" if span >= 86_400 else "%b %d %H:%M"  # one day: tell the syncs apart
    if len(points) == 1:
        summary = (f"Course grade {scores[0]:.1f}% on {moments[0]:%b %d}: one sync so far; "
                   "the line starts when a later sync sees the grade change.")
    else:
        summary = (
            f"Course grade from {scores[0]:.1f}% on {moments[0]:%b %d} "
            f"to {scores[-1]:.1f}% on {moments[-1]:%b %d}, {len(points)} points."
        )
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        polyline=" ".join(f"{d.x},{d.y}" for d in dots),
        dots=dots,
        ticks=ticks,
        first=moments[0].strftime(fmt),
        last=moments[-1].strftime(fmt),
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
