"""The planner: the next 14 days and what is overdue, in the student's time zone, with what
each item is worth and a local "done" mark; it agrees with the calendar feed item for item."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.accounts import create_user
from app.calendar.feed import feed_events
from app.extensions import db
from app.models import (
    Assignment,
    AssignmentDone,
    CanvasConnection,
    Course,
    GradeCategory,
    GradingPeriod,
    User,
)
from app.pages.planner.items import build_planner
from tests.auth_actions import AuthActions
from tests.school_year import MIDTERM

UID = re.compile(r"assignment-(\d+)-user-\d+(?:-connection-(\d+))?@gradesync")


@pytest.mark.clock(MIDTERM)
def test_the_planner_and_the_calendar_feed_agree_item_for_item(
    app: Any, runner: Any, canvas_user: tuple[Any, Any]
) -> None:
    user, _student = canvas_user
    assert runner.invoke(args=["canvas", "sync", user.email]).exit_code == 0
    user = db.session.get(User, user.id)
    planner = build_planner(user)
    events = feed_events(user)

    def key(canvas_id: int, due: datetime) -> tuple[int, datetime]:
        return canvas_id, due

    in_window = set()
    for event in events:
        match = UID.fullmatch(event.uid)
        assert match
        if MIDTERM <= event.start < MIDTERM + timedelta(days=14):
            in_window.add(key(int(match.group(1)), event.start))
    upcoming = {key(i.canvas_assignment_id, i.due_at) for i in planner.upcoming}
    assert len(upcoming) >= 3 and upcoming == in_window
    summaries = {e.summary for e in events}
    for item in planner.upcoming:
        assert any(s.startswith(f"{item.name} (") for s in summaries)
    # Everything overdue is in the calendar too, in the past.
    past = {int(UID.fullmatch(e.uid).group(1)) for e in events  # type: ignore[union-attr]
            if e.start < MIDTERM}
    assert {i.canvas_assignment_id for i in planner.overdue} <= past


def _biology(email: str = "student@example.edu") -> tuple[Any, dict[str, int]]:
    """A student in Chicago with Biology: Homework 40 %, Exams 60 %."""
    user = create_user(email, "correct horse battery")
    user.time_zone = "America/Chicago"
    connection = CanvasConnection(user_id=user.id, base_url="https://canvas.example.edu")
    db.session.add(connection)
    db.session.flush()
    course = Course(user_id=user.id, connection_id=connection.id, canvas_course_id=7,
                    name="Biology", apply_group_weights=True)
    db.session.add(course)
    db.session.flush()
    homework = GradeCategory(course_id=course.id, canvas_group_id=1, name="Homework", weight=40)
    exams = GradeCategory(course_id=course.id, canvas_group_id=2, name="Exams", weight=60)
    db.session.add_all([homework, exams])
    db.session.flush()

    def assignment(cid: int, name: str, group: GradeCategory, points: float, due: datetime,
                   **kw: Any) -> Assignment:
        row = Assignment(course_id=course.id, canvas_course_id=7, canvas_assignment_id=cid,
                         grade_category_id=group.id, name=name, points_possible=points,
                         due_at=due, **kw)
        db.session.add(row)
        return row

    # MIDTERM is 18 Nov 15:00Z, 09:00 in Chicago. 19 Nov 05:59Z is 23:59 on the 18th there.
    assignment(1, "Lab report", homework, 10, datetime(2026, 11, 19, 5, 59, tzinfo=UTC))
    assignment(2, "Problem set", homework, 30, datetime(2026, 11, 25, 5, 59, tzinfo=UTC))
    assignment(3, "Final exam", exams, 100, datetime(2026, 12, 10, 15, tzinfo=UTC))
    assignment(4, "Reading quiz", homework, 5, datetime(2026, 11, 10, 15, tzinfo=UTC),
               is_missing=True, score=0.0)
    assignment(5, "Old essay", homework, 5, datetime(2026, 11, 1, 15, tzinfo=UTC),
               score=4.0, is_late=True)
    db.session.commit()
    return user, {a.name: a.id for a in db.session.query(Assignment)
                  .filter_by(course_id=course.id)}


@pytest.mark.clock(MIDTERM)
def test_the_planner_page_reads_in_plain_words(app: Any, client: Any) -> None:
    _biology()
    AuthActions(client).login()
    page = client.get("/planner").get_data(as_text=True)
    upcoming = page.split('id="upcoming-title"')[1]
    overdue = page.split('id="overdue-title"')[1].split('id="upcoming-title"')[0]
    # Homework is 40 % over 50 points: the 10-point lab is 8 %, the problem set 24 %.
    assert "8.0 % of your grade in Biology." in upcoming
    assert "24.0 % of your grade in Biology." in upcoming
    # Due 23:59 on the 18th in Chicago, not the 19th (the UTC date).
    assert upcoming.index("Wednesday, Nov 18") < upcoming.index("Lab report") \
        < upcoming.index("Tuesday, Nov 24") < upcoming.index("Problem set")
    assert "Nov 18, 2026, 11:59 PM" in upcoming
    assert "Final exam" not in page  # 22 days away
    assert "Reading quiz" in overdue and "data-missing" in overdue
    assert "Old essay" not in page  # graded: nothing to do
    assert "(kept here only; Canvas is not told)" in page


@pytest.mark.clock(MIDTERM)
def test_done_is_kept_locally_and_another_students_item_is_404(
    app: Any, client: Any
) -> None:
    _user, ids = _biology()
    _other, other_ids = _biology("other@example.edu")
    AuthActions(client).login()
    response = client.post(f"/planner/done/{ids['Lab report']}", data={"done": "on"})
    assert response.status_code == 302
    item = client.get("/planner").get_data(as_text=True).split(
        f'id="item-{ids["Lab report"]}"')[1].split("</li>")[0]
    assert "data-done" in item and "checked" in item
    assert db.session.get(AssignmentDone, ids["Lab report"]) is not None

    client.post(f"/planner/done/{ids['Lab report']}", data={})
    assert db.session.get(AssignmentDone, ids["Lab report"]) is None

    assert client.post(f"/planner/done/{other_ids['Lab report']}",
                       data={"done": "on"}).status_code == 404
    assert db.session.get(AssignmentDone, other_ids["Lab report"]) is None


@pytest.mark.clock(MIDTERM)
def test_what_an_assignment_is_worth_follows_weighted_grading_periods(app: Any) -> None:
    """Over the whole course Biology's problem set is 24 % of the grade (Homework 40 %, 30 of
    its 50 points). With weighted grading periods (Q1 25 %, Q2 75 %) it is 40 % of Q2 (beside
    the final exam), so 30 % of the total; the lab report, Q1's homework with 10 of its 20
    points and no exam, is half of Q1, so 12.5 %."""
    user, ids = _biology()
    course = db.session.query(Course).filter_by(canvas_course_id=7).one()
    planner = build_planner(user)
    before = {i.name: i.worth for i in (*planner.upcoming, *planner.overdue)}
    assert before["Problem set"] == pytest.approx(24.0)
    assert before["Lab report"] == pytest.approx(8.0)

    course.has_weighted_grading_periods = True
    db.session.add_all([
        GradingPeriod(course_id=course.id, canvas_grading_period_id=101, title="Q1", weight=25),
        GradingPeriod(course_id=course.id, canvas_grading_period_id=102, title="Q2", weight=75),
    ])
    for assignment in db.session.query(Assignment).filter_by(course_id=course.id):
        assignment.grading_period_id = (102 if assignment.name in ("Problem set", "Final exam")
                                        else 101)
    db.session.commit()
    planner = build_planner(user)
    worth = {i.name: i.worth for i in (*planner.upcoming, *planner.overdue)}
    assert worth["Problem set"] == pytest.approx(30.0)
    assert worth["Lab report"] == pytest.approx(12.5)
    assert ids["Problem set"] in {i.assignment_id for i in planner.upcoming}
