"""Issue 22 in a real browser at 1280 px and on a 375 px phone: the GPA page (terms,
projected, cumulative, a what-if letter, the goal planner) and the planner (days in the
student's zone, what each item is worth, the local "done" box), read the way a student reads
them, and in both themes as readable as the theme test asks (contrast, accessible names, no
sideways scrolling; photographed with GRADESYNC_SHOTS)."""

from __future__ import annotations

from typing import Any

import pytest

import tests.browser.test_browser as base
import tests.browser.test_browser_theme as theme
from tests.grades.test_gpa import _student
from tests.grades.test_planner import _biology
from tests.school_year import MIDTERM

pytestmark = pytest.mark.browser

# The fixtures of the first browser test, shared (an assignment, so ruff sees no re-import).
live_app = base.live_app
browser_page = base.browser_page

VIEWPORTS = theme.VIEWPORTS


def _sign_in(page: Any, site: str, email: str) -> None:
    page.goto(f"{site}/login")
    page.fill("#email", email)
    page.fill("#password", base.PASSWORD)
    page.click("#submit")


@pytest.mark.clock(MIDTERM)
@pytest.mark.parametrize("device", list(VIEWPORTS))
def test_gpa_and_planner_in_a_browser(live_app: tuple[Any, str], browser_page: Any,
                                      device: str) -> None:
    from playwright.sync_api import expect

    app, site = live_app
    page = browser_page
    viewport = VIEWPORTS[device]
    width = viewport["width"]
    page.set_viewport_size(viewport)
    shots = theme._shots()
    with app.app_context():
        _student("student@example.edu")
        _biology("planner@example.edu")

    _sign_in(page, site, "student@example.edu")
    page.get_by_role("link", name="GPA", exact=True).click()
    summary = page.locator("[data-gpa-summary]")
    expect(summary.locator('[data-term="Fall 2025"]')).to_contain_text("2.56")
    expect(summary.locator('[data-term="Spring 2026"]')).to_contain_text("3.53 projected")
    expect(summary.locator("[data-cumulative]")).to_contain_text("3.46")
    expect(page.locator("[data-gpa-courses]")).to_contain_text(
        "Not in the GPA: left out by you.")
    page.get_by_label("History").select_option("A")
    page.get_by_role("button", name="Show the new GPA").click()
    expect(page.locator("[data-what-if-result]")).to_contain_text("cumulative 3.67")
    # The goal planner beside the what-if: both answers on one screen, in both themes.
    page.goto(f"{page.url}&goal=3.9")
    expect(page.locator("[data-what-if-result]")).to_contain_text("cumulative 3.67")
    expect(page.locator("[data-goal-result]")).to_contain_text("Spring 2026")
    page.locator("[data-gpa-what-if]").evaluate("section => section.scrollIntoView()")
    theme._check_both_themes(page, width, shots, "gpa", device)
    page.get_by_role("button", name="Log out").click()

    _sign_in(page, site, "planner@example.edu")
    page.get_by_role("link", name="Planner").click()
    upcoming = page.locator("[data-upcoming]")
    expect(upcoming.locator('[data-day="2026-11-18"]')).to_have_text("Wednesday, Nov 18")
    lab = upcoming.locator("li", has_text="Lab report")
    expect(lab).to_contain_text("8.0 % of your grade in Biology.")
    expect(page.locator("[data-overdue]")).to_contain_text("Reading quiz")
    expect(page.locator("[data-overdue]")).to_contain_text("missing")
    lab.get_by_label("Done (kept here only; Canvas is not told)").check()
    lab.get_by_role("button", name="Save").click()
    expect(upcoming.locator("li", has_text="Lab report").locator("[data-done]")).to_have_text(
        "done")
    # A day's last Save button is clear of the next day's heading (they used to touch).
    gap = upcoming.evaluate("""section => {
        const saves = section.querySelectorAll('ul.planner-list')[0].querySelectorAll('button');
        const next = section.querySelectorAll('h3[data-day]')[1];
        return next.getBoundingClientRect().top -
            saves[saves.length - 1].getBoundingClientRect().bottom;
    }""")
    assert gap >= 12, gap
    page.evaluate("window.scrollTo(0, 0)")
    theme._check_both_themes(page, width, shots, "planner", device)
