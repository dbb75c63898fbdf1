"""In-memory Canvas objects of one simulated student, plus grade formatting helpers.

These are the teacher's truth. What the student may *see* (hidden grades, restricted
courses) is decided when rendering (``render.py``) and in ``Student.expected()``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import clock

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
    now = clock.now()
    if now.microsecond:
        now = now.replace(microsecond=0) + timedelta(seconds=1)
    return now


def iso(value: datetime | None) -> str | None:
    """Canvas's timestamp format: UTC, whole seconds, ``Z``."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# The same scheme as a grading standard's ``grading_scheme`` (lower bounds as fractions).
DEFAULT_STANDARD: tuple[tuple[str, float], ...] = tuple(
    (name, bound / 100) for name, bound in LETTER_SCHEME)


def letter_for(percent: float | None) -> str | None:
    if percent is None:
        return None
    for letter, bound in LETTER_SCHEME:
        if percent >= bound:
            return letter
    return "F"


def scheme_letter(percent: float | None, scheme: tuple[tuple[str, float], ...] | None
                  ) -> str | None:
    """The letter of a 2-decimal ``percent`` under a grading standard; None without one.

    Bounds are compared in hundredths of a percent (integers), so 0.57 means 57.00.
    """
    if percent is None or not scheme:
        return None
    hundredths = round(percent * 100)
    ranked = sorted(scheme, key=lambda entry: entry[1], reverse=True)
    for name, bound in ranked:
        if hundredths >= round(bound * 10000):
            return name
    return ranked[-1][0]


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
class GradingPeriod:
    """A grading period of a course's grading period group."""

    id: int
    title: str
    start_date: datetime
    end_date: datetime
    close_date: datetime
    weight: float | None = None

    @property
    def is_closed(self) -> bool:
        # canvas-lms app/models/grading_period.rb GradingPeriod#closed? (alias is_closed):
        # ``Time.zone.now > close_date``.
        return clock.now() > self.close_date


@dataclass
class GradingStandard:
    """A course's grading scheme: (letter, lower bound as a fraction), highest first.

    ``context_type``: "Course" (readable through the course's grading standards API),
    "Account" (set in the account: the course-level endpoint answers 404) or "Default"
    (Canvas's built-in scheme: the course's ``grading_standard_id`` is 0 and no standard
    record exists; canvas-lms ``Course#grading_standard_enabled=`` sets
    ``grading_standard_id ||= 0``, ``GradingStandard.default_instance``).
    """

    id: int
    title: str
    scheme: tuple[tuple[str, float], ...]
    context_type: str = "Course"


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
    # Canvas derives it from the effective due date; it is carried by the *submission*.
    grading_period_id: int | None = None
    period_close_date: datetime | None = None
    # Assigned to this student. False: ``only_visible_to_overrides`` with overrides for other
    # students only, so the student has no submission row on it (canvas-lms
    # SubmissionLifecycleManager keeps one per assigned student; ``Course#submissions`` is
    # ``active``) and Canvas's grade leaves it out (GradeCalculator#assignment_visible_to_student?).
    assigned: bool = True

    @property
    def in_closed_period(self) -> bool:
        return self.period_close_date is not None and clock.now() > self.period_close_date

    @property
    def visible(self) -> bool:
        """The student sees it: published, not deleted, and assigned to them."""
        return self.published and not self.deleted and self.assigned


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
    workflow_state: str = "available"  # available, completed (teacher-concluded)
    enrollment_state: str = "active"  # active, invited, completed (registrar-completed)
    enrollment_type: str = "student"  # student, ta, teacher, designer, observer
    # The same user's other enrollments in this course ("observer" without observees, "ta"):
    # they widen which assignments the user is shown (see ``listed_assignments``).
    extra_roles: tuple[str, ...] = ()
    # Canvas recomputes totals in a background job after a change (canvas-lms
    # Enrollment.recompute_final_score_in_singleton, delay_if_production): the totals served
    # stay the old ones for this many seconds of clock time after a change (0: at once).
    recompute_delay: float = 0.0
    lagging_scores: dict[str, Any] | None = None  # the totals Canvas still serves
    changed_at: datetime | None = None
    nickname: str | None = None  # the student's own name for the course
    hide_final_grades: bool = False
    restricted: bool = False  # access_restricted_by_date
    dropped: bool = False  # the enrollment was deleted
    grading_standard: GradingStandard | None = None
    grading_periods: list[GradingPeriod] = field(default_factory=list)
    grading_period_group_id: int | None = None
    weighted_grading_periods: bool = False
    # "term" (the term's group: listed with include[]=grading_periods) or "course" (a
    # course-level group: only GET /courses/:id/grading_periods shows it).
    period_group_level: str = "term"
    # GradingPeriodGroup#display_totals_for_all_grading_periods (Course#
    # display_totals_for_all_grading_periods?): False hides the "All Grading Periods" total.
    totals_for_all_periods: bool = True
    time_zone: str = "America/Chicago"
    default_view: str = "modules"
    course_color: str | None = None
    locale: str | None = None
    uuid: str = ""
    groups: dict[int, Group] = field(default_factory=dict)
    assignments: dict[int, Assignment] = field(default_factory=dict)
    enrollment_updated_at: datetime | None = None
    # Cached oracle results (see simulator.totals); None = recompute.
    scores_cache: dict[str, Any] | None = None

    @property
    def grading_standard_id(self) -> int | None:
        return self.grading_standard.id if self.grading_standard else None

    @property
    def is_student(self) -> bool:
        return self.enrollment_type == "student"

    @property
    def date_concluded(self) -> bool:
        """The term (or course) end date has passed: soft-concluded, still gradable."""
        end = self.end_at or self.term.end_at
        return end is not None and end <= clock.now()

    @property
    def concluded(self) -> bool:
        """Canvas's ``concluded``: teacher-concluded, or over by date."""
        return self.workflow_state == "completed" or self.date_concluded

    @property
    def listed_enrollment_state(self) -> str:
        """The enrollment's ``workflow_state`` (the API's ``enrollment_state``).

        A teacher's conclusion completes the course's active and invited enrollments too (CL
        ``app/models/course.rb#update_enrolled_users``), so they read ``completed`` then.
        """
        if self.workflow_state == "completed" and self.enrollment_state in ("active", "invited"):
            return "completed"
        return self.enrollment_state

    @property
    def effective_enrollment_state(self) -> str:
        """The enrollment's state by date (CL ``EnrollmentState#state``, what the
        ``*_by_date`` scopes and ``/users/self/enrollments``' ``state[]`` filter on).

        An active or invited enrollment in an available course is ``completed`` once the
        course is over by date, ``pending_*`` while its dates keep the student out (here: a
        date-restricted course whose end has not passed); anything else is its workflow state.
        """
        state = self.listed_enrollment_state
        if state in ("active", "invited") and self.workflow_state == "available":
            if self.date_concluded:
                return "completed"
            if self.restricted:
                return f"pending_{state}"
        return state

    @property
    def display_name(self) -> str:
        """``name`` in the API: the nickname when the student set one."""
        return self.nickname or self.name

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

    def listed_assignments(self) -> list[Assignment]:
        """What ``assignment_groups?include[]=assignments`` lists to this user.

        canvas-lms ``AssignmentGroup.visible_assignments``: a user with manage_grades or
        read_as_admin in the course (a TA, teacher or designer) gets every active assignment,
        unpublished ones too; otherwise ``User#assignments_visible_in_course`` filters the
        published ones with ``DifferentiableAssignment.filter``, which does not filter for an
        observer who observes no one; a plain student gets only their own.
        """
        roles = {self.enrollment_type, *self.extra_roles}
        staff = bool(roles & {"ta", "teacher", "designer"})
        positions = {g.id: g.position for g in self.groups.values()}
        items = [a for a in self.assignments.values() if not a.deleted and (
            staff or (a.published and (a.assigned or "observer" in roles)))]
        items.sort(key=lambda a: (positions.get(a.group_id, 0), a.position, a.id))
        return items

    def touch(self) -> None:
        """Something that may change the totals happened: drop the cached scores.

        With ``recompute_delay`` the totals Canvas had before stay served until the delay
        has passed since the latest change (canvas-lms queues the recompute as a singleton job
        per student and course: changes in a row are recomputed once, after the last).
        """
        if self.recompute_delay > 0 and self.lagging_scores is None:
            self.lagging_scores = self.scores_cache
        self.changed_at = clock.now()
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
