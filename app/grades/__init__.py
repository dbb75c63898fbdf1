"""Grade maths: Canvas's course grade, drop rules, grading periods, letters, what-if.

Pure functions over small frozen dataclasses; no database and no Flask, so the course page,
the what-if form, the CLI and the tests all call the same code. The rules are Canvas's
``GradeCalculator`` (shared with the simulator's independent oracle :mod:`simulator.scoring`):

* :mod:`.calculator`: one course grade, current and final (pending review, exclusions,
  group weights scaled up but never down, point-less groups left out);
* :mod:`.drops`: the drop rules, solved exactly;
* :mod:`.periods`: per-period grades and the (weighted) total over grading periods;
* :mod:`.schemes`: letters from the course's grading scheme (None without one);
* :mod:`.whatif`: "what do I need", on the course total or one period;
* :mod:`.rows`: the inputs from ORM rows.
"""

from app.grades.calculator import apply_what_if, course_grade
from app.grades.model import (
    CourseGrade,
    GradeGroup,
    GradeItem,
    GradeResult,
    GradingPeriod,
    GroupGrade,
    GroupScore,
    PeriodGrade,
    PeriodsResult,
    not_graded,
)
from app.grades.periods import current_period, period_grades, weighted_total
from app.grades.rows import from_rows, periods_from_rows, split_types
from app.grades.schemes import (
    CANVAS_DEFAULT_SCALE,
    CANVAS_DEFAULT_SCHEME,
    DEFAULT_SCALE,
    GradingScheme,
    letter_grade,
    parse_scheme,
    scheme_letter,
)
from app.grades.whatif import needed_score

__all__ = [
    "CANVAS_DEFAULT_SCALE",
    "CANVAS_DEFAULT_SCHEME",
    "DEFAULT_SCALE",
    "CourseGrade",
    "GradeGroup",
    "GradeItem",
    "GradeResult",
    "GradingPeriod",
    "GradingScheme",
    "GroupGrade",
    "GroupScore",
    "PeriodGrade",
    "PeriodsResult",
    "apply_what_if",
    "course_grade",
    "current_period",
    "from_rows",
    "letter_grade",
    "needed_score",
    "not_graded",
    "parse_scheme",
    "period_grades",
    "periods_from_rows",
    "scheme_letter",
    "split_types",
    "weighted_total",
]
