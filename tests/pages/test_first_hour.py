"""A student's first hour (issue 24), on pages synced from the simulator mid-term: the course
page says nothing it cannot back (no ``None``, no "0.00%" final grade for a period with nothing
graded, no "only while it is current" on the current period), the dashboard folds past terms,
the calendar feed leaves past terms out unless asked, and Settings tells the truth."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from sqlalchemy import select

from app import jobs
from app.extensions import db
from app.models import Course
from tests.auth_actions import AuthActions
from tests.conftest import connect_user
from tests.school_year import MIDTERM

PASSWORD = "correct horse battery"


def visible_text(page: str) -> str:
    page = re.sub(r"(?is)<(script|style|template)\b.*?</\1>", " ", page)
    page = re.sub(r"(?s)<!--.*?-->", " ", page)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


@pytest.fixture
def senior(app: Any, simulator: Any, client: Any) -> tuple[Any, Any]:
    """A senior (nine terms of courses) synced mid-term, signed in."""
    user, student = connect_user(app, simulator, email="senior@example.edu",
                                 token="tok-first-hour", preset="senior")
    run = jobs.create_sync_run(user.id, False)
    assert jobs.run_sync(user.id, run.id, False)["status"] == "succeeded"
    AuthActions(client).login(email="senior@example.edu", password=PASSWORD)
    return user, student


def _course_pages(client: Any, user: Any) -> list[tuple[Course, str, str]]:
    """Every course page and every one of its grading periods' pages: (course, url, html)."""
    found = []
    for course in db.session.scalars(select(Course).where(Course.user_id == user.id)):
        url = f"/courses/{course.id}"
        page = client.get(url).get_data(as_text=True)
        found.append((course, url, page))
        for key in sorted(set(re.findall(r'data-period="([^"]+)"', page))):
            period_url = f"{url}?period={key}"
            found.append((course, period_url, client.get(period_url).get_data(as_text=True)))
    return found


@pytest.mark.clock(MIDTERM)
def test_course_pages_say_nothing_they_cannot_back(client: Any, senior: Any) -> None:
    user, _student = senior
    pages = _course_pages(client, user)
    assert len(pages) > 20
    for _course, url, page in pages:
        text = visible_text(page)
        assert not re.search(r"\bNone\b", text), url
        summary = page[page.index('class="card grade-summary"'):
                       page.index('class="card grade-history"')]
        if re.search(r"data-what-if-percent>—<", summary):
            assert "Final grade (ungraded work as 0)" not in summary, url
        switcher = re.search(r'(?s)<nav class="period-switcher".*?</nav>', page)
        if switcher:
            nav = switcher.group(0)
            assert nav.count('aria-current="page"') == 1, url
            chosen = re.search(r'aria-current="page"[^>]*>([^<]+)<', nav)
            assert chosen, url
            current = re.search(r'aria-current="page".*?</a>\s*<span[^>]*>([^<]*)</span>', nav,
                                re.S)
            if current and "current" in current.group(1):
                assert "only while it is current" not in text, url


@pytest.mark.clock(MIDTERM)
def test_a_zero_point_item_that_changes_nothing_says_why(client: Any, senior: Any) -> None:
    """A what-if on a 0-point item whose group counts nothing yet is accepted, and the box
    says it changes nothing instead of silently doing nothing."""
    user, _student = senior
    from app.models import Assignment
    from app.pages.dashboard.what_if import what_if

    for course in db.session.scalars(select(Course).where(Course.user_id == user.id)):
        for assignment in db.session.scalars(
                select(Assignment).where(Assignment.course_id == course.id)):
            if assignment.points_possible:
                continue
            result = what_if(course, {str(assignment.id): "5"})
            if not result["changed"]:
                assert "changes nothing" in result["field_errors"][str(assignment.id)]
            else:
                assert str(assignment.id) not in result["field_errors"]


def test_the_chart_reads_in_the_students_time_zone_and_counts_its_points() -> None:
    from datetime import UTC, datetime

    from app.grades.history import GradePoint
    from app.pages.dashboard.chart import grade_chart

    # 03:30 UTC on 19 Nov is 21:30 on 18 Nov in Chicago.
    late = datetime(2026, 11, 19, 3, 30, tzinfo=UTC)
    one = grade_chart([GradePoint(late, 88.0)], "America/Chicago")
    assert one is not None
    assert "Nov 18" in one.summary and "1 points" not in one.summary
    assert one.dots[0].label == "Nov 18 21:30: 88.0%"
    two = grade_chart([GradePoint(late, 88.0), GradePoint(late.replace(hour=5), 90.0)],
                      "America/Chicago")
    assert two is not None and two.summary.endswith("2 points.")
    assert (two.first, two.last) == ("Nov 18 21:30", "Nov 18 23:30")
    utc = grade_chart([GradePoint(late, 88.0)], None)
    assert utc is not None and utc.dots[0].label == "Nov 19 03:30: 88.0%"


@pytest.mark.clock(MIDTERM)
def test_the_dashboard_folds_past_terms_under_the_current_one(client: Any, senior: Any) -> None:
    user, _student = senior
    page = client.get("/").get_data(as_text=True)
    total = page.count('href="/courses/')
    folded = page[page.index("<details class=\"past-terms\""):page.index("</details>",
                                                                         page.index("past-terms"))]
    open_part = page[:page.index("<details class=\"past-terms\"")]
    assert "Current term" in open_part.split('<section class="term"')[1]  # first term shown
    assert "Current term" not in folded
    assert 0 < open_part.count('href="/courses/') < total
    assert folded.count('href="/courses/') == total - open_part.count('href="/courses/')
    assert re.search(r"Past terms: \d+ terms,\s+\d+ courses", visible_text(folded))
    assert not re.search(r"\bNone\b", visible_text(page))


@pytest.mark.clock(MIDTERM)
def test_settings_say_what_this_server_can_do(app: Any, client: Any, senior: Any) -> None:
    app.config["MAIL_SERVER"] = None
    page = client.get("/settings").get_data(as_text=True)
    email_box = re.search(r'<input[^>]*name="email"[^>]*>', page)
    assert email_box and "checked" not in email_box.group(0) and "disabled" in email_box.group(0)
    # One connection: one "Disconnect…", not a second "Disconnect Canvas…" beside it.
    assert visible_text(page).count("Disconnect") == 1
    rename = re.search(r'<input[^>]*name="label"[^>]*>', page)
    assert rename and 'type="text"' in rename.group(0)
    client.post("/settings/calendar")
    page = client.get("/settings").get_data(as_text=True)
    off = re.search(r'<input[^>]*value="Turn the calendar feed off"[^>]*>', page)
    assert off and "button-danger" not in off.group(0) and "button-link" in off.group(0)

    app.config["MAIL_SERVER"] = "localhost"
    page = client.get("/settings").get_data(as_text=True)
    email_box = re.search(r'<input[^>]*name="email"[^>]*>', page)
    assert email_box and "checked" in email_box.group(0) and "disabled" not in email_box.group(0)


def test_the_demo_connect_button_comes_first_in_settings(app: Any, client: Any) -> None:
    app.config.update(DEMO_MODE=True, DEMO_CANVAS_URL="http://127.0.0.1:9", DEMO_CANVAS_TOKEN="t")
    AuthActions(client).register()
    page = client.get("/settings").get_data(as_text=True)
    main = page[page.index("<h1>Settings</h1>"):]
    assert main.index("Connect to the demo Canvas") < main.index("<section")


def test_a_run_has_one_name_in_the_history_and_on_its_own_page(app: Any, client: Any) -> None:
    from app.models import SyncRun, User, utcnow

    AuthActions(client).register()
    user = db.session.scalar(select(User))
    run = SyncRun(user_id=user.id, kind="incremental", status="succeeded", started_at=utcnow(),
                  finished_at=utcnow(), summary={"courses": 32, "courses_written": 0,
                                                 "new_grades": 0})
    db.session.add(run)
    db.session.commit()
    history = visible_text(client.get("/sync/history").get_data(as_text=True))
    own = visible_text(client.get(f"/sync/{run.id}").get_data(as_text=True))
    assert "Quick sync (changes only)" in history and "Quick sync (changes only)" in own
    assert "Incremental sync" not in own
    assert "Checked 32 courses: nothing changed." in history
    assert "Updated 32 courses" not in history + own
