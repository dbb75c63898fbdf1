"""Letter grades from the course's own grading scheme (Canvas's grading standard).

Canvas's grading standard is a list of ``{"name": "A", "value": 0.94}`` entries, each the
*lower bound* of its letter as a fraction; the lowest entry covers everything below too. A
course without a scheme has no letter at all (``computed_current_grade`` is null), so
:func:`scheme_letter` returns None there rather than inventing an A-F scale.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

# (name, lower bound as a fraction of 1), highest bound first.
GradingScheme = tuple[tuple[str, float], ...]

# Canvas's built-in default scheme ("Default Grading Scheme"), used when a course enables
# grading schemes without choosing its own.
CANVAS_DEFAULT_SCHEME: GradingScheme = (
    ("A", 0.94), ("A-", 0.90), ("B+", 0.87), ("B", 0.84), ("B-", 0.80), ("C+", 0.77),
    ("C", 0.74), ("C-", 0.70), ("D+", 0.67), ("D", 0.64), ("D-", 0.61), ("F", 0.0),
)

# Percent scales for letter_grade(): (minimum percent, letter), highest first. The plain US
# scale (A >= 90, B >= 80, C >= 70, D >= 60, else F) is kept for callers that show a letter
# without a course; Canvas's own letters come from scheme_letter().
DEFAULT_SCALE: tuple[tuple[float, str], ...] = (
    (90.0, "A"), (80.0, "B"), (70.0, "C"), (60.0, "D"), (0.0, "F"),
)
CANVAS_DEFAULT_SCALE: tuple[tuple[float, str], ...] = tuple(
    (round(bound * 100, 2), name) for name, bound in CANVAS_DEFAULT_SCHEME
)


def parse_scheme(entries: Iterable[Mapping[str, Any] | Sequence[Any]] | None
                 ) -> GradingScheme | None:
    """A scheme from Canvas's ``grading_scheme`` entries or (name, value) pairs.

    Returns None for None or an empty list (no scheme). Sorted highest bound first.

    :raises ValueError: an entry without a name or a numeric value.
    """
    if not entries:
        return None
    parsed: list[tuple[str, float]] = []
    for entry in entries:
        if isinstance(entry, Mapping):
            name, value = entry.get("name"), entry.get("value")
        else:
            name, value = entry[0], entry[1]
        if not isinstance(name, str) or isinstance(value, bool) \
                or not isinstance(value, int | float):
            raise ValueError(f"bad grading scheme entry: {entry!r}")
        parsed.append((name, float(value)))
    parsed.sort(key=lambda pair: -pair[1])
    return tuple(parsed)


def scheme_letter(percent: float | None, scheme: GradingScheme | None) -> str | None:
    """The letter Canvas shows for ``percent`` under ``scheme``; None without either.

    Like Canvas, the score is taken as shown (2 decimals) and compared with each lower bound
    times 100 exactly (decimal, so 0.57 means 57.00, not 56.999...). Scores below every bound
    (negative ones) get the lowest letter.
    """
    if percent is None or not scheme:
        return None
    shown = Decimal(str(round(percent, 2)))
    for name, bound in scheme:
        if shown >= Decimal(str(bound)) * 100:
            return name
    return scheme[-1][0]


def letter_grade(percent: float, scale: Sequence[tuple[float, str]] = DEFAULT_SCALE) -> str:
    """The letter for ``percent`` on a percent ``scale`` (default A >= 90 ... F).

    The percent is rounded to 2 decimals first, so a grade shown as 90.00% is an A.
    Anything below the scale's last cut-off (e.g. a negative percent) gets its last letter.
    Prefer :func:`scheme_letter` with the course's own scheme.
    """
    shown = round(percent, 2)
    for minimum, letter in scale:
        if shown >= minimum:
            return letter
    return scale[-1][1]
