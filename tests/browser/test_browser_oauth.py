"""In a real browser: "Connect with Canvas" (OAuth2) against the simulator, sync, disconnect.

The browser goes from Settings to the simulator's approve page and back through the callback;
the stored tokens sync the gradebook; disconnecting logs the token out at Canvas.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests
from sqlalchemy import select

from app.connections import get_canvas_token
from app.extensions import db
from app.models import CanvasConnection
from tests.browser.test_browser import PASSWORD, browser_page, live_app  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser

EMAIL = "oauth-browser@example.edu"
CLIENT_ID = "170000000000077"
SECRET = "browser-developer-key-secret"


def test_connect_with_canvas_sync_and_disconnect(
    live_app: tuple[Any, str], simulator: Any, browser_page: Any  # noqa: F811
) -> None:
    from playwright.sync_api import expect

    app, base = live_app
    page = browser_page
    student = simulator.add_student("oauth-browser-api-token", preset="freshman", seed=4)
    simulator.oauth.register_client(CLIENT_ID, SECRET, f"{base}/oauth/canvas/callback")
    simulator.oauth.sign_in(student.token)
    with app.app_context():
        added = app.test_cli_runner().invoke(args=[
            "canvas", "oauth-client", "add", "--url", simulator.base_url,
            "--client-id", CLIENT_ID, "--client-secret", SECRET,
        ])
        assert added.exit_code == 0, added.output

    page.goto(f"{base}/register")
    page.fill("#email", EMAIL)
    page.fill("#password", PASSWORD)
    page.fill("#confirm", PASSWORD)
    page.click("text=Create account")
    expect(page).to_have_url(f"{base}/settings")

    # Settings -> Canvas's approve page -> the callback -> Settings, connected.
    page.click(f"text=Connect with Canvas ({simulator.base_url})")
    expect(page.locator("h1")).to_have_text("Authorize app")
    page.click("button[value=approve]")
    expect(page).to_have_url(f"{base}/settings")
    expect(page.locator("body")).to_contain_text(f"Connected to Canvas as {student.name}")
    assert SECRET not in page.content()

    # Sync from the dashboard with the OAuth2 token.
    page.goto(f"{base}/")
    page.click("button[data-sync-button]")
    expect(page).to_have_url(re.compile(r"/sync/\d+$"))
    expect(page.locator("[data-field=result]")).to_contain_text("Sync finished")
    page.click("text=See your grades")
    for course in student.expected().values():
        expect(page.locator("table.courses")).to_contain_text(course["name"])

    # Disconnect: the token is logged out at Canvas, the grades stay.
    with app.app_context():
        connection = db.session.scalar(select(CanvasConnection))
        access, connection_id = get_canvas_token(connection), connection.id
    me = f"{simulator.base_url}/api/v1/users/self"
    headers = {"User-Agent": "GradeSync tests", "Authorization": f"Bearer {access}"}
    assert requests.get(me, headers=headers, timeout=5).status_code == 200
    page.goto(f"{base}/settings/connections/{connection_id}/disconnect")
    page.click("text=Disconnect and delete the token")
    expect(page.locator("body")).to_contain_text("is disconnected and its token is deleted")
    assert requests.get(me, headers=headers, timeout=5).status_code == 401
    page.goto(f"{base}/")
    first = next(iter(student.expected().values()))
    expect(page.locator("table.courses")).to_contain_text(first["name"])
