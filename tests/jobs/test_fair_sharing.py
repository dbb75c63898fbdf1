"""One tenant cannot stall the others (issue 21, finding 3 and "fair sharing").

Slow-loris servers on 127.0.0.1 (tests/slow_servers.py: one byte a second, never done) play a
hostile Canvas or webhook; every wait in these tests is bounded, so the old behaviour fails
them instead of hanging them.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from app import alerts, jobs
from app.accounts import create_user
from app.alerts import save_settings
from app.connections import CanvasConnectionError, check_canvas_connection
from app.connections.records import set_canvas_credentials
from app.extensions import db
from app.jobs.enqueue import enqueue_due
from app.models import AlertDelivery, SyncRun, utcnow
from app.outbound import OutboundPolicy
from tests.alerts.test_alerts import grade_something
from tests.conftest import connect_user
from tests.live_server import csrf_token, gunicorn
from tests.school_year import MIDTERM
from tests.slow_servers import Trickle, finishes_within, trickle

LOOPBACK = OutboundPolicy(allow_private=True)


def _status(run_id: int) -> str:
    db.session.expire_all()
    run = db.session.get(SyncRun, run_id)
    assert run is not None
    return run.status


@pytest.mark.slow
def test_four_slow_canvases_cannot_starve_a_fifth_students_sync(
    app: Any, simulator: Any
) -> None:
    """Four accounts on one trickling Canvas, four sync workers: the fifth student's sync still
    starts at once and finishes (finding 3b)."""
    app.config.update(SYNC_WORKERS=4, CANVAS_DEADLINE_S=60)
    with trickle(1.0) as slow:
        slow_runs = []
        for n in range(4):
            account = create_user(f"slow{n}@example.edu", "correct horse battery")
            set_canvas_credentials(account, slow.url, f"tok-slow-{n}-0123456789")
            slow_runs.append(jobs.start_sync(account.id).id)
        deadline = time.monotonic() + 10
        while slow.accepted < 3 and time.monotonic() < deadline:
            time.sleep(0.1)  # the slow syncs hold their workers
        user, _ = connect_user(app, simulator, email="fifth@example.edu", token="tok-fifth-1")
        started = time.monotonic()
        fifth = jobs.start_sync(user.id).id
        while _status(fifth) not in ("succeeded", "failed") and time.monotonic() - started < 20:
            time.sleep(0.2)
        took = time.monotonic() - started
        assert _status(fifth) == "succeeded", f"still {_status(fifth)} after {took:.0f} s"
        assert took < 15, took
        assert any(_status(r) == "running" for r in slow_runs)  # they were really held
    jobs.get_runner(app).shutdown(wait=True)  # the trickle is closed: the slow syncs end


@pytest.mark.clock(MIDTERM)
def test_a_slow_webhook_never_holds_a_sync_worker(app: Any, simulator: Any) -> None:
    """Finding 3c: the run ends at once; its alert goes out on the alert queue's threads."""
    user, student = connect_user(app, simulator, email="hook@example.edu", token="tok-hook-1")
    with trickle(1.0) as slow:
        save_settings(user.id, {"on_grade": True, "email": False, "webhook_url": slow.url},
                      LOOPBACK)
        first = jobs.run_sync(user.id, jobs.create_sync_run(user.id, False).id, False)
        assert first["status"] == "succeeded"
        grade_something(user, student)
        started = time.monotonic()
        result = jobs.run_sync(user.id, jobs.create_sync_run(user.id, True).id, True)
        took = time.monotonic() - started
        assert result["status"] == "succeeded"
        assert took < 5, f"the sync worker was held {took:.0f} s by the webhook"
        deadline = time.monotonic() + 10
        while slow.accepted == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert slow.accepted >= 1  # the alert was sent all the same, by the queue
    assert alerts.outbox().wait_idle(30)


@pytest.mark.clock(MIDTERM)
def test_a_scheduler_tick_never_sends_held_alerts_inline(app: Any, db: Any) -> None:
    """Finding 3d: held alerts whose time has come go to the queue; the tick returns at once."""
    user = create_user("held@example.edu", "correct horse battery")
    with trickle(1.0) as slow:
        save_settings(user.id, {"on_grade": True, "email": False, "webhook_url": slow.url},
                      LOOPBACK)
        db.session.add(AlertDelivery(user_id=user.id, key="grade:1", channel="webhook",
                                     status="held", text="Grade posted"))
        db.session.commit()
        ended, took, errors = finishes_within(
            10, lambda: _tick(app)
        )
        assert ended and not errors, errors
        assert took < 3, f"the tick waited {took:.0f} s for a webhook"
        deadline = time.monotonic() + 10
        while slow.accepted == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert slow.accepted >= 1
    assert alerts.outbox().wait_idle(30)


def _tick(app: Any) -> None:
    with app.app_context():
        enqueue_due(lambda *_: None, now=utcnow())


def test_one_connection_check_at_a_time_per_user(app: Any) -> None:
    user = create_user("check@example.edu", "correct horse battery")
    with trickle(1.0) as slow:
        set_canvas_credentials(user, slow.url, "tok-check-0123456789")
        user_id = user.id

        def check() -> None:
            with app.app_context():
                from app.models import User

                check_canvas_connection(db.session.get(User, user_id))

        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(check)
            deadline = time.monotonic() + 5
            while slow.accepted == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            started = time.monotonic()
            with pytest.raises(CanvasConnectionError) as refused:
                check_canvas_connection(user)
            assert refused.value.kind == "busy" and time.monotonic() - started < 1
            slow.close()  # the first check ends
            with pytest.raises(CanvasConnectionError):
                pending.result(timeout=20)


def test_celery_tasks_have_soft_and_hard_time_limits(app: Any) -> None:
    from app.jobs.tasks import celery_init_app, enqueue_due_syncs_task

    app.config["CELERY_BROKER_URL"] = "memory://"
    conf = celery_init_app(app).conf
    assert 0 < conf.task_soft_time_limit < conf.task_time_limit <= 3600
    assert enqueue_due_syncs_task.soft_time_limit < enqueue_due_syncs_task.time_limit <= 300


@pytest.mark.slow
def test_a_slow_canvas_cannot_delay_another_students_login(
    app: Any, database_url: str, tmp_path: Path
) -> None:
    """Finding 3a: 18 parallel Settings saves against a trickling Canvas, on gunicorn 2x8;
    another visitor's login is still answered within a few seconds."""
    for n in range(18):
        create_user(f"saver{n}@example.edu", "correct horse battery")
    create_user("visitor@example.edu", "correct horse battery")
    slow = Trickle(1.0)
    try:
        with gunicorn(database_url, tmp_path) as base:
            browsers = []
            for n in range(18):
                browser = requests.Session()
                token = csrf_token(browser.get(f"{base}/login", timeout=10).text)
                browser.post(f"{base}/login", data={
                    "email": f"saver{n}@example.edu", "password": "correct horse battery",
                    "csrf_token": token}, allow_redirects=False, timeout=10)
                form = csrf_token(browser.get(f"{base}/settings", timeout=10).text)
                # Gunicorn closes a keep-alive connection idle for 2 s; a POST sent on one it
                # is closing at that moment fails with no retry. The save opens a fresh one.
                browser.close()
                browsers.append((browser, form))

            def save(pair: tuple[requests.Session, str]) -> int:
                browser, form = pair
                return browser.post(f"{base}/settings", data={
                    "csrf_token": form, "url": slow.url, "token": "tok-slow-0123456789"},
                    allow_redirects=False, timeout=60).status_code

            with ThreadPoolExecutor(18) as pool:
                saves = [pool.submit(save, pair) for pair in browsers]
                time.sleep(1.0)  # the saves hold what they can
                visitor = requests.Session()
                started = time.monotonic()
                token = csrf_token(visitor.get(f"{base}/login", timeout=10).text)
                answer = visitor.post(f"{base}/login", data={
                    "email": "visitor@example.edu", "password": "correct horse battery",
                    "csrf_token": token}, allow_redirects=False, timeout=10)
                took = time.monotonic() - started
                statuses = [s.result(timeout=60) for s in saves]
            assert answer.status_code == 302
            assert took < 5, f"the login waited {took:.1f} s behind a slow Canvas"
            assert set(statuses) <= {429, 504}, statuses
    finally:
        slow.close()


