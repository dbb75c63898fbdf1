"""In-memory Canvas objects of one simulated student, plus grade formatting helpers.

These are the teacher's truth. What the student may *see* (hidden grades, restricted
courses) is decided when rendering (``render.py``) and in ``Student.expected()``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

# Canvas's default grading scheme (lower bounds in percent).
LETTER_SCHEME: tuple[tuple[str, float], ...] = (
    ("A", 94.0), ("A-", 90.0), ("B+", 87.0), ("B", 84.0), ("B-", 80.0), ("C+", 77.0),
    ("C", 74.0), ("C-", 70.0), ("D+", 67.0), ("D", 64.0), ("D-", 61.0), ("F", 0.0),
)


def utcnow() -> datetime:
    """Now, rounded *up* to the whole second.

    Canvas JSON carries whole seconds; rounding up keeps a mutation's timestamp strictly
    after any instant observed before it, so ``graded_since=<earlier time>`` finds it.
    """
    now = datetime.now(UTC)
    if now.microsecond:
        now = now.replace(microsecond=0) + timedelta(seconds=1)
    return now


def iso(value: datetime | None) -> str | None:
    """Canvas's timestamp format: UTC, whole seconds, ``Z``."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def letter_for(percent: float | None) -> str | None:
    if percent is None:
        return None
    for letter, bound in LETTER_SCHEME:
        if percent >= bound:
            return letter
    return "F"


def format_number(value: float) -> str:
    """Ruby-like rendering of a score inside a grade string: 18.0 -> "18", 17.5 -> "17.5"."""
    if math.isfinite(value) and value == int(value):
        return str(int(value))
    return f"{round(value, 2):g}"


def grade_string(score: float | None, grading_type: str, points: float | None) -> str | None:
    """The ``grade`` Canvas shows for ``score`` under ``grading_type``."""
    if score is None or grading_type == "not_graded":
        return None
    percent = score / points * 100 if points else None
    if grading_type == "pass_fail":
        complete = score >= points if points else score >= 0
        return "complete" if complete else "incomplete"
    if grading_type == "percent":
        return f"{format_number(percent if percent is not None else 0.0)}%"
    if grading_type in ("letter_grade", "gpa_scale"):
        return letter_for(percent if percent is not None else 100.0)
    return format_number(score)


@dataclass
class Term:
    id: int
    name: str
    start_at: datetime | None
    end_at: datetime | None
    created_at: datetime


@dataclass
class Submission:
    """The student's single submission row on an assignment (Canvas makes one per student)."""

    id: int
    workflow_state: str = "unsubmitted"  # unsubmitted, submitted, graded, pending_review
    score: float | None = None
    entered_score: float | None = None
    grade: str | None = None
    excused: bool = False
    missing: bool = False
    late: bool = False
    seconds_late: int = 0
    late_policy_status: str | None = None
    points_deducted: float | None = None
    submitted_at: datetime | None = None
    graded_at: datetime | None = None
    posted_at: datetime | None = None
    attempt: int | None = None
    submission_type: str | None = None
    grader_id: int | None = None

    @property
    def posted(self) -> bool:
        return self.posted_at is not None

    @property
    def hidden(self) -> bool:
        """Graded but not posted: the score keys are absent from the student's JSON."""
        return self.graded_at is not None and self.posted_at is None and not self.excused

    @property
    def visible_score(self) -> float | None:
        if self.excused or not self.posted:
            return None
        return self.score

    @property
    def visible_grade(self) -> str | None:
        if self.excused or not self.posted:
            return None
        return self.grade


@dataclass
class Assignment:
    id: int
    course_id: int
    group_id: int
    name: str
    position: int
    points_possible: float | None
    grading_type: str
    due_at: datetime | None
    created_at: datetime
    updated_at: datetime
    submission: Submission
    description: str | None = None
    omit_from_final_grade: bool = False
    published: bool = True
    deleted: bool = False
    post_manually: bool = False
    submission_types: list[str] = field(default_factory=lambda: ["online_upload"])

    @property
    def visible(self) -> bool:
        """Students see only published, non-deleted assignments."""
        return self.published and not self.deleted


@dataclass
class Group:
    id: int
    name: str
    position: int
    weight: float
    drop_lowest: int = 0
    drop_highest: int = 0
    never_drop: list[int] = field(default_factory=list)

    def rules(self) -> dict:
        """Canvas's ``rules``: ``{}`` when there are none, else only the set keys."""
        rules: dict = {}
        if self.drop_lowest:
            rules["drop_lowest"] = self.drop_lowest
        if self.drop_highest:
            rules["drop_highest"] = self.drop_highest
        if self.never_drop:
            rules["never_drop"] = sorted(self.never_drop)
        return rules


@dataclass
class Course:
    id: int
    name: str
    course_code: str
    term: Term
    apply_group_weights: bool
    enrollment_id: int
    section_id: int
    created_at: datetime
    enrollment_created_at: datetime
    start_at: datetime | None = None
    end_at: datetime | None = None
    workflow_state: str = "available"  # available, completed
    enrollment_state: str = "active"  # active, completed
    hide_final_grades: bool = False
    restricted: bool = False  # access_restricted_by_date
    dropped: bool = False  # the enrollment was deleted
    grading_standard_id: int | None = None
    time_zone: str = "America/Chicago"
    default_view: str = "modules"
    course_color: str | None = None
    locale: str | None = None
    uuid: str = ""
    groups: dict[int, Group] = field(default_factory=dict)
    assignments: dict[int, Assignment] = field(default_factory=dict)
    enrollment_updated_at: datetime | None = None
    # Cached (current, final) from scoring.canvas_scores; None = recompute.
    scores_cache: tuple[float | None, float | None] | None = None

    @property
    def concluded(self) -> bool:
        return self.enrollment_state == "completed" or self.workflow_state == "completed"

    @property
    def visible(self) -> bool:
        """Readable by the student: enrolled and not restricted by date."""
        return not self.dropped and not self.restricted

    def sorted_groups(self) -> list[Group]:
        return sorted(self.groups.values(), key=lambda g: (g.position, g.id))

    def visible_assignments(self) -> list[Assignment]:
        """Published assignments in Canvas order: group position, position, id."""
        positions = {g.id: g.position for g in self.groups.values()}
        items = [a for a in self.assignments.values() if a.visible]
        items.sort(key=lambda a: (positions.get(a.group_id, 0), a.position, a.id))
        return items

    def touch(self) -> None:
        """Something that may change the totals happened: drop the cached scores."""
        self.scores_cache = None


@dataclass
class UserInfo:
    id: int
    name: str
    short_name: str
    sortable_name: str
    first_name: str
    last_name: str
    login_id: str
    email: str
    created_at: datetime
    time_zone: str = "America/Chicago"
