"""Sessions that end: logout ends every session and remember cookie of the user (issue 11 #4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import pytest

import clock
from tests.auth_actions import AuthActions


def _cookies(client: Any) -> dict[str, str]:
    return {name: client.get_cookie(name).value for name in ("session", "remember_token")
            if client.get_cookie(name) is not None}


def _get(app: Any, client: Any, path: str) -> Any:
    """GET in a fresh app context: the fixture's context would keep Flask-Login's cached user
    (``g._login_user``) from one request to the next, which a real server never does."""
    with app.app_context():
        return client.get(path)


def _replay(app: Any, cookies: dict[str, str]) -> Any:
    """A new browser that only has the given cookies; what /settings answers it."""
    thief = app.test_client()
    for name, value in cookies.items():
        thief.set_cookie(name, value)
    return _get(app, thief, "/settings")


@pytest.fixture
def signed_in(app: Any, client: Any) -> dict[str, str]:
    """Register, log out, log in with "Keep me signed in"; the cookies that sign-in set."""
    auth = AuthActions(client)
    auth.register()
    auth.logout()
    assert auth.login(remember="y").status_code == 302
    cookies = _cookies(client)
    assert set(cookies) == {"session", "remember_token"}
    return cookies


def test_the_cookies_work_before_logout(app: Any, signed_in: dict[str, str]) -> None:
    assert _replay(app, signed_in).status_code == 200
    assert _replay(app, {"remember_token": signed_in["remember_token"]}).status_code == 200


@pytest.mark.parametrize("which", ["both", "session", "remember_token"])
def test_logout_ends_the_session_and_the_remember_cookie(
    app: Any, client: Any, signed_in: dict[str, str], which: str
) -> None:
    response = AuthActions(client).logout()
    # The browser is told to drop the remember cookie ...
    assert any(h.startswith("remember_token=;") for h in response.headers.getlist("Set-Cookie"))
    assert _get(app, client, "/settings").status_code == 302
    # ... and a copy kept (or stolen) before logout no longer works either.
    replayed = signed_in if which == "both" else {which: signed_in[which]}
    response = _replay(app, replayed)
    assert response.status_code == 302
    assert "/login" in response.location


def test_logout_ends_the_sessions_on_other_devices(app: Any, client: Any,
                                                   signed_in: dict[str, str]) -> None:
    laptop = app.test_client()
    with app.app_context():
        assert AuthActions(laptop).login(remember="y").status_code == 302
    assert _get(app, laptop, "/settings").status_code == 200
    AuthActions(client).logout()
    assert _get(app, laptop, "/settings").status_code == 302


def test_a_new_login_gets_a_different_remember_token(app: Any, client: Any,
                                                     signed_in: dict[str, str]) -> None:
    auth = AuthActions(client)
    auth.logout()
    auth.login(remember="y")
    assert _cookies(client)["remember_token"] != signed_in["remember_token"]
    assert _replay(app, {"remember_token": signed_in["remember_token"]}).status_code == 302


def test_the_remember_cookie_expires_in_30_days(client: Any) -> None:
    auth = AuthActions(client)
    auth.register()
    auth.logout()
    response = auth.login(remember="y")
    header = next(h for h in response.headers.getlist("Set-Cookie")
                  if h.startswith("remember_token="))
    expires = parsedate_to_datetime(header.split("Expires=")[1].split(";")[0])
    assert abs(expires - (datetime.now(UTC) + timedelta(days=30))) < timedelta(minutes=5)
    assert "HttpOnly" in header and "SameSite=Lax" in header


def test_the_server_refuses_a_remember_cookie_past_its_duration(
    app: Any, signed_in: dict[str, str], pin_clock: Any
) -> None:
    pin_clock(clock.now() + timedelta(days=31))
    assert _replay(app, {"remember_token": signed_in["remember_token"]}).status_code == 302
    assert _replay(app, signed_in).status_code == 302


@pytest.mark.parametrize("token", ["1", "1:0", "1:x:5", "99999999999999:0:1", "1:0:1:2", "",
                                   "١:0:1"])
def test_malformed_session_tokens_are_anonymous(app: Any, client: Any, token: str) -> None:
    AuthActions(client).register()
    with client.session_transaction() as session:
        session["_user_id"] = token
    assert _get(app, client, "/settings").status_code == 302
