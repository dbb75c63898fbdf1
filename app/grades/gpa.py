"""Grade point average: scales, which letter counts, term and cumulative GPA, what-if.

Pure functions over small frozen dataclasses (no database, no Flask). The rules, in words:

* A **scale** maps letters to grade points and percentages to letters: the 4.0 scale without
  +/- (A 4, B 3, C 2, D 1, F 0; an "A-" counts as its plain letter), the 4.0 scale with +/-
  (A 4.0, A- 3.7, B+ 3.3 ... D- 0.7, F 0; A+ is 4.0), the 4.3 scale (the same, A+ 4.3), or
  a custom table the student types.
* **Which letter counts**: Canvas's final letter for a concluded course; the current letter
  for a course in progress, marked *projected*; where the course has no letter, its
  percentage through the chosen scale's cut-offs.
* **Credits** come from the student (Canvas has none); a course may be left out, and a retake
  replaces an earlier attempt: the earlier one stays in its own term's GPA (it was that
  term's grade) but leaves the cumulative GPA, where the retake counts instead.
* GPA = sum(points x credits) / sum(credits) over the courses that count, computed exactly
  (decimals) and rounded half up to 2 places; None when no credits count.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal

# One row of a scale: (letter, lowest percent that earns it, grade points), best first.
ScaleRow = tuple[str, float, float]


@dataclass(frozen=True, slots=True)
class Scale:
    """A grading scale: its name and rows, best letter first."""

    key: str
    label: str
    rows: tuple[ScaleRow, ...]
    plain: bool = False  # letters carry no +/-: "B+" counts as "B"


_PLUS_MINUS_POINTS = (
    ("A", 94.0, 4.0), ("A-", 90.0, 3.7), ("B+", 87.0, 3.3), ("B", 84.0, 3.0),
    ("B-", 80.0, 2.7), ("C+", 77.0, 2.3), ("C", 74.0, 2.0), ("C-", 70.0, 1.7),
    ("D+", 67.0, 1.3), ("D", 64.0, 1.0), ("D-", 61.0, 0.7), ("F", 0.0, 0.0),
)

SCALES: dict[str, Scale] = {
    "4.0": Scale("4.0", "4.0 scale, no +/-", (
        ("A", 90.0, 4.0), ("B", 80.0, 3.0), ("C", 70.0, 2.0), ("D", 60.0, 1.0), ("F", 0.0, 0.0),
    ), plain=True),
    "4.0+-": Scale("4.0+-", "4.0 scale with +/-", (("A+", 97.0, 4.0), *_PLUS_MINUS_POINTS)),
    "4.3": Scale("4.3", "4.3 scale (A+ is 4.3)", (("A+", 97.0, 4.3), *_PLUS_MINUS_POINTS)),
}
DEFAULT_SCALE_KEY = "4.0+-"
CUSTOM_KEY = "custom"
MAX_CUSTOM_ROWS = 30


def parse_custom_scale(text: str) -> Scale:
    """A custom scale from lines ``LETTER MIN_PERCENT POINTS`` ("A 93 4.0"), any order.

    :raises ValueError: a one-line message naming the line to fix.
    """
    rows: list[ScaleRow] = []
    for number, line in enumerate(text.splitlines(), start=1):
        parts = line.replace(",", " ").split()
        if not parts:
            continue
        if len(parts) != 3:
            raise ValueError(f"line {number} of the custom scale: write LETTER MIN_PERCENT "
                             "POINTS, e.g. 'A 93 4.0'")
        letter = parts[0]
        try:
            low, points = float(parts[1]), float(parts[2])
        except ValueError:
            raise ValueError(f"line {number} of the custom scale: the percent and the points "
                             "must be numbers, e.g. 'A 93 4.0'") from None
        if not (0 <= low <= 1000 and 0 <= points <= 100) or len(letter) > 8:
            raise ValueError(f"line {number} of the custom scale: keep the percent between 0 "
                             "and 1000, the points between 0 and 100, the letter short")
        if any(row[0].upper() == letter.upper() for row in rows):
            raise ValueError(f"line {number} of the custom scale: {letter} is listed twice")
        rows.append((letter, low, points))
    if not rows:
        raise ValueError("the custom scale is empty: write one line per letter, e.g. 'A 93 4.0'")
    if len(rows) > MAX_CUSTOM_ROWS:
        raise ValueError(f"the custom scale has more than {MAX_CUSTOM_ROWS} lines")
    rows.sort(key=lambda row: -row[1])
    return Scale(CUSTOM_KEY, "custom scale", tuple(rows))


def custom_scale_text(scale: Scale) -> str:
    """The custom scale as the lines the student typed (normalised)."""
    return "\n".join(f"{letter} {low:g} {points:g}" for letter, low, points in scale.rows)


def points_for_letter(letter: str | None, scale: Scale) -> float | None:
    """The grade points of ``letter`` on ``scale``; None when the scale has no such letter."""
    if not letter:
        return None
    wanted = letter.strip().upper()
    by_letter = {row[0].upper(): row[2] for row in scale.rows}
    if wanted in by_letter:
        return by_letter[wanted]
    if scale.plain and wanted[:1] in by_letter and wanted[1:] in ("+", "-"):
        return by_letter[wanted[:1]]
    return None


def letter_for_percent(percent: float, scale: Scale) -> str:
    """The scale's letter for ``percent`` (shown to 2 decimals, as Canvas rounds it)."""
    shown = Decimal(str(round(percent, 2)))
    for letter, low, _points in scale.rows:
        if shown >= Decimal(str(low)):
            return letter
    return scale.rows[-1][0]


@dataclass(frozen=True, slots=True)
class GpaCourse:
    """One course as the GPA sees it.

    ``letter`` is Canvas's letter (final when concluded, current otherwise), None without one;
    ``percent`` the course percentage used when there is no letter. ``replaces`` is the id of
    the earlier attempt this retake replaces.
    """

    id: int
    term: str
    credits: float
    letter: str | None = None
    percent: float | None = None
    projected: bool = False
    excluded: bool = False
    replaces: int | None = None


@dataclass(frozen=True, slots=True)
class CourseOutcome:
    """How one course entered the GPA: the letter used, its points, and why not if it did not."""

    course: GpaCourse
    letter: str | None
    points: float | None
    from_percent: bool
    reason: str | None  # None: counted; else the words for why the course is left out

    @property
    def counted(self) -> bool:
        return self.reason is None


@dataclass(frozen=True, slots=True)
class TermGpa:
    term: str
    gpa: float | None
    credits: float
    projected: bool


@dataclass(frozen=True, slots=True)
class GpaReport:
    scale: Scale
    courses: tuple[CourseOutcome, ...]
    terms: tuple[TermGpa, ...]
    cumulative: float | None
    cumulative_credits: float
    cumulative_projected: bool

    def as_json(self) -> dict[str, object]:
        """The CLI's JSON: terms in order, the cumulative GPA and the scale's name."""
        return {
            "terms": [{"term": t.term, "gpa": t.gpa, "credits": t.credits,
                       "projected": t.projected} for t in self.terms],
            "cumulative": self.cumulative,
            "scale": self.scale.key,
        }


def outcome(course: GpaCourse, scale: Scale) -> CourseOutcome:
    """Which letter counts for ``course`` on ``scale``, and its points (or why it is left out)."""
    if course.excluded:
        return CourseOutcome(course, course.letter, None, False, "left out by you")
    if course.credits <= 0:
        return CourseOutcome(course, course.letter, None, False, "0 credits")
    if course.letter:
        points = points_for_letter(course.letter, scale)
        if points is None:
            return CourseOutcome(course, course.letter, None, False,
                                 f"the letter {course.letter} is not on the {scale.label}")
        return CourseOutcome(course, course.letter, points, False, None)
    if course.percent is None:
        return CourseOutcome(course, None, None, False, "no grade yet")
    letter = letter_for_percent(course.percent, scale)
    return CourseOutcome(course, letter, points_for_letter(letter, scale), True, None)


def _average(pairs: Iterable[tuple[float, float]]) -> tuple[float | None, float]:
    """(GPA rounded half up to 2 places, credits) of (points, credits) pairs."""
    total = Decimal(0)
    credits = Decimal(0)
    for points, weight in pairs:
        total += Decimal(str(points)) * Decimal(str(weight))
        credits += Decimal(str(weight))
    if credits == 0:
        return None, 0.0
    gpa = (total / credits).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return float(gpa), float(credits)


def compute_gpa(courses: Sequence[GpaCourse], scale: Scale, *,
                what_if: Mapping[int, str] | None = None,
                term_order: Sequence[str] = ()) -> GpaReport:
    """Term and cumulative GPA of ``courses`` on ``scale``.

    ``what_if`` maps course ids to a letter to try instead of the course's own (the inputs are
    not changed). Terms come in ``term_order``, then any other in order of first appearance.

    :raises ValueError: a what-if letter that is not on the scale, or for an unknown course.
    """
    changed = dict(what_if or {})
    known = {course.id for course in courses}
    for course_id, letter in changed.items():
        if course_id not in known:
            raise ValueError(f"what-if for an unknown course id {course_id}")
        if points_for_letter(letter, scale) is None:
            raise ValueError(f"the letter {letter!r} is not on the {scale.label}")
    courses = [replace(c, letter=changed[c.id]) if c.id in changed else c for c in courses]
    outcomes = tuple(outcome(course, scale) for course in courses)
    replaced = {o.course.replaces for o in outcomes if o.counted and o.course.replaces}

    names = list(dict.fromkeys([*term_order, *(c.term for c in courses)]))
    terms = []
    for name in names:
        counted = [o for o in outcomes if o.counted and o.course.term == name]
        if not any(c.term == name for c in courses):
            continue
        gpa, credits = _average((o.points or 0.0, o.course.credits) for o in counted)
        terms.append(TermGpa(name, gpa, credits, any(o.course.projected for o in counted)))
    cumulative_rows = [o for o in outcomes if o.counted and o.course.id not in replaced]
    cumulative, credits = _average((o.points or 0.0, o.course.credits) for o in cumulative_rows)
    return GpaReport(scale, outcomes, tuple(terms), cumulative, credits,
                     any(o.course.projected for o in cumulative_rows))


@dataclass(frozen=True, slots=True)
class GoalPlan:
    """The lowest letters found for a term to reach ``target``.

    ``letters`` maps each course in progress to the letter it needs at least (its own letter
    when it needs no more); ``gpa`` is the term GPA with those letters. ``reachable`` False:
    even the best letter in every course in progress falls short (``letters`` are then the
    best ones and ``gpa`` the best the term can reach).
    """

    term: str
    target: float
    reachable: bool
    letters: dict[int, str]
    gpa: float | None


def plan_for_target(courses: Sequence[GpaCourse], scale: Scale, term: str,
                    target: float) -> GoalPlan:
    """Letters for the term's projected courses that get its GPA to ``target``.

    Start from each course's own letter (from its percentage when it has none, the lowest
    letter when it has neither) and raise one letter at a time, always the step closest to
    the course's current percentage (the easiest one), until the term GPA reaches the target.
    A step that earns no more points (A to A+ on the 4.0 scale) is skipped.
    """
    open_ids = [c.id for c in courses if c.term == term and c.projected
                and outcome(c, scale).reason in (None, "no grade yet")]
    letters: dict[int, str] = {}
    for course in courses:
        if course.id in open_ids:
            found = outcome(course, scale)
            letters[course.id] = found.letter if found.counted and found.letter \
                else scale.rows[-1][0]
    by_id = {course.id: course for course in courses}

    def term_gpa() -> float | None:
        report = compute_gpa(courses, scale, what_if=letters, term_order=[term])
        return next(t.gpa for t in report.terms if t.term == term)

    def next_step(course_id: int) -> tuple[str, float] | None:
        points = points_for_letter(letters[course_id], scale) or 0.0
        better = [row for row in scale.rows if row[2] > points]
        if not better:
            return None
        letter, low, _points = min(better, key=lambda row: (row[2], row[1]))
        return letter, max(0.0, low - (by_id[course_id].percent or 0.0))

    gpa = term_gpa()
    while gpa is None or gpa < target:
        steps = [(step[1], -by_id[cid].credits, cid, step[0])
                 for cid in open_ids if (step := next_step(cid)) is not None]
        if not steps:
            return GoalPlan(term, target, False, letters, gpa)
        _gap, _credits, course_id, letter = min(steps)
        letters[course_id] = letter
        gpa = term_gpa()
    return GoalPlan(term, target, True, letters, gpa)
