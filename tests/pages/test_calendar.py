"""The calendar feed: created in Settings, read by calendar apps (parsed here with the
``icalendar`` library), revocable, and a 404 for any address that is not the current one."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

import icalendar
import pytest
from sqlalchemy import select

from app.calendar.ics import Event, render_calendar
from app.extensions import db
from app.models import Assignment, Course, User
from tests.auth_actions import AuthActions
from tests.school_year import MIDTERM
from tests.sync_helpers import only_connection

FEED_URL = re.compile(r"http://localhost/calendar/[A-Za-z0-9_-]{43}\.ics")


@pytest.fixture
def synced(app: Any, runner: Any, canvas_user: tuple[Any, Any]) -> tuple[Any, Any]:
    user, student = canvas_user
    result = runner.invoke(args=["canvas", "sync", user.email])
    assert result.exit_code == 0, result.output
    return user, student


def create_feed(client: Any) -> str:
    AuthActions(client).login()
    page = client.post("/settings/calendar")
    assert page.status_code == 200
    urls = FEED_URL.findall(page.get_data(as_text=True))
    assert len(set(urls)) == 1, "the settings page shows the new address once created"
    return urls[0].removeprefix("http://localhost")


def read_feed(app: Any, path: str) -> icalendar.Calendar:
    response = app.test_client().get(path)  # a calendar app: no session, no cookies
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    return icalendar.Calendar.from_ical(response.get_data())


def test_the_feed_lists_every_assignment_with_a_due_date(
    app: Any, client: Any, synced: tuple[Any, Any]
) -> None:
    user, student = synced
    # "?past=1": past terms too, so every assignment with a due date (issue 24 left them out
    # of the plain address; test_past_terms_leave_the_feed_unless_asked covers that).
    calendar = read_feed(app, create_feed(client) + "?past=1")

    assert calendar["VERSION"] == "2.0"
    assert "GradeSync" in str(calendar["PRODID"])
    assert calendar["CALSCALE"] == "GREGORIAN"
    assert calendar["X-WR-CALNAME"] == "GradeSync: assignments"
    events = calendar.walk("VEVENT")
    rows = db.session.execute(
        select(Assignment, Course).join(Course).where(Assignment.due_at.is_not(None))
    ).all()
    assert len(rows) > 5 and len(events) == len(rows)
    assert len({str(event["UID"]) for event in events}) == len(events)

    by_url = {str(event["URL"]): event for event in events}
    for assignment, course in rows:
        url = (f"{simulator_base(user)}/courses/{course.canvas_course_id}"
               f"/assignments/{assignment.canvas_assignment_id}")
        event = by_url[url]
        assert assignment.name in str(event["SUMMARY"])
        description = str(event["DESCRIPTION"])
        assert f"Course: {course.name}" in description
        points = assignment.points_possible
        assert (f"Points: {points:g} point" if points is not None
                else "Points: ungraded") in description
        assert url in description
        assert "DTSTAMP" in event and "DTEND" in event
        start = event.decoded("DTSTART")
        if isinstance(start, datetime):
            assert start == assignment.due_at
        else:
            assert start == assignment.due_at.date()  # a midnight deadline: all day

    # The same deadline as Canvas itself has, for one assignment straight from the simulator.
    course = next(c for c in student.courses.values() if c.is_student and any(
        a.due_at for a in c.assignments.values()))
    canvas_assignment = next(a for a in course.assignments.values() if a.due_at)
    event = by_url[f"{simulator_base(user)}/courses/{course.id}/assignments/"
                   f"{canvas_assignment.id}"]
    assert canvas_assignment.name in str(event["SUMMARY"])
    start = event.decoded("DTSTART")
    expected = canvas_assignment.due_at
    assert start == (expected if isinstance(start, datetime) else expected.date())


def simulator_base(user: Any) -> str:
    return only_connection(user).base_url.rstrip("/")


@pytest.mark.clock(MIDTERM)  # needs a term in progress with graded work
def test_graded_and_submitted_states_show_in_the_event(
    app: Any, client: Any, synced: tuple[Any, Any]
) -> None:
    calendar = read_feed(app, create_feed(client))
    descriptions = [str(event["DESCRIPTION"]) for event in calendar.walk("VEVENT")]
    graded = db.session.scalars(select(Assignment).where(
        Assignment.due_at.is_not(None), Assignment.score.is_not(None),
        Assignment.points_possible.is_not(None), Assignment.is_excused.is_(False))).all()
    assert graded
    for assignment in graded:
        line = f"Status: Graded: {assignment.score:g}/{assignment.points_possible:g}"
        assert any(line in text for text in descriptions), line
    assert all("Status: " in text for text in descriptions)


def test_regenerating_and_revoking_the_address(
    app: Any, client: Any, synced: tuple[Any, Any]
) -> None:
    first = create_feed(client)
    uids = {str(e["UID"]) for e in read_feed(app, first).walk("VEVENT")}

    second = client.post("/settings/calendar")
    new = FEED_URL.findall(second.get_data(as_text=True))[0].removeprefix("http://localhost")
    assert new != first
    assert app.test_client().get(first).status_code == 404  # the old address stops working
    # Same events, same UIDs: a re-subscribed calendar does not double them.
    assert {str(e["UID"]) for e in read_feed(app, new).walk("VEVENT")} == uids

    # Settings now says a feed exists, without showing the address again.
    page = client.get("/settings").get_data(as_text=True)
    assert "data-feed-active" in page and not FEED_URL.search(page)

    assert client.post("/settings/calendar/revoke").status_code == 302
    assert app.test_client().get(new).status_code == 404
    assert "data-feed-off" in client.get("/settings").get_data(as_text=True)


@pytest.mark.parametrize("path", [
    "/calendar/not-the-secret.ics",
    "/calendar/" + "A" * 43 + ".ics",
    "/calendar/" + "A" * 500 + ".ics",
    "/calendar/.ics",
])
def test_a_wrong_secret_is_a_404(app: Any, client: Any, synced: tuple[Any, Any],
                                 path: str) -> None:
    create_feed(client)
    response = app.test_client().get(path)
    assert response.status_code == 404
    assert b"VCALENDAR" not in response.get_data()


def test_the_secret_is_stored_only_as_a_hash(app: Any, client: Any,
                                             synced: tuple[Any, Any]) -> None:
    path = create_feed(client)
    secret = path.removeprefix("/calendar/").removesuffix(".ics")
    stored = db.session.scalar(select(User.calendar_token_hash))
    assert stored and secret not in stored and len(stored) == 64


def test_creating_a_feed_needs_a_login(client: Any, synced: tuple[Any, Any]) -> None:
    response = client.post("/settings/calendar")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert db.session.scalar(select(User.calendar_token_hash)) is None


def test_escaping_folding_and_all_day_events_survive_a_real_parser() -> None:
    name = "Lab 4; part 2, \\draft\\ — résumé: 数据结构 " + "long title " * 12
    moment = datetime(2026, 12, 1, 17, 30, tzinfo=UTC)
    events = [
        Event(uid="a-1@gradesync", start=moment, summary=name,
              description="Course: Bio, 101\nStatus: Submitted", url="https://c.example/x"),
        Event(uid="a-2@gradesync", start=datetime(2026, 12, 3, tzinfo=UTC),
              summary="Essay", description="", all_day=True),
    ]
    body = render_calendar("Sam's calendar: 2026", events, moment)

    lines = body.split(b"\r\n")
    assert all(len(line) <= 75 for line in lines)
    assert b"\n" not in body.replace(b"\r\n", b"")  # CRLF only
    body.decode("utf-8")  # folding never splits a character
    calendar = icalendar.Calendar.from_ical(body)
    assert str(calendar["X-WR-CALNAME"]) == "Sam's calendar: 2026"
    first, second = calendar.walk("VEVENT")
    assert str(first["SUMMARY"]) == name
    assert str(first["DESCRIPTION"]) == "Course: Bio, 101\nStatus: Submitted"
    assert first.decoded("DTSTART") == moment
    assert second.decoded("DTSTART") == date(2026, 12, 3)
    assert second.decoded("DTEND") == date(2026, 12, 4)


@pytest.mark.clock(MIDTERM)
def test_past_terms_leave_the_feed_unless_asked(app: Any, client: Any, simulator: Any) -> None:
    """A senior mid-term: the plain address holds only the current (and coming or undated)
    terms' deadlines; ``?past=1`` adds the terms that have ended."""
    from app import jobs
    from app.models import Term
    from tests.conftest import connect_user

    user, _student = connect_user(app, simulator, email="student@example.edu",
                                  token="tok-feed-senior", preset="senior")
    run = jobs.create_sync_run(user.id, False)
    assert jobs.run_sync(user.id, run.id, False)["status"] == "succeeded"
    path = create_feed(client)
    now = MIDTERM.replace(tzinfo=None)
    rows = db.session.execute(
        select(Assignment, Term).join(Course, Course.id == Assignment.course_id)
        .outerjoin(Term, Term.id == Course.term_id).where(Assignment.due_at.is_not(None))
    ).all()
    past = [a for a, term in rows if term is not None and term.end_at is not None
            and term.end_at.replace(tzinfo=None) < now]
    assert past and len(past) < len(rows)
    current = read_feed(app, path).walk("VEVENT")
    everything = read_feed(app, path + "?past=1").walk("VEVENT")
    assert len(everything) == len(rows)
    assert len(current) == len(rows) - len(past)
    past_ids = {f"/assignments/{a.canvas_assignment_id}" for a in past}
    assert not any(str(e["URL"])[str(e["URL"]).index("/assignments/"):] in past_ids
                   for e in current)
