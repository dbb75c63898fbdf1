"""The planner's items: due in the next 14 days, or overdue and not handed in.

* **Due soon**: every assignment with a due date from now up to 14 days ahead, in every
  course and connection (the same assignments the calendar feed lists for those days).
* **Overdue or missing**: in a course still running, an assignment Canvas marks missing, or
  one whose due date has passed with nothing submitted, graded or excused.

Each item says what it is worth (:func:`app.grades.worth.assignment_worth`) and whether it is
late or missing, and carries the student's local "done" mark (``assignment_done``, never sent
to Canvas). Days are the student's (``users.time_zone``); "now" is ``clock.now()``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select

from app.calendar.feed import assignment_url, submission_state
from app.extensions import db
from app.grades import from_rows, periods_from_rows
from app.grades.worth import assignment_worth
from app.models import (
    Assignment,
    AssignmentDone,
    CanvasConnection,
    Course,
    GradeCategory,
    GradingPeriod,
    User,
    utcnow,
)
from app.timezones import in_zone

WINDOW = timedelta(days=14)


@dataclass(frozen=True, slots=True)
class PlannerItem:
    assignment_id: int
    canvas_assignment_id: int
    connection_id: int
    name: str
    course_id: int
    course_name: str
    due_at: datetime
    local_day: date
    worth: float | None
    status: str
    late: bool
    missing: bool
    done: bool
    url: str | None


@dataclass(frozen=True, slots=True)
class Planner:
    now: datetime
    upcoming: tuple[PlannerItem, ...]
    overdue: tuple[PlannerItem, ...]

    def days(self) -> list[tuple[date, list[PlannerItem]]]:
        """The upcoming items grouped by the student's local day, soonest first."""
        grouped: dict[date, list[PlannerItem]] = {}
        for item in self.upcoming:
            grouped.setdefault(item.local_day, []).append(item)
        return list(grouped.items())


def _handed_in(assignment: Assignment) -> bool:
    return (assignment.is_excused or assignment.score is not None or bool(assignment.grade)
            or assignment.submitted_at is not None
            or assignment.workflow_state in ("submitted", "pending_review", "graded"))


def _worth_by_assignment(course_ids: Sequence[int]) -> dict[int, float | None]:
    """Every assignment's share of its course grade, for the listed courses."""
    if not course_ids:
        return {}
    courses = db.session.scalars(select(Course).where(Course.id.in_(course_ids))).all()
    categories = db.session.scalars(
        select(GradeCategory).where(GradeCategory.course_id.in_(course_ids))).all()
    assignments = db.session.scalars(
        select(Assignment).where(Assignment.course_id.in_(course_ids))).all()
    weighted = [course.id for course in courses if course.has_weighted_grading_periods]
    period_rows = db.session.scalars(
        select(GradingPeriod).where(GradingPeriod.course_id.in_(weighted))).all() \
        if weighted else []
    worth: dict[int, float | None] = {}
    for course in courses:
        groups, items = from_rows([c for c in categories if c.course_id == course.id],
                                  [a for a in assignments if a.course_id == course.id])
        periods = periods_from_rows(p for p in period_rows if p.course_id == course.id)
        worth.update(assignment_worth(groups, items, course.apply_group_weights, periods,
                                      weighted_periods=course.has_weighted_grading_periods))
    return worth


def build_planner(user: User, now: datetime | None = None) -> Planner:
    """The student's planner at ``now`` (default: the clock's now)."""
    now = now or utcnow()
    rows = db.session.execute(
        select(Assignment, Course, CanvasConnection.base_url)
        .join(Course, Course.id == Assignment.course_id)
        .join(CanvasConnection, CanvasConnection.id == Course.connection_id)
        .where(Course.user_id == user.id, Assignment.due_at.is_not(None),
               Assignment.due_at < now + WINDOW)
        .order_by(Assignment.due_at, Assignment.id)
    ).all()
    chosen = []
    for assignment, course, base_url in rows:
        due = assignment.due_at
        assert due is not None  # filtered in the query
        if due >= now:
            chosen.append((assignment, course, base_url, False))
        elif not course.concluded and not assignment.is_excused and (
                assignment.is_missing or not _handed_in(assignment)):
            chosen.append((assignment, course, base_url, True))
    worth = _worth_by_assignment(sorted({course.id for _, course, _, _ in chosen}))
    done = set(db.session.scalars(
        select(AssignmentDone.assignment_id).where(AssignmentDone.user_id == user.id)))
    upcoming: list[PlannerItem] = []
    overdue: list[PlannerItem] = []
    for assignment, course, base_url, past in chosen:
        due = assignment.due_at
        assert due is not None
        item = PlannerItem(
            assignment_id=assignment.id,
            canvas_assignment_id=assignment.canvas_assignment_id,
            connection_id=course.connection_id,
            name=assignment.name, course_id=course.id, course_name=course.name,
            due_at=due, local_day=in_zone(due, user.time_zone).date(),
            worth=worth.get(assignment.id), status=submission_state(assignment),
            late=bool(assignment.is_late), missing=bool(assignment.is_missing) or past,
            done=assignment.id in done,
            url=assignment_url(base_url, course.canvas_course_id,
                               assignment.canvas_assignment_id) if base_url else None,
        )
        (overdue if past else upcoming).append(item)
    return Planner(now, tuple(upcoming), tuple(overdue))


def set_done(user: User, assignment: Assignment, done: bool) -> None:
    """Tick or untick the local "done" mark (nothing is sent to Canvas)."""
    row = db.session.get(AssignmentDone, assignment.id)
    if done and row is None:
        db.session.add(AssignmentDone(assignment_id=assignment.id, user_id=user.id,
                                      done_at=utcnow()))
    elif not done and row is not None:
        db.session.delete(row)
    db.session.commit()
