"""Canvas features a preset course can carry on top of its gradebook.

Grading periods (one closed), grading schemes, pending-review quizzes, late deductions and
grades entered after the term's end. Each function changes one freshly built course.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from simulator.model import (
    DEFAULT_STANDARD,
    Assignment,
    Course,
    GradingPeriod,
    GradingStandard,
    iso,
)
from simulator.specs import IdAllocator

DEPARTMENT_STANDARD: tuple[tuple[str, float], ...] = (
    ("A", 0.93), ("B", 0.85), ("C", 0.75), ("D", 0.65), ("F", 0.0),
)
PASS_STANDARD: tuple[tuple[str, float], ...] = (
    ("Distinction", 0.85), ("Pass", 0.57), ("Fail", 0.0),
)


def add_grading_standard(course: Course, rng: random.Random, ids: IdAllocator,
                         forced: str | None = None) -> None:
    """Half the courses have no scheme (no letters); the rest one of three.

    ``forced`` "default0": grading schemes enabled without choosing one, so the course's
    ``grading_standard_id`` is 0 and Canvas's built-in scheme applies (canvas-lms
    ``Course#grading_standard_enabled=``: ``grading_standard_id ||= 0``;
    ``GradingStandard.default_grading_standard``). "account": a scheme that lives in the
    account (the course-level grading standards endpoint answers 404 for it).
    """
    choice = rng.choice((None, None, "default", "department", "pass"))  # always drawn
    if forced == "default0":
        course.grading_standard = GradingStandard(0, "Default Grading Scheme",
                                                  DEFAULT_STANDARD, "Default")
        return
    if forced == "account":
        course.grading_standard = GradingStandard(
            ids.next("grading_standard"), "District scale", DEPARTMENT_STANDARD, "Account")
        return
    if choice is None:
        return
    title, scheme = {
        "default": ("Default Grading Scheme", DEFAULT_STANDARD),
        "department": ("Department scale", DEPARTMENT_STANDARD),
        "pass": ("Distinction / Pass / Fail", PASS_STANDARD),
    }[choice]
    course.grading_standard = GradingStandard(ids.next("grading_standard"), title, scheme)


def add_grading_periods(course: Course, ids: IdAllocator, anchor: datetime, *,
                        weighted: bool, shard: int, level: str = "term",
                        totals_for_all: bool = True) -> None:
    """Two periods that split the term at its middle day; each closes after it ends.

    Quarter 1 closes a week after it ends, Quarter 2 two weeks after the term's end, on the
    school calendar (not relative to today): on the day Quarter 1 closes, it is open until
    05:59:59Z and closed after. A term without dates (the Default Term) is split around
    ``anchor``. Assignments belong to the period their due date falls in; undated ones to the
    last period (as Canvas assigns them). ``level`` "course": a course-level period group (not
    in the course list's ``include[]=grading_periods``).
    """
    term_start = course.term.start_at or anchor - timedelta(days=90)
    term_end = course.term.end_at or anchor + timedelta(days=90)
    split = (term_start + (term_end - term_start) / 2).replace(hour=6, minute=0, second=0,
                                                                microsecond=0)
    course.grading_period_group_id = ids.next("grading_period", shard)
    course.weighted_grading_periods = weighted
    course.period_group_level = level
    course.totals_for_all_periods = totals_for_all
    course.grading_periods = [
        GradingPeriod(ids.next("grading_period", shard), "Quarter 1", term_start, split,
                      split + timedelta(days=7) - timedelta(seconds=1),
                      40.0 if weighted else None),
        GradingPeriod(ids.next("grading_period", shard), "Quarter 2", split, term_end,
                      term_end + timedelta(days=14), 60.0 if weighted else None),
    ]
    last = course.grading_periods[-1]
    for assignment in course.assignments.values():
        due = assignment.due_at
        if due is None:
            assignment.grading_period_id = last.id
            assignment.period_close_date = last.close_date
            continue
        period = next((p for p in course.grading_periods if p.start_date <= due < p.end_date),
                      None)
        assignment.grading_period_id = period.id if period else None
        assignment.period_close_date = period.close_date if period else None


def grade_each_period(course: Course, anchor: datetime) -> None:
    """Guarantee a graded, posted, counted item in every period that began before today (the
    showcase course; run after every other feature, pending review included). A period that
    has not begun has no grades: nothing is ever graded in the future.

    A period without one takes the first counted assignment it holds (not one awaiting
    review) and grades it
    (80%, posted at its due date or the period's start); failing that, it borrows an
    ungraded counted assignment of another period and moves its due date inside.
    """
    def counted(a: Assignment) -> bool:
        return (a.visible and bool(a.points_possible) and a.grading_type == "points"
                and not a.omit_from_final_grade and not a.submission.excused)

    def graded(a: Assignment) -> bool:
        sub = a.submission
        return counted(a) and sub.workflow_state == "graded" and sub.posted \
            and sub.score is not None

    for period in course.grading_periods:
        if period.start_date > anchor - timedelta(days=1):
            continue
        mine = [a for a in course.assignments.values() if a.grading_period_id == period.id]
        if any(graded(a) for a in mine):
            continue
        pick = next((a for a in mine
                     if counted(a) and a.submission.workflow_state != "pending_review"), None)
        if pick is None:
            pick = next((a for a in course.assignments.values() if counted(a) and not graded(a)
                         and a.submission.workflow_state != "pending_review"), None)
            if pick is None:
                continue
            middle = period.start_date + (period.end_date - period.start_date) / 2
            pick.due_at = middle.replace(microsecond=0)
            pick.grading_period_id = period.id
            pick.period_close_date = period.close_date
        when = max(period.start_date,
                   min(pick.due_at or period.start_date, period.end_date, anchor)
                   - timedelta(hours=1))
        sub = pick.submission
        sub.workflow_state = "graded"
        sub.score = sub.entered_score = round((pick.points_possible or 0) * 0.8, 2)
        sub.grade = f"{sub.score:g}"
        sub.missing = sub.late = False
        sub.points_deducted = None
        sub.late_policy_status = None
        sub.submitted_at = sub.submitted_at or when
        sub.graded_at = sub.posted_at = when


def add_pending_review(course: Course, rng: random.Random) -> None:
    """One graded quiz-like submission awaits manual grading with a partial score."""
    graded = [a for a in course.visible_assignments()
              if a.submission.workflow_state == "graded" and a.submission.posted
              and a.submission.score and a.points_possible and a.grading_type == "points"
              and not a.submission.excused and not a.omit_from_final_grade
              and not a.submission.late]
    if not graded:
        return
    a = rng.choice(graded)
    sub = a.submission
    sub.workflow_state = "pending_review"
    sub.score = sub.entered_score = round((sub.score or 0) * 0.6 * 2) / 2
    sub.grade = f"{sub.score:g}"
    a.submission_types = ["online_quiz"]
    a.name = f"{a.name} (essay question)"


def apply_late_deduction(course: Course) -> None:
    """Late graded submissions lose 10% of the points: score is after the deduction."""
    for a in course.assignments.values():
        sub = a.submission
        if not sub.late or sub.score is None or not a.points_possible \
                or a.grading_type != "points":
            continue
        deducted = round(a.points_possible * 0.1, 2)
        sub.entered_score = sub.score
        sub.points_deducted = deducted
        sub.score = max(sub.score - deducted, 0.0)
        sub.grade = f"{sub.score:g}"
        sub.late_policy_status = "late"


def grade_after_end(course: Course, rng: random.Random) -> None:
    """The teacher enters the last graded item's grade 3 days after the term's end."""
    end = course.term.end_at
    graded = [a for a in course.visible_assignments()
              if a.submission.workflow_state == "graded" and a.submission.posted
              and not a.submission.excused]
    if end is None or not graded:
        return
    a = max(graded, key=lambda x: (x.due_at is not None, iso(x.due_at) or "", x.id))
    when = end + timedelta(days=3, hours=rng.randint(0, 20))
    a.submission.graded_at = a.submission.posted_at = when
