"""A student's assignments with due dates, as calendar events.

One event per assignment with a due date, in every course GradeSync holds for the student
(concluded ones too: past deadlines stay in the calendar). The UID is stable per student and
assignment, so a calendar app updates an event when its due date moves instead of adding a
second one. Read-only: building the feed never changes a row.
"""

from __future__ import annotations

from datetime import UTC, datetime, time

from sqlalchemy import func, select

from app.calendar.ics import Event, render_calendar
from app.extensions import db
from app.models import Assignment, CanvasConnection, Course, User, utcnow

CALENDAR_NAME = "GradeSync: assignments"


def _points(value: float | None) -> str:
    if value is None:
        return "ungraded"
    text = f"{value:g}"
    return f"{text} point" if text == "1" else f"{text} points"


def submission_state(assignment: Assignment) -> str:
    """What the student would want to know at a glance: graded, submitted, missing, or not yet."""
    if assignment.is_excused:
        return "Excused"
    if assignment.score is not None:
        possible = assignment.points_possible
        of = f"/{possible:g}" if possible is not None else ""
        return f"Graded: {assignment.score:g}{of}"
    if assignment.grade:
        return f"Graded: {assignment.grade}"
    if assignment.submitted_at is not None or assignment.workflow_state in (
        "submitted", "pending_review"
    ):
        return "Submitted, not graded yet"
    if assignment.is_missing:
        return "Missing"
    return "Not submitted"


def assignment_url(base_url: str, canvas_course_id: int, canvas_assignment_id: int) -> str:
    return f"{base_url.rstrip('/')}/courses/{canvas_course_id}/assignments/{canvas_assignment_id}"


def _is_midnight(moment: datetime) -> bool:
    # A due date with no time of day: show it as an all-day event, not at 00:00.
    return moment.astimezone(UTC).time() == time(0, 0)


def feed_events(user: User) -> list[Event]:
    """The user's assignments that have a due date, soonest first."""
    rows = db.session.execute(
        select(Assignment, Course, CanvasConnection.base_url)
        .join(Course, Course.id == Assignment.course_id)
        .join(CanvasConnection, CanvasConnection.id == Course.connection_id)
        .where(Course.user_id == user.id, Assignment.due_at.is_not(None))
        .order_by(Assignment.due_at, Assignment.id)
    ).all()
    # Canvas ids repeat across instances: events from any but the oldest connection carry it
    # in their UID (the oldest keeps the UIDs calendars already know).
    oldest = db.session.scalar(
        select(func.min(CanvasConnection.id)).where(CanvasConnection.user_id == user.id)
    )
    events = []
    for assignment, course, base_url in rows:
        due = assignment.due_at
        assert due is not None  # filtered in the query
        # Each course links into the Canvas it came from (a student may have several).
        url = (
            assignment_url(base_url, course.canvas_course_id, assignment.canvas_assignment_id)
            if base_url else None
        )
        details = [
            f"Course: {course.name}",
            f"Points: {_points(assignment.points_possible)}",
            f"Status: {submission_state(assignment)}",
        ]
        if url:
            details.append(f"Open in Canvas: {url}")
        events.append(Event(
            uid=f"assignment-{assignment.canvas_assignment_id}-user-{user.id}"
            + ("" if course.connection_id == oldest else f"-connection-{course.connection_id}")
            + "@gradesync",
            start=due,
            summary=f"{assignment.name} ({course.course_code or course.name})",
            description="\n".join(details),
            url=url,
            all_day=_is_midnight(due),
            last_modified=assignment.canvas_updated_at,
        ))
    return events


def build_feed(user: User, now: datetime | None = None) -> bytes:
    """The user's whole feed as iCalendar bytes."""
    return render_calendar(CALENDAR_NAME, feed_events(user), now or utcnow())
