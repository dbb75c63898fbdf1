"""The sync pages: start, live status (SSE and polling), history, and per-user isolation."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from app.accounts import create_user
from app.jobs import runners
from app.models import SyncRun, utcnow
from tests.auth_actions import sign_in
from tests.sync_helpers import add_fake_connection, connections_of


@pytest.fixture
def user(app: Any, db: Any) -> Any:
    user = create_user("a@example.edu", "correct horse battery")
    add_fake_connection(user)
    return user


@pytest.fixture
def submitted(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int, bool]]:
    """Replace the runner: record what would run instead of running it."""
    calls: list[tuple[int, int, bool]] = []

    class Recorder:
        def submit(self, user_id: int, run_id: int, incremental: bool) -> None:
            calls.append((user_id, run_id, incremental))

    monkeypatch.setattr(runners, "get_runner", lambda app=None: Recorder())
    return calls


def finished_run(db: Any, user: Any, **fields: Any) -> SyncRun:
    started = utcnow() - timedelta(seconds=2)
    values: dict[str, Any] = {
        "user_id": user.id, "kind": "full", "status": "succeeded", "started_at": started,
        "finished_at": started + timedelta(seconds=1.2), "phase": "done", "courses_done": 7,
        "courses_total": 7, "requests": 9,
        "summary": {"status": "succeeded", "courses": 7, "assignments": 412, "requests": 9,
                    "duration_s": 1.2},
    }
    values.update(fields)
    run = SyncRun(**values)
    db.session.add(run)
    if run.status == "succeeded":  # what the engine records on each connection it synced
        for connection in connections_of(user):
            connection.last_synced_at = connection.last_synced_at or started
    db.session.commit()
    return run


def test_post_sync_starts_a_run_and_redirects_to_it(client: Any, db: Any, user: Any,
                                                    submitted: list) -> None:
    sign_in(client, user)
    response = client.post("/sync")
    assert response.status_code == 302
    run = db.session.scalar(db.select(SyncRun))
    assert response.headers["Location"].endswith(f"/sync/{run.id}")
    assert run.status == "queued" and run.kind == "full"
    assert submitted == [(user.id, run.id, False)]


def test_second_click_shows_the_running_sync(client: Any, db: Any, user: Any,
                                             submitted: list) -> None:
    sign_in(client, user)
    first = client.post("/sync").headers["Location"]
    second = client.post("/sync", follow_redirects=False).headers["Location"]
    assert first == second
    assert len(submitted) == 1
    assert db.session.scalar(db.select(db.func.count(SyncRun.id))) == 1
    page = client.get(second).get_data(as_text=True)
    assert "already running" in page


def test_regular_click_is_incremental_after_a_full_sync(client: Any, db: Any, user: Any,
                                                        submitted: list) -> None:
    finished_run(db, user)
    sign_in(client, user)
    client.post("/sync")
    assert submitted[-1][2] is True
    db.session.execute(db.update(SyncRun).where(SyncRun.status == "queued")
                       .values(status="failed"))
    db.session.commit()
    client.post("/sync", data={"mode": "full"})
    assert submitted[-1][2] is False


def test_sync_without_canvas_goes_to_settings(client: Any, db: Any, submitted: list) -> None:
    other = create_user("new@example.edu", "correct horse battery")
    sign_in(client, other)
    response = client.post("/sync")
    assert response.status_code == 302 and "/settings" in response.headers["Location"]
    assert submitted == []


def test_status_page_and_json_summary(client: Any, db: Any, user: Any) -> None:
    run = finished_run(db, user)
    sign_in(client, user)
    page = client.get(f"/sync/{run.id}").get_data(as_text=True)
    assert "7 courses, 412 assignments, 9 requests, 1.2 s" in page
    assert 'value="100"' in page
    state = client.get(f"/sync/{run.id}/status.json").get_json()
    assert state["status"] == "succeeded" and state["percent"] == 100
    assert state["finished"] is True
    assert state["summary"] == "7 courses, 412 assignments, 9 requests, 1.2 s"


def test_rejected_token_links_to_settings(client: Any, db: Any, user: Any) -> None:
    run = finished_run(db, user, status="failed", phase="connecting", courses_done=0,
                       error="Canvas rejected the access token (Invalid access token.). "
                             "Generate a new token in Canvas.",
                       summary={"status": "failed", "error_kind": "invalid_token"})
    sign_in(client, user)
    page = client.get(f"/sync/{run.id}").get_data(as_text=True)
    assert "Canvas rejected the access token" in page
    assert "Check your Canvas token in Settings" in page
    state = client.get(f"/sync/{run.id}/status.json").get_json()
    assert state["error_kind"] == "token" and state["settings_url"].startswith("/settings")


def parse_events(body: str) -> list[tuple[str, dict]]:
    events = []
    for block in body.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in lines:
            events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_events_stream_progress_until_finished(app: Any, client: Any, db: Any,
                                               user: Any) -> None:
    """Read the stream event by event, moving the run along between reads as a job would."""
    app.config.update(SYNC_EVENTS_POLL_SECONDS=0.01, SYNC_EVENTS_MAX_SECONDS=30)
    run = SyncRun(user_id=user.id, kind="full", status="running", started_at=utcnow(),
                  phase="fetching", courses_total=4, courses_done=1, message="[1/4] Art")
    db.session.add(run)
    db.session.commit()
    run_id = run.id
    sign_in(client, user)

    def advance(**values: Any) -> None:
        db.session.execute(db.update(SyncRun).where(SyncRun.id == run_id).values(**values))
        db.session.commit()

    response = client.get(f"/sync/{run_id}/events", buffered=False)
    assert response.mimetype == "text/event-stream"
    chunks = iter(response.response)  # the generator runs only as we read

    def next_event() -> tuple[str, dict]:
        while True:
            events = parse_events(next(chunks).decode())
            if events:
                return events[0]

    events = [next_event()]
    for done in (2, 3):
        advance(courses_done=done, message=f"[{done}/4] x")
        events.append(next_event())
    advance(status="succeeded", courses_done=4, phase="done", finished_at=utcnow(),
            summary={"courses": 4, "assignments": 40, "requests": 6}, requests=6)
    events.append(next_event())
    assert list(chunks) == []  # the stream ends by itself once the run has finished
    response.close()

    assert [name for name, _ in events] == ["progress", "progress", "progress", "done"]
    assert [data["percent"] for _, data in events] == [25, 50, 75, 100]
    assert events[1][1]["message"] == "[2/4] x"
    assert events[-1][1]["summary"].startswith("4 courses, 40 assignments, 6 requests")


def test_events_stream_is_bounded(app: Any, client: Any, db: Any, user: Any) -> None:
    app.config.update(SYNC_EVENTS_POLL_SECONDS=0.02, SYNC_EVENTS_MAX_SECONDS=0.2)
    run = SyncRun(user_id=user.id, kind="full", status="running", started_at=utcnow())
    db.session.add(run)
    db.session.commit()
    sign_in(client, user)
    events = parse_events(client.get(f"/sync/{run.id}/events").get_data(as_text=True))
    assert [name for name, _ in events] == ["progress"]


def test_history_lists_runs_with_errors(client: Any, db: Any, user: Any) -> None:
    finished_run(db, user)
    finished_run(db, user, status="failed", error="Canvas is not answering (HTTP 503).",
                 summary=None)
    sign_in(client, user)
    page = client.get("/sync/history").get_data(as_text=True)
    assert "7 courses, 412 assignments, 9 requests, 1.2 s" in page
    assert "Canvas is not answering (HTTP 503)." in page
    assert "1.2 s" in page and "Failed" in page and "Finished" in page


@pytest.mark.parametrize("path", ["/sync/{id}", "/sync/{id}/status.json", "/sync/{id}/events"])
def test_other_users_run_is_404(client: Any, db: Any, user: Any, path: str) -> None:
    run = finished_run(db, user)
    intruder = create_user("b@example.edu", "correct horse battery")
    sign_in(client, intruder)
    assert client.get(path.format(id=run.id)).status_code == 404
    assert "412 assignments" not in client.get("/sync/history").get_data(as_text=True)


@pytest.mark.parametrize("method, path", [("post", "/sync"), ("get", "/sync/history"),
                                          ("get", "/sync/1"), ("get", "/sync/1/events")])
def test_sync_pages_need_login(client: Any, method: str, path: str) -> None:
    response = getattr(client, method)(path)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
