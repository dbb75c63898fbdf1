"""The settings page: connect Canvas, test the connection, disconnect, and bad input."""

from __future__ import annotations

import socket

import pytest
from sqlalchemy import select

from app.connections import get_canvas_token
from app.models import User
from tests.auth_actions import AuthActions
from tests.sync_helpers import only_connection

TOKEN = "1~settings-page-token-abcdef"
MEGABYTE = "x" * (1024 * 1024)



@pytest.fixture
def student(simulator):
    return simulator.add_student(TOKEN, preset="freshman")


def _user(db):
    user = db.session.scalar(select(User))
    db.session.refresh(user)
    return user


def _closed_port() -> int:
    """A loopback port with nothing listening (connections are refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_settings_page_when_not_connected(signed_in):
    page = signed_in.get("/settings").get_data(as_text=True)
    assert "Canvas is not connected yet" in page
    assert 'type="password"' in page
    assert "Test connection" not in page  # nothing saved to test yet


def test_saving_valid_credentials_connects(signed_in, db, simulator, student):
    response = signed_in.post("/settings", data={"url": simulator.base_url, "token": TOKEN})
    assert response.status_code == 302
    page = signed_in.get("/settings").get_data(as_text=True)
    assert f"Connected to Canvas as {student.name}" in page
    assert "A token is saved" in page
    assert TOKEN not in page
    user = _user(db)
    connection = only_connection(user)
    assert connection.base_url == simulator.base_url
    assert connection.canvas_user_id == student.user_id
    assert connection.canvas_user_name == student.name
    assert get_canvas_token(user) == TOKEN


def test_a_pasted_course_link_is_reduced_to_the_canvas_address(signed_in, db, simulator, student):
    url = f"  {simulator.base_url}/courses/123?x=1  "
    response = signed_in.post("/settings", data={"url": url, "token": f"  {TOKEN}\n"})
    assert response.status_code == 302
    user = _user(db)
    assert only_connection(user).base_url == simulator.base_url
    assert get_canvas_token(user) == TOKEN


def test_a_rejected_token_is_not_stored(signed_in, db, simulator, student):
    response = signed_in.post("/settings", data={"url": simulator.base_url, "token": "1~wrong"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Canvas rejected this token" in page
    assert "New access token" in page
    assert only_connection(_user(db)) is None


def test_a_rejected_new_token_keeps_the_working_one(signed_in, db, simulator, student):
    signed_in.post("/settings", data={"url": simulator.base_url, "token": TOKEN})
    response = signed_in.post("/settings", data={"url": simulator.base_url, "token": "1~wrong"})
    assert response.status_code == 400
    assert get_canvas_token(_user(db)) == TOKEN


def test_canvas_unreachable_is_explained(signed_in, db):
    url = f"http://127.0.0.1:{_closed_port()}"
    response = signed_in.post("/settings", data={"url": url, "token": TOKEN})
    assert response.status_code == 502
    assert "cannot reach canvas" in response.get_data(as_text=True).lower()
    assert only_connection(_user(db)) is None


def test_test_connection_shows_the_canvas_name(signed_in, simulator, student):
    signed_in.post("/settings", data={"url": simulator.base_url, "token": TOKEN})
    response = signed_in.post("/settings/test", follow_redirects=True)
    assert response.status_code == 200
    assert f"Canvas knows this token as {student.name}" in response.get_data(as_text=True)


@pytest.mark.parametrize("action", ["revoke_token", "expire_token"])
def test_test_connection_reports_a_revoked_token(signed_in, simulator, student, action):
    signed_in.post("/settings", data={"url": simulator.base_url, "token": TOKEN})
    getattr(simulator, action)(TOKEN)
    page = signed_in.post("/settings/test", follow_redirects=True).get_data(as_text=True)
    assert "Canvas rejected this token" in page
    assert "The connection works" not in page


def test_test_connection_when_canvas_is_down(signed_in, db, simulator, student):
    signed_in.post("/settings", data={"url": simulator.base_url, "token": TOKEN})
    only_connection(_user(db)).base_url = f"http://127.0.0.1:{_closed_port()}"
    db.session.commit()
    page = signed_in.post("/settings/test", follow_redirects=True).get_data(as_text=True)
    assert "cannot reach canvas" in page.lower()


def test_test_connection_without_credentials(signed_in):
    page = signed_in.post("/settings/test", follow_redirects=True).get_data(as_text=True)
    assert "Canvas is not connected yet" in page


def test_disconnect_forgets_the_token(signed_in, db, simulator, student):
    signed_in.post("/settings", data={"url": simulator.base_url, "token": TOKEN})
    response = signed_in.post("/settings/disconnect", follow_redirects=True)
    assert "Canvas is disconnected" in response.get_data(as_text=True)
    # The token is gone; the connection stays, marked disconnected, with the grades.
    connection = only_connection(_user(db))
    assert connection.access_token_encrypted is None
    assert connection.status == "disconnected"
    assert get_canvas_token(connection) is None


BAD_INPUT = [
    ("", TOKEN, 400, "Enter the address of your Canvas"),
    ("{url}", "", 400, "Paste an access token"),
    ("   ", TOKEN, 400, "empty"),
    ("{url}", "   ", 400, "empty"),
    ("not a url", TOKEN, 400, "malformed"),
    ("https://", TOKEN, 400, "malformed"),
    ("https://[::1", TOKEN, 400, "malformed"),
    ("https://exa\x00mple.edu", TOKEN, 400, "cannot resolve"),
    ("https://" + "a" * 300 + ".edu", TOKEN, 400, "too long"),
    ("{url}", "t" * 600, 400, "too long for a token"),
    ("{url}", "tökén-with-ünicode", 400, "characters a token never has"),
    ("{url}", "two words", 400, "characters a token never has"),
    ("https://ユニコード.例え", TOKEN, 400, "cannot resolve"),
    (MEGABYTE, TOKEN, 413, "Too much data"),
    ("{url}", MEGABYTE, 413, "Too much data"),
]


@pytest.mark.parametrize(
    ("url", "token", "status", "message"),
    BAD_INPUT,
    ids=[
        "empty-url",
        "empty-token",
        "blank-url",
        "blank-token",
        "words",
        "no-host",
        "broken-ipv6",
        "nul",
        "300-char-url",
        "600-char-token",
        "unicode-token",
        "space-token",
        "unicode-host",
        "1MB-url",
        "1MB-token",
    ],
)
def test_bad_input_gets_a_clear_4xx(signed_in, db, simulator, url, token, status, message):
    url = url.replace("{url}", simulator.base_url)
    response = signed_in.post("/settings", data={"url": url, "token": token})
    assert response.status_code == status
    page = response.get_data(as_text=True)
    assert message.lower() in page.lower()
    assert "Traceback" not in page
    assert MEGABYTE not in page
    assert only_connection(_user(db)) is None


def test_another_users_settings_are_never_shown(client, db, simulator, student):
    auth = AuthActions(client)
    auth.register()
    client.post("/settings", data={"url": simulator.base_url, "token": TOKEN})
    auth.logout()
    auth.register(email="other@example.edu")
    page = client.get("/settings").get_data(as_text=True)
    assert "Canvas is not connected yet" in page
    assert student.name not in page


def test_the_settings_page_has_a_plain_title_and_each_section_once(signed_in):
    page = signed_in.get("/settings").get_data(as_text=True)
    assert "<title>Settings · GradeSync</title>" in page
    for heading in ("Automatic syncs", "Calendar feed", "Alerts", "Time zone"):
        assert page.count(f">{heading}</h2>") == 1, heading


def test_reconnecting_after_disconnect_is_connected(signed_in, db, simulator, student):
    """Disconnect, then connect again: the card, the dashboard and the buttons say connected."""
    signed_in.post("/settings", data={"url": simulator.base_url, "token": TOKEN})
    signed_in.post("/settings/disconnect", follow_redirects=True)
    page = signed_in.post(
        "/settings", data={"url": simulator.base_url, "token": TOKEN}, follow_redirects=True
    ).get_data(as_text=True)
    connection = only_connection(_user(db))
    assert connection.status == "ok"
    assert "Disconnected" not in page
    assert 'data-status="ok"' in page
    assert f"/settings/connections/{connection.id}/test" in page  # the Test button is back
    assert "Disconnect…" in page
    dashboard = signed_in.get("/").get_data(as_text=True)
    assert f"Connected to {simulator.base_url}." in dashboard
    assert "None" not in dashboard
