"""Progress streams cannot hold every server thread; Settings' Canvas check is bounded in time.

Issue 11, finding 5.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from app.accounts import create_user
from app.models import ProgressStream, SyncRun
from tests.auth_actions import sign_in
from tests.live_server import csrf_token, gunicorn
from tests.sync_helpers import add_fake_connection

STREAMS = 150


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




def _open_streams(db: Any) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(ProgressStream))


def test_streams_beyond_the_cap_get_a_quick_429(app: Any, client: Any, db: Any,
                                                user: Any) -> None:
    app.config.update(SYNC_EVENTS_PER_USER=2, SYNC_EVENTS_POLL_SECONDS=0.01)
    run = _running_run(db, user)
    sign_in(client, user)
    first = client.get(f"/sync/{run.id}/events", buffered=False)
    second = client.get(f"/sync/{run.id}/events", buffered=False)
    third = client.get(f"/sync/{run.id}/events", headers={"Accept": "application/json"})
    assert first.status_code == second.status_code == 200
    assert third.status_code == 429 and third.headers["Retry-After"]
    assert _open_streams(db) == 2
    first.close()  # the browser left: its slot is given back
    assert _open_streams(db) == 1
    again = client.get(f"/sync/{run.id}/events", buffered=False)
    assert again.status_code == 200
    again.close()
    second.close()
    assert _open_streams(db) == 0


def test_a_stream_sends_heartbeats_and_ends_at_its_maximum(app: Any, client: Any, db: Any,
                                                           user: Any) -> None:
    app.config.update(SYNC_EVENTS_POLL_SECONDS=0.05, SYNC_EVENTS_HEARTBEAT_SECONDS=0.1,
                      SYNC_EVENTS_MAX_SECONDS=0.5)
    run = _running_run(db, user)
    sign_in(client, user)
    started = time.monotonic()
    with client.get(f"/sync/{run.id}/events") as response:  # closed as a server would
        body = response.get_data(as_text=True)
    assert time.monotonic() - started < 5
    assert body.count(": heartbeat") >= 2
    assert _open_streams(db) == 0


def test_the_stream_cap_holds_across_accounts(app: Any, db: Any) -> None:
    """Issue 21, finding 5: many accounts cannot together hold every thread of a process."""
    app.config.update(SYNC_EVENTS_PER_USER=3, SYNC_EVENTS_PER_PROCESS=4,
                      SYNC_EVENTS_POLL_SECONDS=0.01)
    opened, refused = [], 0
    for n in range(3):
        account = create_user(f"s{n}@example.edu", "correct horse battery")
        add_fake_connection(account)
        run = _running_run(db, account)
        browser = app.test_client()  # each account its own browser
        sign_in(browser, account)
        for _ in range(2):
            with app.app_context():  # its own g: the logged-in user is not carried over
                response = browser.get(f"/sync/{run.id}/events", buffered=False)
            if response.status_code == 200:
                opened.append(response)
            else:
                assert response.status_code == 429
                refused += 1
    assert len(opened) == 4 and refused == 2  # 3 accounts x 2 streams, 4 served at once
    opened.pop().close()  # one leaves: its place is free again
    with app.app_context():
        again = browser.get(f"/sync/{run.id}/events", buffered=False)
    assert again.status_code == 200
    for response in [*opened, again]:
        response.close()
    assert _open_streams(db) == 0


def test_the_default_stream_life_is_short() -> None:
    from app.pages.sync import views

    assert views.EVENTS_MAX_SECONDS <= 60 and views.EVENTS_HEARTBEAT_SECONDS <= 5


# --- Under gunicorn ---------------------------------------------------------------------


def _open_raw_stream(port: int, path: str, cookie: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
                 f"Cookie: {cookie}\r\n\r\n".encode())
    return sock


@pytest.mark.slow
def test_150_streams_from_one_user_leave_login_fast(
    app: Any, db: Any, user: Any, database_url: str, tmp_path: Path
) -> None:
    run = _running_run(db, user)  # a slow run: never finishes during the test
    with gunicorn(database_url, tmp_path) as base:
        port = int(base.rsplit(":", 1)[1])
        browser = requests.Session()
        token = csrf_token(browser.get(f"{base}/login", timeout=10).text)
        assert browser.post(f"{base}/login", data={
            "email": "a@example.edu", "password": "correct horse battery",
            "csrf_token": token}, allow_redirects=False, timeout=10).status_code == 302
        cookie = "; ".join(f"{c.name}={c.value}" for c in browser.cookies)
        sockets = [_open_raw_stream(port, f"/sync/{run.id}/events", cookie)
                   for _ in range(STREAMS)]
        try:
            statuses = []
            for sock in sockets:
                statuses.append(sock.recv(64).split(b" ")[1])
            assert statuses.count(b"200") <= 3, statuses
            assert statuses.count(b"429") >= STREAMS - 3
            # Everyone else is still served at once.
            for _ in range(5):
                started = time.monotonic()
                assert requests.get(f"{base}/login", timeout=5).status_code == 200
                assert time.monotonic() - started < 1.0
        finally:
            for sock in sockets:
                sock.close()
        # Closed clients are noticed within a few heartbeats and their slots given back.
        deadline = time.monotonic() + 20
        while _open_streams(db) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _open_streams(db) == 0


@pytest.mark.slow
def test_six_accounts_with_four_streams_each_leave_login_fast(
    app: Any, db: Any, database_url: str, tmp_path: Path
) -> None:
    """Issue 21, finding 5: 6 accounts x 4 streams on gunicorn 2x8 used to leave /login
    unanswered; each process now serves a few streams and answers the rest 429."""
    runs = []
    for n in range(6):
        account = create_user(f"crowd{n}@example.edu", "correct horse battery")
        add_fake_connection(account)
        runs.append(_running_run(db, account))  # never finishes during the test
    with gunicorn(database_url, tmp_path) as base:
        port = int(base.rsplit(":", 1)[1])
        sockets = []
        try:
            for n, run in enumerate(runs):
                browser = requests.Session()
                token = csrf_token(browser.get(f"{base}/login", timeout=10).text)
                assert browser.post(f"{base}/login", data={
                    "email": f"crowd{n}@example.edu", "password": "correct horse battery",
                    "csrf_token": token}, allow_redirects=False, timeout=10).status_code == 302
                cookie = "; ".join(f"{c.name}={c.value}" for c in browser.cookies)
                sockets += [_open_raw_stream(port, f"/sync/{run.id}/events", cookie)
                            for _ in range(4)]
            statuses = [sock.recv(64).split(b" ")[1] for sock in sockets]
            assert statuses.count(b"200") <= 8, statuses  # 4 per process at most
            for _ in range(5):
                started = time.monotonic()
                assert requests.get(f"{base}/login", timeout=5).status_code == 200
                assert time.monotonic() - started < 1.0
        finally:
            for sock in sockets:
                sock.close()


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


def test_saving_settings_against_a_silent_host_is_bounded(client: Any, user: Any,
                                                          silent_host: str) -> None:
    sign_in(client, user)
    started = time.monotonic()
    response = client.post("/settings", data={"url": silent_host, "token": "tok-slow-123"})
    elapsed = time.monotonic() - started
    assert response.status_code == 504
    assert elapsed < 12, elapsed
