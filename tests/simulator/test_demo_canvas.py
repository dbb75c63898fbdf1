"""The demo's simulated Canvas (``demo.py``): one address across restarts, and changes that a
sync turns into the change feed."""

from __future__ import annotations

import socket
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app import jobs
from app.accounts import create_user
from app.connections import set_canvas_credentials
from app.extensions import db
from app.models import CanvasConnection, Course, GradeEvent
from demo import DemoCanvas, adopt_address
from tests.school_year import MIDTERM

TOKEN = "demo-canvas-token"


def _sync(user_id: int) -> dict:
    sync_run = jobs.create_sync_run(user_id, False)
    result = jobs.run_sync(user_id, sync_run.id, False)
    assert result["status"] == "succeeded", result["error"]
    return result


@pytest.fixture
def demo_canvas(tmp_path: Path):
    canvas = DemoCanvas(tmp_path / "demo-canvas.json", TOKEN, "freshman", 0.0)
    canvas.start()
    yield canvas
    canvas.stop()


@pytest.mark.clock(MIDTERM)
def test_a_restart_reuses_the_saved_address(tmp_path: Path, demo_canvas: DemoCanvas) -> None:
    first = demo_canvas.base_url
    demo_canvas.stop()
    again = DemoCanvas(tmp_path / "demo-canvas.json", TOKEN, "freshman", 0.0)
    try:
        assert again.start() == first
    finally:
        again.stop()


@pytest.mark.clock(MIDTERM)
def test_a_taken_port_moves_every_account_to_the_new_address_in_place(
    app, tmp_path: Path, demo_canvas: DemoCanvas
) -> None:
    """The saved port is busy at the next start: the simulator takes another, and the demo
    account's and a newcomer's connections follow it (same connection, nothing added)."""
    old_url = demo_canvas.base_url
    users = [create_user(email, "correct horse battery")
             for email in ("demo@gradesync.example", "newcomer@example.edu")]
    for user in users:
        set_canvas_credentials(user, old_url, TOKEN)
    _sync(users[0].id)
    courses = db.session.scalar(select(func.count()).select_from(Course))
    demo_canvas.stop()

    squatter = socket.socket()
    # The closed server's side of kept-alive connections may linger in TIME_WAIT; another
    # listener still cannot share the port (no SO_REUSEPORT), which is what this test needs.
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    squatter.bind(("127.0.0.1", int(old_url.rsplit(":", 1)[1])))
    squatter.listen()
    restarted = DemoCanvas(tmp_path / "demo-canvas.json", TOKEN, "freshman", 0.0)
    try:
        new_url = restarted.start()
        assert new_url != old_url and restarted.previous_url == old_url
        assert adopt_address(app, new_url, restarted.previous_url) == 2
        db.session.expire_all()
        connections = db.session.scalars(select(CanvasConnection)).all()
        assert [c.base_url for c in connections] == [new_url, new_url]
        for user in users:
            _sync(user.id)
        assert db.session.scalar(select(func.count()).select_from(Course)) == 2 * courses
    finally:
        restarted.stop()
        squatter.close()


@pytest.mark.clock(MIDTERM)
def test_a_week_of_canvas_shows_up_as_changes_after_the_next_sync(
    app, tmp_path: Path, demo_canvas: DemoCanvas
) -> None:
    user = create_user("demo@gradesync.example", "correct horse battery")
    set_canvas_credentials(user, demo_canvas.base_url, TOKEN)
    _sync(user.id)
    before = db.session.scalar(select(func.count()).select_from(GradeEvent))
    done = demo_canvas.simulate_week()
    assert done and all(isinstance(line, str) for line in done)
    _sync(user.id)
    assert db.session.scalar(select(func.count()).select_from(GradeEvent)) > before

    # A restart (hours later) replays the same changes: the next sync sees no difference.
    demo_canvas.stop()
    replayed = DemoCanvas(tmp_path / "demo-canvas.json", TOKEN, "freshman", 0.0)
    try:
        import clock

        with clock.pinned(MIDTERM + timedelta(hours=5)):
            replayed.start()
        assert replayed.changes == demo_canvas.changes
        settled = db.session.scalar(select(func.count()).select_from(GradeEvent))
        _sync(user.id)
        assert db.session.scalar(select(func.count()).select_from(GradeEvent)) == settled
    finally:
        replayed.stop()


@pytest.mark.clock(MIDTERM)
def test_the_simulate_a_week_button_brings_changes_to_the_feed(
    app, client, demo_canvas: DemoCanvas
) -> None:
    """Demo mode only: the dashboard's "Simulate a week of Canvas", then Sync, fills "What
    changed"."""
    from tests.auth_actions import AuthActions

    AuthActions(client).register()
    assert "Simulate a week of Canvas" not in client.get("/").get_data(as_text=True)
    assert client.post("/demo/simulate-week").status_code == 404  # not a demo: no such thing

    app.config.update(DEMO_MODE=True, DEMO_SIMULATE_WEEK=demo_canvas.simulate_week)
    client.post("/settings", data={"url": demo_canvas.base_url, "token": TOKEN})
    user_id = db.session.scalar(select(CanvasConnection.user_id))
    _sync(user_id)
    page = client.get("/").get_data(as_text=True)
    assert "Simulate a week of Canvas" in page and "What changed" not in page
    page = client.post("/demo/simulate-week", follow_redirects=True).get_data(as_text=True)
    assert "A week passed in the simulated Canvas" in page
    _sync(user_id)
    assert "What changed" in client.get("/").get_data(as_text=True)
