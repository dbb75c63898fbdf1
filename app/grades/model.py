"""The inputs and results of the grade maths: small frozen dataclasses, no behaviour."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction

Number = int | float | Fraction

# An assignment whose *only* submission type is one of these is not in Canvas's grade: the
# server-side calculator reads ``course.assignments.published.gradeable`` and canvas-lms
# ``app/models/assignment.rb`` defines ``scope :gradeable`` as
# ``where.not(submission_types: %w[not_graded wiki_page])`` (the column holds the types
# comma-joined, so "online_upload,not_graded" is gradeable). ``grading_type`` plays no part there;
# Canvas itself sets ``grading_type`` to not_graded for a wiki page (``infer_grading_type``).
UNGRADED_SUBMISSION_TYPES = frozenset({"not_graded", "wiki_page"})


def not_graded(submission_types: tuple[str, ...] | None, grading_type: str | None) -> bool:
    """Whether Canvas's calculator leaves the assignment out as not graded.

    Decided by ``submission_types`` as canvas-lms does (``Assignment.gradeable``); only when
    they are unknown (None: a row stored before they were synced) by ``grading_type``.
    """
    if submission_types is not None:
        return len(submission_types) == 1 and submission_types[0] in UNGRADED_SUBMISSION_TYPES
    return grading_type == "not_graded"


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
    """An assignment with the student's score on it (None = ungraded or not posted).

    ``score`` is what Canvas counts, already after any late or missing deduction;
    ``entered_score`` is what the teacher typed and ``points_deducted`` the penalty, kept so
    the page can show all three. ``pending_review`` marks a quiz with a question awaiting
    manual grading: its partial score counts in the final grade only.
    """

    id: int
    group_id: int | None
    name: str = ""
    points_possible: float | None = None
    score: float | None = None
    excused: bool = False
    omit_from_final_grade: bool = False
    grading_type: str | None = "points"
    pending_review: bool = False
    entered_score: float | None = None
    points_deducted: float | None = None
    grading_period_id: int | None = None
    # Canvas's submission types; None when unknown (then grading_type decides "not graded").
    submission_types: tuple[str, ...] | None = None

    @property
    def counts(self) -> bool:
        """Whether this assignment can take part in the grade at all."""
        return not (self.excused or self.omit_from_final_grade
                    or not_graded(self.submission_types, self.grading_type))

    @property
    def counts_in_current(self) -> bool:
        """Whether it counts in the *current* grade: graded and not awaiting review."""
        return self.counts and self.score is not None and not self.pending_review


@dataclass(frozen=True, slots=True)
class GradingPeriod:
    """A Canvas grading period; ``weight`` matters only with weighted grading periods."""

    id: int
    title: str = ""
    weight: float | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    close_date: datetime | None = None
    is_closed: bool = False


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


@dataclass(frozen=True, slots=True)
class PeriodGrade:
    """One grading period's grade, computed over that period's assignments only."""

    period: GradingPeriod
    result: GradeResult

    @property
    def current_percent(self) -> float | None:
        return self.result.current_percent

    @property
    def final_percent(self) -> float | None:
        return self.result.final_percent


@dataclass(frozen=True, slots=True)
class PeriodsResult:
    """A course with grading periods: each period, and the course total over all periods.

    ``all_assignments`` is the grade over every assignment (the group breakdown of the
    "all grading periods" view). With weighted periods the course total is instead the
    weight-average of the period grades (``current_percent``/``final_percent``).
    """

    weighted_periods: bool
    current_percent: float | None
    final_percent: float | None
    periods: tuple[PeriodGrade, ...]
    all_assignments: GradeResult

    def period(self, period_id: int) -> PeriodGrade:
        """One period's grade; KeyError when the course has no such period."""
        for p in self.periods:
            if p.period.id == period_id:
                return p
        raise KeyError(period_id)
