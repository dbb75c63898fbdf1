"""A real browser (Debian's chromium through Playwright) against the app served for real.

Register, connect to the Canvas simulator in Settings, click Sync Canvas, watch the progress
bar reach 100%, see the courses, open a course and try a what-if score. Takes a screenshot of
the dashboard; with GRADESYNC_UPDATE_SCREENSHOT=1 it replaces the one the README shows
(docs/screenshot-dashboard.png), otherwise it goes to the test's temporary directory so a test
run never modifies tracked files.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import exists, select
from werkzeug.serving import make_server

from app import create_app
from app.extensions import db
from app.models import Assignment, Course, GradeCategory, GradingPeriod, User
from tests.conftest import _empty_all_tables, make_test_config

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
README_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshot-dashboard.png"
EMAIL = "browser@example.edu"
PASSWORD = "correct horse battery"
TOKEN = "tok-browser-1"


def _require_chromium() -> None:
    if Path(CHROMIUM).exists():
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{CHROMIUM} is missing on CI: install Debian's chromium package")
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install -y chromium)")


@pytest.fixture
def live_app(database_url: str, _schema: None) -> Iterator[tuple[Any, str]]:
    """The app with CSRF on, served by werkzeug on a free loopback port in a thread."""
    app = create_app(make_test_config(database_url, WTF_CSRF_ENABLED=True,
                                      SYNC_POLL_SECONDS=0.2))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    app.config["PUBLIC_URL"] = f"http://127.0.0.1:{server.server_port}"
    try:
        yield app, app.config["PUBLIC_URL"]
    finally:
        server.shutdown()
        server.server_close()
        runner = app.extensions.get("gradesync_sync_runner")
        if runner is not None:
            runner.shutdown()
        with app.app_context():
            db.session.remove()
            _empty_all_tables()
            db.engine.dispose()


@pytest.fixture
def browser_page() -> Iterator[Any]:
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.set_default_timeout(20_000)
        try:
            yield page
        finally:
            browser.close()


def _course_with_a_counted_score(app: Any) -> tuple[int, int, str]:
    """(course id, assignment id, course name): a scored assignment whose change must move
    the course grade (positive score, points, in a group without drop rules that counts), in a
    course without grading periods, so that its page shows every assignment whatever the
    date. The same one on every run: chosen by Canvas ids (local ids follow the order the
    gradebooks arrived in)."""
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == EMAIL))
        has_periods = exists().where(GradingPeriod.course_id == Course.id)
        rows = db.session.execute(
            select(Course, Assignment, GradeCategory)
            .join(Assignment, Assignment.course_id == Course.id)
            .join(GradeCategory, GradeCategory.id == Assignment.grade_category_id)
            .where(Course.user_id == user.id, Assignment.score > 0,
                   Assignment.points_possible > 0, Assignment.is_excused.is_(False),
                   Assignment.omit_from_final_grade.is_(False),
                   GradeCategory.drop_lowest == 0, GradeCategory.drop_highest == 0,
                   ~has_periods)
            .order_by(Course.canvas_course_id, Assignment.canvas_assignment_id)
        ).all()
        for course, assignment, group in rows:
            if course.apply_group_weights and not group.weight:
                continue
            return course.id, assignment.id, course.name
    raise AssertionError("the simulated student has no suitable assignment")


def test_register_connect_sync_and_what_if(live_app: tuple[Any, str], simulator: Any,
                                           browser_page: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    app, base = live_app
    page = browser_page
    student = simulator.add_student(TOKEN, preset="freshman", seed=3)
    problems: list[str] = []

    def on_console(msg: Any) -> None:
        # The browser asks for /favicon.ico on its own; we have none, which is fine.
        if msg.type == "error" and not msg.location.get("url", "").endswith("favicon.ico"):
            problems.append(msg.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: problems.append(str(exc)))

    # Register: lands on Settings.
    page.goto(f"{base}/register")
    page.fill("#email", EMAIL)
    page.fill("#password", PASSWORD)
    page.fill("#confirm", PASSWORD)
    page.click("text=Create account")
    expect(page).to_have_url(f"{base}/settings")

    # Connect to the simulator.
    page.fill("#url", simulator.base_url)
    page.fill("#token", TOKEN)
    page.click("text=Save and connect")
    expect(page.locator("body")).to_contain_text(simulator.base_url)

    # Sync from the dashboard and watch the progress bar.
    page.goto(f"{base}/")
    page.click("button[data-sync-button]")
    expect(page).to_have_url(re.compile(r"/sync/\d+$"))
    expect(page.locator("progress[data-field=progress]")).to_have_attribute("value", "100")
    expect(page.locator("[data-field=result]")).to_contain_text("Sync finished")
    expect(page.locator("[data-field=percent_text]")).to_have_text("100%")

    # The courses appear on the dashboard.
    page.click("text=See your grades")
    expected = student.expected()
    for course in expected.values():
        expect(page.locator("table.courses")).to_contain_text(course["name"])
    shot = (
        README_SCREENSHOT
        if os.environ.get("GRADESYNC_UPDATE_SCREENSHOT") == "1"
        else tmp_path / "screenshot-dashboard.png"
    )
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000  # a real rendering, not a blank page

    # Open a course and try a what-if score: the grade changes, the data does not.
    course_id, assignment_id, course_name = _course_with_a_counted_score(app)
    page.click(f"a[href='/courses/{course_id}']")
    expect(page.locator("h1")).to_contain_text(course_name)
    grade = page.locator("[data-what-if-percent]")
    before = grade.inner_text()
    expect(page.locator("[data-what-if-changed]")).to_be_hidden()
    page.fill(f"#what-if-{assignment_id}", "0")
    expect(grade).not_to_have_text(before)
    expect(page.locator("[data-what-if-changed]")).to_be_visible()
    page.click("text=Clear what-if scores")
    expect(grade).to_have_text(before)
    expect(page.locator("[data-what-if-changed]")).to_be_hidden()
    with app.app_context():
        assert db.session.get(Assignment, assignment_id).score > 0

    # "What do I need on <assignment> for <target>?" answers in the page.
    page.select_option("#target-assignment", str(assignment_id))
    page.fill("#target-percent", "50")
    expect(page.locator("[data-needed-result]")).to_contain_text("50%")

    # "Sync this course": a run of that course alone, watched on the same progress page.
    page.click("button[data-sync-course]")
    expect(page).to_have_url(re.compile(r"/sync/\d+$"))
    expect(page.locator("progress[data-field=progress]")).to_have_attribute("value", "100")
    expect(page.locator("[data-field=result]")).to_contain_text("Sync finished")

    assert problems == [], problems


def test_polling_shows_a_rejected_token(live_app: tuple[Any, str], simulator: Any,
                                                  browser_page: Any) -> None:
    """The page polls status.json with its ETag (unchanged: 304); a revoked token points to
    Settings."""
    from playwright.sync_api import expect

    from tests.conftest import connect_user

    app, base = live_app
    page = browser_page
    with app.app_context():
        connect_user(app, simulator, email=EMAIL, token=TOKEN)
    simulator.revoke_token(TOKEN)
    # Slow Canvas down so the page surely loads while the sync still runs and has to poll.
    simulator.config.latency = 1.0
    polled: list[int] = []
    page.on("response", lambda res: polled.append(res.status)
            if "status.json" in res.url else None)

    page.goto(f"{base}/login")
    page.fill("#email", EMAIL)
    page.fill("#password", PASSWORD)
    page.click("#submit")
    page.click("button[data-sync-button]")
    result = page.locator("[data-field=result]")
    expect(result).to_contain_text("access token")
    expect(result.locator("a")).to_have_text("Check your Canvas token in Settings")
    expect(page.locator("[data-field=status_label]")).to_have_text("Failed")
    assert 200 in polled, "the page did not poll"
    assert 304 in polled, f"the page never sent its ETag back: {polled}"
    result.locator("a").click()
    expect(page).to_have_url(f"{base}/settings")


def test_change_feed_and_grade_chart_after_a_sync_that_changed_grades(
        live_app: tuple[Any, str], simulator: Any, browser_page: Any) -> None:
    """Sync (the baseline), a teacher grades something, sync again: the dashboard says what
    changed and by how much the course grade moved; the course page draws the grade over time,
    with no CSP violation (which Chromium reports as a console error)."""
    from playwright.sync_api import expect

    from tests.conftest import connect_user

    app, base = live_app
    page = browser_page
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text)
            if msg.type == "error" and "favicon" not in msg.location.get("url", "") else None)
    with app.app_context():
        _user, student = connect_user(app, simulator, email=EMAIL, token=TOKEN)

    def sync_from_the_dashboard() -> None:
        page.goto(f"{base}/")
        page.click("button[data-sync-button]")
        expect(page.locator("[data-field=result]")).to_contain_text("Sync finished")

    page.goto(f"{base}/login")
    page.fill("#email", EMAIL)
    page.fill("#password", PASSWORD)
    page.click("#submit")
    sync_from_the_dashboard()
    page.goto(f"{base}/")
    expect(page.locator("[data-changes]")).to_have_count(0)  # the baseline: no flood

    expected = student.expected()
    cid, aid = next(
        (cid, aid) for cid, course in expected.items()
        if course["computed_current_score"] is not None
        for aid, a in course["assignments"].items()
        if a["score"] is None and not a["excused"] and not a["missing"]
        and a["points_possible"] and not a["omit_from_final_grade"]
    )
    name = expected[cid]["assignments"][aid]["name"]
    student.grade(cid, aid, 1)
    sync_from_the_dashboard()
    expect(page.locator("[data-field=result]")).to_contain_text("1 new grade")

    page.goto(f"{base}/")
    feed = page.locator("[data-changes]")
    item = feed.locator("[data-change-kind=grade_posted]").first
    expect(item).to_contain_text(f"{expected[cid]['name']}: {name} graded 1/")
    expect(item.locator("[data-change-effect]")).to_contain_text(re.compile(r"course .+% → .+%"))

    item.locator("a").click()
    chart = page.locator("[data-grade-chart] svg")
    expect(chart).to_be_visible()
    expect(chart.locator("polyline[data-chart-line]")).to_have_count(1)
    assert chart.bounding_box()["height"] > 50
    expect(page.locator(".grade-history [data-changes]")).to_contain_text(f"{name} graded 1/")
    assert problems == [], problems
