"""Watchers of a sync cannot hold every server thread; Settings' Canvas check is bounded.

Issue 11, finding 5. The page polls ``status.json`` (issue 19): a watcher holds a thread for
one short read, so there is no stream to cap.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from app.accounts import create_user
from app.models import SyncRun
from tests.auth_actions import sign_in
from tests.live_server import csrf_token, gunicorn
from tests.sync_helpers import add_fake_connection

WATCHERS = 150


@pytest.fixture
def user(app: Any, db: Any) -> Any:
    user = create_user("a@example.edu", "correct horse battery")
    add_fake_connection(user)
    return user


def _running_run(db: Any, user: Any) -> SyncRun:
    run = SyncRun(user_id=user.id, kind="full", status="running")
    db.session.add(run)
    db.session.commit()
    return run


# --- Under gunicorn ---------------------------------------------------------------------


def _poll_raw(port: int, path: str, cookie: str) -> socket.socket:
    """One watcher's poll on a keep-alive connection it leaves open afterwards."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n"
                 f"Cookie: {cookie}\r\n\r\n".encode())
    return sock


def _login_cookie(base: str, email: str) -> str:
    with requests.Session() as browser:
        token = csrf_token(browser.get(f"{base}/login", timeout=10).text)
        assert browser.post(f"{base}/login", data={
            "email": email, "password": "correct horse battery", "csrf_token": token},
            allow_redirects=False, timeout=10).status_code == 302
        return "; ".join(f"{c.name}={c.value}" for c in browser.cookies)


def _login_is_fast(base: str) -> None:
    for _ in range(5):
        started = time.monotonic()
        assert requests.get(f"{base}/login", timeout=5).status_code == 200
        assert time.monotonic() - started < 1.0


@pytest.mark.slow
def test_150_watchers_from_one_user_leave_login_fast(
    app: Any, db: Any, user: Any, database_url: str, tmp_path: Path
) -> None:
    """A watcher holds a thread for one short poll only: 150 of them are all answered, and
    everyone else is still served at once while their connections stay open."""
    run = _running_run(db, user)  # a slow run: never finishes during the test
    with gunicorn(database_url, tmp_path) as base:
        port = int(base.rsplit(":", 1)[1])
        cookie = _login_cookie(base, "a@example.edu")
        sockets = [_poll_raw(port, f"/sync/{run.id}/status.json", cookie)
                   for _ in range(WATCHERS)]
        try:
            statuses = [sock.recv(64).split(b" ")[1] for sock in sockets]
            assert statuses == [b"200"] * WATCHERS, statuses
            _login_is_fast(base)
        finally:
            for sock in sockets:
                sock.close()


@pytest.mark.slow
def test_six_accounts_polling_leave_login_fast(
    app: Any, db: Any, database_url: str, tmp_path: Path
) -> None:
    """Issue 21, finding 5 (6 accounts x 4 watchers on gunicorn 2x8 used to leave /login
    unanswered): they all keep polling, every poll is answered, and /login stays fast."""
    runs = []
    for n in range(6):
        account = create_user(f"crowd{n}@example.edu", "correct horse battery")
        add_fake_connection(account)
        runs.append(_running_run(db, account))  # never finishes during the test
    with gunicorn(database_url, tmp_path) as base:
        stop = threading.Event()
        codes: list[int] = []

        def watch(run_id: int, cookie: str) -> None:
            with requests.Session() as tab:
                etag = ""
                while not stop.is_set():
                    answer = tab.get(f"{base}/sync/{run_id}/status.json", timeout=30,
                                     headers={"Cookie": cookie, "If-None-Match": etag})
                    codes.append(answer.status_code)
                    etag = answer.headers.get("ETag", etag)
                    stop.wait(0.2)

        cookies = [_login_cookie(base, f"crowd{n}@example.edu") for n in range(len(runs))]
        tabs = [threading.Thread(target=watch, args=(run.id, cookie))
                for run, cookie in zip(runs, cookies, strict=True) for _ in range(4)]
        for tab in tabs:
            tab.start()
        try:
            deadline = time.monotonic() + 30
            while len(codes) < 3 * len(tabs) and time.monotonic() < deadline:
                time.sleep(0.1)
            _login_is_fast(base)
        finally:
            stop.set()
            for tab in tabs:
                tab.join(timeout=30)
        assert len(codes) >= 3 * len(tabs) and set(codes) <= {200, 304}, set(codes)
        assert 304 in codes  # an unchanged run answers its watchers' ETag with no body


# --- Settings: a slow Canvas host ---------------------------------------------------------


@pytest.fixture
def silent_host() -> Any:
    """A loopback server that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(timeout=5)
    for conn in held:
        conn.close()
    server.close()


@pytest.mark.slow
def test_saving_settings_against_a_silent_host_is_bounded(client: Any, user: Any,
                                                          silent_host: str) -> None:
    sign_in(client, user)
    started = time.monotonic()
    response = client.post("/settings", data={"url": silent_host, "token": "tok-slow-123"})
    elapsed = time.monotonic() - started
    assert response.status_code == 504
    assert elapsed < 12, elapsed
