"""API tokens in a real browser at 1280 px and on a 375 px phone: a student creates a token in
Settings (shown once, readable on a phone and in both themes), reads their grades with it, and
revokes it."""

from __future__ import annotations

from typing import Any

import pytest

import tests.browser.test_browser as base
import tests.browser.test_browser_theme as theme
from tests.browser.test_browser_gpa_planner import VIEWPORTS, _sign_in
from tests.grades.test_planner import _biology
from tests.school_year import MIDTERM

pytestmark = pytest.mark.browser

# The fixtures of the first browser test, shared (an assignment, so ruff sees no re-import).
live_app = base.live_app
browser_page = base.browser_page


@pytest.mark.clock(MIDTERM)
@pytest.mark.parametrize("device", list(VIEWPORTS))
def test_create_use_and_revoke_an_api_token(live_app: tuple[Any, str], browser_page: Any,
                                            device: str) -> None:
    from playwright.sync_api import expect

    app, site = live_app
    page = browser_page
    viewport = VIEWPORTS[device]
    width = viewport["width"]
    page.set_viewport_size(viewport)
    shots = theme._shots()
    with app.app_context():
        _biology("student@example.edu")

    _sign_in(page, site, "student@example.edu")
    page.goto(f"{site}/settings#api-tokens")
    section = page.locator("[data-api-tokens]")
    expect(section).to_contain_text("You have no API tokens.")
    section.get_by_label("Name of the new token").fill("My spreadsheet")
    section.get_by_role("button", name="Create a token").click()

    created = page.locator("[data-api-token-created]")
    expect(created).to_contain_text("shown only this once")
    token = page.locator("[data-api-token-value]").inner_text().strip()
    assert token.startswith("gsk_")
    expect(created.locator("pre")).to_contain_text(f"Bearer {token}")
    theme._check_both_themes(page, width, shots, "api-token-created", device)

    answer = page.request.get(f"{site}/api/v1/grades",
                              headers={"Authorization": f"Bearer {token}"})
    assert answer.status == 200 and answer.json()["grades"][0]["name"] == "Biology"
    # The browser's own session cookie does not open the API.
    assert page.request.get(f"{site}/api/v1/grades").status == 401

    page.get_by_role("link", name="Back to Settings").click()
    listed = page.locator("[data-api-token-list] li", has_text="My spreadsheet")
    expect(listed).to_contain_text(token[:12])
    assert token not in page.content()
    section.evaluate("section => section.scrollIntoView()")
    theme._check_both_themes(page, width, shots, "settings-api-tokens", device)
    listed.get_by_role("button", name="Revoke My spreadsheet").click()
    expect(page.locator("body")).to_contain_text("it no longer works")
    expect(page.locator("[data-api-tokens]")).to_contain_text("You have no API tokens.")
    assert page.request.get(f"{site}/api/v1/grades",
                            headers={"Authorization": f"Bearer {token}"}).status == 401
