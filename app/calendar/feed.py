"""A student's assignments with due dates, as calendar events.

One event per assignment with a due date, in the courses of the current, coming and undated
terms; courses of terms that have ended stay out unless the feed's address asks for them
(``?past=1``), so a senior's calendar is not hundreds of old deadlines. The UID is stable per
student and assignment, so a calendar app updates an event when its due date moves instead of
adding a second one. Read-only: building the feed never changes a row.
"""

from __future__ import annotations

from datetime import UTC, datetime, time

from sqlalchemy import func, or_, select

from app.calendar.ics import Event, render_calendar
from app.extensions import db
from app.models import Assignment, CanvasConnection, Course, Term, User, utcnow

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


def feed_events(user: User, *, include_past: bool = False, now: datetime | None = None
                ) -> list[Event]:
    """The user's assignments that have a due date, soonest first; with ``include_past``
    also those of terms that ended before ``now``."""
    query = (
        select(Assignment, Course, CanvasConnection.base_url)
        .join(Course, Course.id == Assignment.course_id)
        .join(CanvasConnection, CanvasConnection.id == Course.connection_id)
        .outerjoin(Term, Term.id == Course.term_id)
        .where(Course.user_id == user.id, Assignment.due_at.is_not(None))
        .order_by(Assignment.due_at, Assignment.id)
    )
    if not include_past:
        query = query.where(or_(Term.id.is_(None), Term.end_at.is_(None),
                                Term.end_at >= (now or utcnow())))
    rows = db.session.execute(query).all()
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


def build_feed(user: User, now: datetime | None = None, *, include_past: bool = False) -> bytes:
    """The user's feed as iCalendar bytes (past terms only with ``include_past``)."""
    now = now or utcnow()
    return render_calendar(CALENDAR_NAME, feed_events(user, include_past=include_past, now=now),
                           now)
