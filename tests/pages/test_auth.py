"""Register, log in, log out, safe redirects and the login slow-down."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from app.models import User
from app.pages.auth import throttle
from tests.auth_actions import DEFAULT_EMAIL, DEFAULT_PASSWORD, AuthActions

MEGABYTE = "a" * (1024 * 1024)


@pytest.fixture
def auth(client):
    return AuthActions(client)


def _users(db):
    return db.session.scalar(select(func.count()).select_from(User))


# --- Register ------------------------------------------------------------------------------


def test_register_page_renders(client):
    response = client.get("/register")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'type="password"' in page
    assert "Create an account" in page


def test_register_creates_hashed_user_and_signs_in(client, auth, db):
    response = auth.register()
    assert response.status_code == 302
    assert response.location.endswith("/settings")
    user = db.session.scalar(select(User))
    assert user.email == DEFAULT_EMAIL
    assert DEFAULT_PASSWORD not in user.password_hash
    assert user.check_password(DEFAULT_PASSWORD)
    # Signed in: the settings page opens instead of redirecting to the login page.
    assert client.get("/settings").status_code == 200


def test_register_same_email_twice_is_refused_case_insensitively(client, auth, db):
    auth.register()
    auth.logout()
    response = auth.register(email="Student@Example.EDU")
    assert response.status_code == 400
    # Refused, in neutral words (issue 11 #8: the page used to say "already exists").
    page = response.get_data(as_text=True)
    assert "cannot be used to create an account" in page
    assert "already exists" not in page
    assert _users(db) == 1


@pytest.mark.parametrize(
    ("email", "password", "confirm", "message"),
    [
        ("", DEFAULT_PASSWORD, None, "Enter your email address."),
        (DEFAULT_EMAIL, "", None, "Choose a password."),
        (DEFAULT_EMAIL, "short", None, "must be 8 to 256 characters"),
        (DEFAULT_EMAIL, DEFAULT_PASSWORD, "something else", "not the same"),
        ("not-an-email", DEFAULT_PASSWORD, None, "not valid"),
        ("a@", DEFAULT_PASSWORD, None, "not valid"),
        ("@example.edu", DEFAULT_PASSWORD, None, "not valid"),
        ("a@@example.edu", DEFAULT_PASSWORD, None, "not valid"),
        ("a b@example.edu", DEFAULT_PASSWORD, None, "not valid"),
        ("nul\x00@example.edu", DEFAULT_PASSWORD, None, "not valid"),
        (MEGABYTE + "@example.edu", DEFAULT_PASSWORD, None, "too large"),
        (DEFAULT_EMAIL, MEGABYTE, None, "too large"),
        ("x" * 300 + "@example.edu", DEFAULT_PASSWORD, None, "too long"),
        (DEFAULT_EMAIL, "p" * 300, None, "must be 8 to 256 characters"),
        ("   ", DEFAULT_PASSWORD, None, "empty"),
    ],
    ids=[
        "empty-email",
        "empty-password",
        "short-password",
        "mismatch",
        "no-at",
        "no-domain",
        "no-local",
        "double-at",
        "space",
        "nul",
        "1MB-email",
        "1MB-password",
        "300-char-email",
        "300-char-password",
        "blank-email",
    ],
)
def test_register_bad_input_gets_a_clear_4xx(auth, db, email, password, confirm, message):
    response = auth.register(email=email, password=password, confirm=confirm)
    # Fields over the form parser's limit (500 kB) are refused whole with the 413 page.
    assert response.status_code == (413 if message == "too large" else 400)
    page = response.get_data(as_text=True)
    assert message in page
    assert "Traceback" not in page
    assert MEGABYTE not in page  # huge input is not echoed back
    assert _users(db) == 0


def test_register_and_login_with_unicode(client, auth, db):
    email, password = "élève@exemple.fr", "mot de passe très sûr 🙂"
    assert auth.register(email=email, password=password).status_code == 302
    auth.logout()
    response = auth.login(email="ÉLÈVE@exemple.fr", password=password)
    assert response.status_code == 302
    assert client.get("/settings").status_code == 200


# --- Log in / log out ----------------------------------------------------------------------


def test_login_and_logout(client, auth):
    auth.register()
    auth.logout()
    assert client.get("/settings").status_code == 302

    response = auth.login()
    assert response.status_code == 302
    assert client.get("/settings").status_code == 200

    response = auth.logout()
    assert response.status_code == 302
    assert response.location.endswith("/login")
    assert client.get("/settings").status_code == 302


def test_logout_is_post_only(client, auth):
    auth.register()
    response = client.get("/logout")
    assert response.status_code == 405
    assert "Method not allowed" in response.get_data(as_text=True)
    assert client.get("/settings").status_code == 200  # still signed in


def test_wrong_password_and_unknown_email_look_the_same(client, auth):
    auth.register()
    auth.logout()
    wrong = auth.login(password="not the password")
    unknown = auth.login(email="nobody@example.edu")
    assert wrong.status_code == unknown.status_code == 401
    for response in (wrong, unknown):
        assert "The email or password is incorrect." in response.get_data(as_text=True)
    assert client.get("/settings").status_code == 302


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [
        ("", DEFAULT_PASSWORD, "Enter your email address."),
        (DEFAULT_EMAIL, "", "Enter your password."),
        ("not-an-email", DEFAULT_PASSWORD, "not valid"),
        (MEGABYTE, DEFAULT_PASSWORD, "too large"),
        (DEFAULT_EMAIL, MEGABYTE, "too large"),
        ("x" * 300 + "@example.edu", DEFAULT_PASSWORD, "too long"),
        (DEFAULT_EMAIL, "p" * 300, "too long"),
        ("ユーザー@例え.jp\x00", DEFAULT_PASSWORD, "not valid"),
    ],
    ids=[
        "empty-email",
        "empty-password",
        "malformed",
        "1MB-email",
        "1MB-password",
        "300-char-email",
        "300-char-password",
        "unicode-nul",
    ],
)
def test_login_bad_input_gets_a_clear_4xx(auth, email, password, message):
    response = auth.login(email=email, password=password)
    assert response.status_code == (413 if message == "too large" else 400)
    page = response.get_data(as_text=True)
    assert message in page
    assert MEGABYTE not in page


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/settings"),
        ("POST", "/settings"),
        ("POST", "/settings/test"),
        ("POST", "/settings/disconnect"),
        ("GET", "/"),
        ("GET", "/sync/history"),
    ],
)
def test_protected_pages_redirect_to_login(app, client, method, path):
    adapter = app.url_map.bind("localhost")
    endpoint, _ = adapter.match(path, method=method)
    assert endpoint.split(".")[0] in {"settings", "dashboard", "sync"}
    response = client.open(path, method=method)
    assert response.status_code == 302
    assert "/login?next=" in response.location


@pytest.mark.parametrize("target", ["/settings", "/settings?tab=canvas"])
def test_login_follows_a_safe_next(client, auth, target):
    auth.register()
    auth.logout()
    response = auth.login(next=target)
    assert response.status_code == 302
    assert response.location == target


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
        "http:/evil.example",
        "/\tevil",
        "evil.example",
    ],
)
def test_login_ignores_an_unsafe_next(app, client, auth, target):
    auth.register()
    auth.logout()
    response = auth.login(next=target)
    assert response.status_code == 302
    assert "evil" not in response.location
    assert response.location.startswith("/")


def test_login_page_keeps_next_from_the_redirect(client, auth):
    auth.register()
    auth.logout()
    response = client.get("/settings")
    login_page = client.get(response.location).get_data(as_text=True)
    assert 'name="next" type="hidden" value="/settings"' in login_page


# --- Slow-down -----------------------------------------------------------------------------


def _shift_clock(monkeypatch, seconds):
    real_now = throttle._now
    monkeypatch.setattr(throttle, "_now", lambda: real_now() + timedelta(seconds=seconds))


def test_delay_grows_with_each_failure_and_is_capped():
    delays = [throttle.delay_after(n) for n in range(0, 12)]
    assert delays[:5] == [0, 0, 0, 0, 0]
    assert delays[5:9] == [30, 60, 120, 240]
    assert delays[-1] == throttle.MAX_DELAY_S


@pytest.mark.slow
def test_five_failures_then_refused_even_with_the_right_password(client, auth, db):
    auth.register()
    auth.logout()
    statuses = [auth.login(password=f"wrong {i}").status_code for i in range(5)]
    assert statuses == [401, 401, 401, 401, 429]

    response = auth.login()  # the right password: still refused during the delay
    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in response.get_data(as_text=True)
    assert int(response.headers["Retry-After"]) > 0
    assert client.get("/settings").status_code == 302
    user = db.session.scalar(select(User))
    db.session.refresh(user)
    assert user.failed_logins == 5


@pytest.mark.slow
def test_slow_down_ends_and_success_resets_the_count(client, auth, db, monkeypatch):
    auth.register()
    auth.logout()
    for i in range(5):
        auth.login(password=f"wrong {i}")
    _shift_clock(monkeypatch, throttle.delay_after(5) + 1)
    assert auth.login().status_code == 302
    user = db.session.scalar(select(User))
    db.session.refresh(user)
    assert user.failed_logins == 0
    assert user.last_failed_login_at is None


@pytest.mark.slow
def test_delay_doubles_after_another_failure(auth, db, monkeypatch):
    auth.register()
    auth.logout()
    for i in range(5):
        auth.login(password=f"wrong {i}")
    _shift_clock(monkeypatch, throttle.delay_after(5) + 1)
    response = auth.login(password="wrong again")
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > throttle.delay_after(5)


@pytest.mark.slow
def test_slow_down_for_unknown_email_looks_the_same(auth, db):
    auth.register()
    auth.logout()
    known = [auth.login(password=f"wrong {i}") for i in range(6)]
    unknown = [auth.login(email="ghost@example.edu", password=f"wrong {i}") for i in range(6)]
    assert [r.status_code for r in known] == [r.status_code for r in unknown]
    assert known[-1].headers["Retry-After"] == unknown[-1].headers["Retry-After"]
    assert _users(db) == 1


@pytest.mark.slow
def test_slow_down_is_per_email(auth, db):
    auth.register()
    auth.logout()
    auth.register(email="other@example.edu")
    auth.logout()
    for i in range(5):
        auth.login(password=f"wrong {i}")
    assert auth.login(email="other@example.edu").status_code == 302


def test_counter_survives_between_processes(auth, db):
    """The count lives in the users row, so every web worker sees the same slow-down."""
    auth.register()
    auth.logout()
    db.session.execute(update(User).values(failed_logins=7, last_failed_login_at=throttle._now()))
    db.session.commit()
    response = auth.login()
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > throttle.delay_after(6)


def test_register_reports_every_mistake_in_one_round(client, auth, db):
    """Issue 13 #9: a bad email, a short password and a different repeat, all said at once."""
    response = auth.register(email="not-an-email", password="short", confirm="shorx")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "The email address is not valid" in page
    assert "The password must be 8 to 256 characters long." in page
    assert "The two passwords are not the same." in page
    for field in ("email", "password", "confirm"):
        assert re.search(rf'<input[^>]*aria-invalid="true"[^>]*id="{field}"', page), field
    assert _users(db) == 0


def test_register_reports_a_taken_email_without_naming_it_once_the_rest_is_right(
    client, auth, db
):
    auth.register()
    auth.logout()
    first = auth.register(password="short", confirm="short").get_data(as_text=True)
    # The taken address is not probed while the form has other mistakes (no extra round trip
    # of the per-address limit for a typo), and nothing says the account exists.
    assert "must be 8 to 256 characters" in first
    assert "cannot be used" not in first and "already" not in first
    second = auth.register()
    assert second.status_code == 400
    assert "cannot be used to create an account" in second.get_data(as_text=True)
