"""Login and registration protection shared by every process (issue 11, findings 7 and 8)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from app.accounts import create_user
from app.models import LoginGuard, User
from app.pages.auth import throttle
from tests.auth_actions import DEFAULT_PASSWORD, AuthActions
from tests.live_server import csrf_token, gunicorn

GUESSES = 30


def _from(client: Any, address: str) -> AuthActions:
    client.environ_base["REMOTE_ADDR"] = address
    return AuthActions(client)


# --- In one process ---------------------------------------------------------------------


@pytest.mark.slow
def test_one_address_cannot_spray_many_accounts(app: Any, client: Any, db: Any) -> None:
    create_user("victim@example.edu", DEFAULT_PASSWORD)
    attacker = _from(client, "203.0.113.9")
    statuses = [attacker.login(email=f"user{i}@example.edu", password="Winter2026!").status_code
                for i in range(throttle.ADDRESS_FREE_FAILURES + 3)]
    free = throttle.ADDRESS_FREE_FAILURES
    # The 20th failure is still checked, and its answer already says "wait".
    assert statuses[: free - 1] == [401] * (free - 1)
    assert set(statuses[free - 1:]) == {429}
    # The address is slowed down, not the accounts: another address signs in at once.
    assert _from(app.test_client(), "198.51.100.7").login(
        email="victim@example.edu").status_code == 302


def test_unknown_emails_are_counted_in_the_database(client: Any, db: Any) -> None:
    auth = _from(client, "192.0.2.1")
    for i in range(throttle.FREE_FAILURES):
        auth.login(email="ghost@example.edu", password=f"wrong {i}")
    rows = db.session.scalars(select(LoginGuard).where(LoginGuard.key.like("email:%"))).all()
    assert [r.failures for r in rows] == [throttle.FREE_FAILURES]
    assert "ghost" not in rows[0].key  # stored hashed


def test_registration_is_limited_per_address(app: Any, client: Any, db: Any) -> None:
    app.config["REGISTRATIONS_PER_HOUR"] = 3
    auth = _from(client, "192.0.2.50")
    for i in range(3):
        assert auth.register(email=f"new{i}@example.edu").status_code == 302
        auth.logout()
    response = auth.register(email="new3@example.edu")
    assert response.status_code == 429
    assert "Too many new accounts" in response.get_data(as_text=True)
    assert int(response.headers["Retry-After"]) > 0
    assert _from(app.test_client(), "192.0.2.51").register(
        email="new3@example.edu").status_code == 302


def test_registration_of_a_taken_email_does_not_echo_it(client: Any, db: Any) -> None:
    create_user("taken@example.edu", DEFAULT_PASSWORD)
    page = AuthActions(client).register(email="taken@example.edu").get_data(as_text=True)
    assert "cannot be used to create an account" in page
    assert "already exists" not in page


def _lock_out(app: Any, email: str) -> None:
    """A stranger's wrong guesses from another address until the account is locked."""
    stranger = _from(app.test_client(), "203.0.113.66")
    statuses = [stranger.login(email=email, password=f"guess {i}").status_code
                for i in range(throttle.FREE_FAILURES + 1)]
    assert statuses[-1] == 429


def test_a_browser_that_signed_in_before_passes_the_account_lock(
    app: Any, client: Any, db: Any
) -> None:
    """Issue 21, finding 9: five guesses by anyone used to lock the owner out too."""
    create_user("owner@example.edu", DEFAULT_PASSWORD)
    owner = _from(client, "198.51.100.20")
    assert owner.login(email="owner@example.edu").status_code == 302  # leaves a device cookie
    owner.logout()
    _lock_out(app, "owner@example.edu")
    # The owner's own browser signs in at once; a browser never used here is still locked.
    assert owner.login(email="owner@example.edu").status_code == 302
    owner.logout()
    assert _from(app.test_client(), "198.51.100.20").login(
        email="owner@example.edu").status_code == 429


def test_a_known_device_still_guesses_slowly(app: Any, client: Any, db: Any) -> None:
    create_user("owner2@example.edu", DEFAULT_PASSWORD)
    device = _from(client, "198.51.100.21")
    assert device.login(email="owner2@example.edu").status_code == 302
    device.logout()
    statuses = [device.login(email="owner2@example.edu", password=f"wrong {i}").status_code
                for i in range(throttle.FREE_FAILURES + 1)]
    assert statuses[-1] == 429 and statuses[0] == 401
    # A forged or other account's cookie is no device of this account: the lock holds.
    other = _from(app.test_client(), "198.51.100.22")
    other._client.set_cookie("gradesync_device", "eyJ1IjoxfQ.forged", path="/login")
    _lock_out(app, "owner2@example.edu")
    assert other.login(email="owner2@example.edu").status_code == 429


def test_typed_emails_are_stored_as_a_keyed_hash(app: Any, client: Any, db: Any) -> None:
    import hashlib

    _from(client, "192.0.2.77").login(email="ghost2@example.edu", password="wrong")
    keys = set(db.session.scalars(select(LoginGuard.key).where(LoginGuard.key.like("email:%"))))
    assert len(keys) == 1
    assert "email:" + hashlib.sha256(b"ghost2@example.edu").hexdigest() not in keys  # unsalted
    app.config["SECRET_KEY"] = "another-secret-key-Zq8w3R5tY7uI9oP"
    _from(app.test_client(), "192.0.2.78").login(email="ghost2@example.edu", password="wrong")
    db.session.expire_all()
    again = set(db.session.scalars(select(LoginGuard.key).where(LoginGuard.key.like("email:%"))))
    assert len(again) == 2  # the key depends on the server's secret


# --- Under gunicorn: two processes, simultaneous guesses ---------------------------------


def _guess_together(base: str, emails: list[str], forwarded: list[str] | None) -> list[int]:
    """Each guess its own browser with its own CSRF token; all POSTs released at once."""
    barrier = threading.Barrier(len(emails))
    statuses: list[int] = [0] * len(emails)

    def guess(i: int) -> None:
        with requests.Session() as browser:
            token = csrf_token(browser.get(f"{base}/login", timeout=30).text)
            headers = {"X-Forwarded-For": forwarded[i]} if forwarded else {}
            barrier.wait(timeout=60)
            statuses[i] = browser.post(
                f"{base}/login", data={"email": emails[i], "password": f"guess {i}",
                                       "csrf_token": token},
                headers=headers, allow_redirects=False, timeout=60,
            ).status_code

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(len(emails))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    return statuses


@pytest.mark.slow
def test_simultaneous_guesses_get_five_password_checks(
    app: Any, db: Any, database_url: str, tmp_path: Path
) -> None:
    """30 guesses at once from 30 addresses (a botnet): at most 5 reach the password check,
    for a real account and for an unknown email alike, whichever process they hit."""
    user = create_user("victim@example.edu", DEFAULT_PASSWORD)
    with gunicorn(database_url, tmp_path, env={"TRUSTED_PROXIES": "1"}) as base:
        addresses = [f"203.0.113.{i}" for i in range(GUESSES)]
        known = _guess_together(base, ["victim@example.edu"] * GUESSES, addresses)
        unknown = _guess_together(base, ["ghost@example.edu"] * GUESSES,
                                  [f"198.51.100.{i}" for i in range(GUESSES)])
        db.session.expire_all()
        checked = db.session.get(User, user.id).failed_logins
        ghost = db.session.scalar(select(func.max(LoginGuard.failures))
                                  .where(LoginGuard.key.like("email:%")))
        assert checked == throttle.FREE_FAILURES, known
        assert ghost == throttle.FREE_FAILURES, unknown
        # A checked guess answers 401, or 429 when the account locked meanwhile.
        assert set(known) <= {401, 429} and set(unknown) <= {401, 429}
        assert known.count(401) < throttle.FREE_FAILURES
        assert unknown.count(401) < throttle.FREE_FAILURES
        # Locked the same way afterwards, in either process.
        again = _guess_together(base, ["victim@example.edu", "ghost@example.edu"] * 2,
                                ["192.0.2.1"] * 4)
        assert again == [429, 429, 429, 429]


@pytest.mark.slow
def test_simultaneous_guesses_from_one_address_are_capped(
    app: Any, db: Any, database_url: str, tmp_path: Path
) -> None:
    with gunicorn(database_url, tmp_path) as base:
        statuses = _guess_together(base, [f"u{i}@example.edu" for i in range(GUESSES)], None)
    db.session.expire_all()
    checked = db.session.scalar(select(func.sum(LoginGuard.failures))
                                .where(LoginGuard.key.like("email:%")))
    assert checked == throttle.ADDRESS_FREE_FAILURES
    assert set(statuses) <= {401, 429}
    assert statuses.count(429) >= GUESSES - throttle.ADDRESS_FREE_FAILURES
