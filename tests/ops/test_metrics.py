"""Prometheus metrics (issue 23): off by default, behind a token, and what a scrape during a
sync shows, parsed with Prometheus's own parser; the operator's view for admin accounts."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import g
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from app import create_app, metrics
from app.extensions import db
from app.jobs import heartbeat
from app.models import Assignment, Course, SyncRun, User, utcnow
from config import Config, ConfigError
from tests.auth_actions import DEFAULT_PASSWORD, AuthActions
from tests.conftest import TEST_SECRET, _empty_all_tables, connect_user, make_test_config

TOKEN = "metrics-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def metered(database_url: str, _schema: None) -> Iterator[Any]:
    app = create_app(make_test_config(database_url, METRICS_ENABLED=True, METRICS_TOKEN=TOKEN))
    with app.app_context():
        yield app
        db.session.remove()
        _empty_all_tables()
        db.engine.dispose()


@pytest.fixture
def slow_canvas() -> Iterator[Any]:
    from simulator import CanvasSimulator, SimulatorConfig

    with CanvasSimulator(SimulatorConfig(latency=0.15)) as sim:
        yield sim


def scrape(client: Any) -> dict[str, Any]:
    response = client.get("/metrics", headers=AUTH)
    assert response.status_code == 200, response.data
    assert response.content_type.startswith("text/plain; version=0.0.4")
    families = text_string_to_metric_families(response.get_data(as_text=True))
    return {family.name: family for family in families}


def value(families: dict[str, Any], name: str, sample: str, **labels: str) -> float:
    """The sum of the ``sample`` lines of family ``name`` (the parser may name a counter's
    family with or without ``_total``) whose labels match."""
    found = [families[n] for n in (name, f"{name}_total") if n in families]
    return sum(s.value for family in found for s in family.samples
               if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items()))


def test_metrics_are_off_by_default(client: Any) -> None:
    assert client.get("/metrics").status_code == 404


def test_switching_them_on_needs_a_token_or_a_port() -> None:
    key = {"SECRET_KEY": TEST_SECRET}  # required outside the demo
    with pytest.raises(ConfigError, match="METRICS_ENABLED needs METRICS_TOKEN"):
        Config({**key, "METRICS_ENABLED": "1"})
    assert Config({**key, "METRICS_ENABLED": "1", "METRICS_PORT": "9464"}).METRICS_PORT == 9464


def test_a_scrape_needs_the_token(metered: Any) -> None:
    client = metered.test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_a_scrape_during_a_sync(metered: Any, slow_canvas: Any) -> None:
    client = metered.test_client()
    user, _ = connect_user(metered, slow_canvas, email="metered@example.edu", token="m-token")
    AuthActions(client).login(email="metered@example.edu", password=DEFAULT_PASSWORD)
    host = slow_canvas.base_url.split("://", 1)[1]
    heartbeat.beat(at=utcnow() - timedelta(seconds=42))
    before = scrape(client)
    failures_before = value(before, "gradesync_login_failures", "gradesync_login_failures_total")
    syncs_before = value(before, "gradesync_sync_duration_seconds",
                         "gradesync_sync_duration_seconds_count", kind="full")

    response = client.post("/sync", data={"mode": "full"})
    run_id = int(response.headers["Location"].rsplit("/", 1)[-1])
    during = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        db.session.expire_all()
        run = db.session.get(SyncRun, run_id)
        assert run is not None
        if run.status == "running" and run.courses_done:
            during = scrape(client)  # Canvas requests are counted as they go
            break
        time.sleep(0.05)
    assert during is not None, "the sync ended before it could be scraped"
    assert value(during, "gradesync_canvas_requests", "gradesync_canvas_requests_total",
                 host=host) > value(before, "gradesync_canvas_requests",
                                    "gradesync_canvas_requests_total", host=host)
    assert "gradesync_queue_depth" in during
    assert 40 <= value(during, "gradesync_scheduler_last_tick_age_seconds",
                       "gradesync_scheduler_last_tick_age_seconds") < 100

    while db.session.get(SyncRun, run_id).status == "running":  # type: ignore[union-attr]
        time.sleep(0.1)
        db.session.expire_all()
    g.pop("_login_user", None)  # the fixture's app context keeps the signed-in user in g
    refused = AuthActions(metered.test_client()).login(email="metered@example.edu",
                                                       password="wrong password")
    assert refused.status_code == 401, refused.headers.get("Location")
    deadline = time.monotonic() + 10  # recorded just after the row says how the run ended
    while True:
        after = scrape(client)
        count = value(after, "gradesync_sync_duration_seconds",
                      "gradesync_sync_duration_seconds_count", kind="full")
        if count > syncs_before or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert count == syncs_before + 1
    assert value(after, "gradesync_login_failures",
                 "gradesync_login_failures_total") == failures_before + 1
    stale = after["gradesync_account_staleness_seconds"]
    assert value(after, "gradesync_account_staleness_seconds",
                 "gradesync_account_staleness_seconds_count") == 1
    assert stale.type == "histogram"
    assert value(after, "gradesync_stalest_account_seconds",
                 "gradesync_stalest_account_seconds") < 900
    for name in ("gradesync_canvas_throttled", "gradesync_canvas_retries",
                 "gradesync_alert_deliveries", "gradesync_alert_failures",
                 "gradesync_runs_interrupted", "gradesync_connections"):
        assert name in after or f"{name}_total" in after, name
    assert metrics.enabled()


def test_recovery_counts_interrupted_runs(metered: Any, slow_canvas: Any) -> None:
    from app.jobs import mark_interrupted_runs

    user, _ = connect_user(metered, slow_canvas, email="cut@example.edu", token="cut-token")
    client = metered.test_client()
    before = value(scrape(client), "gradesync_runs_interrupted", "gradesync_runs_interrupted_total")
    db.session.add(SyncRun(user_id=user.id, status="running"))
    db.session.commit()
    assert mark_interrupted_runs() == 1
    after = value(scrape(client), "gradesync_runs_interrupted", "gradesync_runs_interrupted_total")
    assert after == before + 1


def test_the_operators_view_is_for_admins_and_shows_no_grades(
    app: Any, client: Any, simulator: Any
) -> None:
    from tests.connections.test_oauth import _sync as sync

    student, _ = connect_user(app, simulator, email="pupil@example.edu", token="pupil-token")
    assert sync(student.id).status == "succeeded"
    AuthActions(client).login(email="pupil@example.edu", password=DEFAULT_PASSWORD)
    assert client.get("/admin").status_code == 404  # a student: no such page

    runner = app.test_cli_runner()
    assert runner.invoke(args=["user", "create", "ops@example.edu", "--admin", "--password",
                               DEFAULT_PASSWORD]).exit_code == 0
    db.session.add(SyncRun(user_id=student.id, status="failed", created_at=utcnow(),
                           summary={"error_kind": "rate_limited"}))
    db.session.commit()
    heartbeat.beat()
    admin = app.test_client()
    g.pop("_login_user", None)  # the fixture's app context keeps the signed-in user in g
    AuthActions(admin).login(email="ops@example.edu", password=DEFAULT_PASSWORD)
    page = admin.get("/admin")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    host = simulator.base_url.split("://", 1)[1]
    assert "pupil@example.edu" in text  # among the stalest accounts
    assert "rate_limited" in text and host in text
    assert "Last tick" in text
    # No grade of any kind: no course, no assignment, no score.
    for course in db.session.scalars(select(Course)):
        assert course.name not in text
        for score in (course.canvas_current_score, course.canvas_final_score):
            assert score is None or f"{score:g}" not in text.replace(".0<", "<")
    for assignment in db.session.scalars(select(Assignment)):
        assert assignment.name not in text
    assert db.session.scalar(select(User.is_admin).where(User.email == "ops@example.edu"))
