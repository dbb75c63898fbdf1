"""The web app under gunicorn with 20 browsers watching their syncs at once.

``gunicorn -w 2 -k gthread --threads 8 'app.wsgi:application'`` serves the app from the test
database (syncs run in each gunicorn worker's thread pool, as in a one-machine deployment).
Twenty clients, each its own user with its own Canvas student, log in through the real form
(CSRF on), click "Sync", and follow the progress: half poll ``status.json``, half read the
Server-Sent Events stream. Every response must be what a browser expects (no 5xx, no
error page), every sync must succeed with exact data, and all of it within a bounded time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from app.extensions import db
from app.models import SyncRun
from tests.conftest import connect_user
from tests.live_server import csrf_token, gunicorn
from tests.sync_helpers import assert_db_matches

pytestmark = pytest.mark.slow

CLIENTS = 20
PASSWORD = "correct horse battery"  # connect_user's
BOUND_S = 120.0


@pytest.fixture
def server(app: Any, database_url: str, tmp_path: Path) -> Iterator[str]:
    """gunicorn serving the app on a loopback port; its base URL."""
    with gunicorn(database_url, tmp_path) as base:
        yield base


class Browser:
    """One user's browser: log in, click Sync, follow the progress."""

    def __init__(self, base: str, email: str, use_events: bool) -> None:
        self.base = base
        self.email = email
        self.use_events = use_events
        self.statuses: list[tuple[str, int]] = []
        self.run_id: int | None = None
        self.final: dict[str, Any] | None = None
        self.events: list[str] = []  # event names the SSE stream sent
        self.stream_refused = False  # 429: the process's stream cap was reached; the page polls
        self.error: BaseException | None = None

    def get(self, session: requests.Session, path: str, **kwargs: Any) -> requests.Response:
        response = session.get(self.base + path, timeout=30, **kwargs)
        self.statuses.append((f"GET {path}", response.status_code))
        return response

    def post(self, session: requests.Session, path: str, data: dict[str, str]
             ) -> requests.Response:
        response = session.post(self.base + path, data=data, timeout=30, allow_redirects=False)
        self.statuses.append((f"POST {path}", response.status_code))
        return response

    def run(self) -> None:
        try:
            with requests.Session() as session:
                self._run(session)
        except BaseException as exc:  # reported by the test thread
            self.error = exc

    def _run(self, session: requests.Session) -> None:
        token = csrf_token(self.get(session, "/login").text)
        login = self.post(session, "/login", {"email": self.email, "password": PASSWORD,
                                              "csrf_token": token})
        assert login.status_code == 302, login.text[:500]
        token = csrf_token(self.get(session, "/").text)
        click = self.post(session, "/sync", {"csrf_token": token, "mode": "full"})
        assert click.status_code == 302, click.text[:500]
        self.run_id = int(click.headers["Location"].rstrip("/").split("/")[-1])
        self.get(session, f"/sync/{self.run_id}")
        deadline = time.monotonic() + BOUND_S
        if self.use_events:
            self._follow_events(session, deadline)
        while self.final is None and time.monotonic() < deadline:
            state = self.get(session, f"/sync/{self.run_id}/status.json").json()
            if state["finished"]:
                self.final = state
            else:
                time.sleep(0.1)

    def _follow_events(self, session: requests.Session, deadline: float) -> None:
        path = f"/sync/{self.run_id}/events"
        with session.get(self.base + path, stream=True, timeout=30) as response:
            if response.status_code == 429:  # over the per-process cap: poll, as the page does
                self.stream_refused = True
                return
            self.statuses.append((f"GET {path}", response.status_code))
            for line in response.iter_lines(decode_unicode=True):
                if line.startswith("event: "):
                    self.events.append(line.split(": ", 1)[1])
                if line == "event: done" or time.monotonic() > deadline:
                    break
        self.get(session, f"/sync/{self.run_id}/status.json")


def test_twenty_browsers_follow_their_syncs(app: Any, simulator: Any, server: str) -> None:
    simulator.config.latency = 0.02
    users = [connect_user(app, simulator, email=f"web{i}@example.edu", token=f"tok-web-{i}",
                          seed=200 + i) for i in range(CLIENTS)]
    browsers = [Browser(server, user.email, use_events=i % 2 == 0)
                for i, (user, _student) in enumerate(users)]
    threads = [threading.Thread(target=b.run) for b in browsers]

    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=BOUND_S + 30)
    assert not any(t.is_alive() for t in threads), "a client is stuck"
    assert time.monotonic() - started < BOUND_S

    for browser in browsers:
        assert browser.error is None, (browser.email, repr(browser.error), browser.statuses)
        bad = [(what, code) for what, code in browser.statuses
               if code != 200 and not what.startswith("POST")]
        assert not bad, (browser.email, bad)
        assert browser.final is not None and browser.final["status"] == "succeeded", \
            browser.final
        if browser.use_events and not browser.stream_refused:  # it ended with "done"
            assert browser.events and browser.events[-1] == "done", browser.events
    # Each process serves a few streams (SYNC_EVENTS_PER_PROCESS); the rest poll.
    assert sum(1 for b in browsers if b.use_events and not b.stream_refused) >= 4
    polls = sum(1 for b in browsers for what, _ in b.statuses if what.endswith("status.json"))
    assert polls >= CLIENTS

    db.session.expire_all()
    runs = db.session.query(SyncRun).all()
    assert len(runs) == CLIENTS and {r.status for r in runs} == {"succeeded"}
    for user, student in users:
        assert_db_matches(user, student)
