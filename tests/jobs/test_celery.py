"""A real Celery worker on Redis runs syncs for several users.

The worker is the README's command (``celery -A app.celery_app worker``) in a subprocess,
pointed at this test session's database, a dedicated Redis database (number 5) and a queue
named for this session. Skipped when Redis is not reachable, except on CI (``CI=true``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app import create_app, jobs
from app.extensions import db
from app.models import SyncRun
from tests.conftest import TEST_SECRET, _empty_all_tables, connect_user, make_test_config
from tests.redis_helpers import forget_queue, require_redis
from tests.sync_helpers import assert_db_matches

pytestmark = pytest.mark.celery

BROKER = os.environ.get("TEST_CELERY_BROKER_URL", "redis://127.0.0.1:6379/5")
ROOT = Path(__file__).resolve().parents[2]
WAIT_SECONDS = 90
# A queue of our own: other test sessions may share this Redis, with workers on other databases.
QUEUE = f"gradesync-test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def celery_web_app(database_url: str, _schema: None) -> Iterator[Any]:
    """The web side: an app whose runner is Celery (it only enqueues)."""
    require_redis(BROKER)
    app = create_app(make_test_config(database_url, CELERY_BROKER_URL=BROKER,
                                      CELERY_RESULT_BACKEND=None, CELERY_QUEUE=QUEUE))
    with app.app_context():
        try:
            yield app
        finally:
            celery = app.extensions.get("celery")
            if celery is not None:
                celery.close()
            forget_queue(BROKER, QUEUE)
            db.session.remove()
            _empty_all_tables()
            db.engine.dispose()


@pytest.fixture
def worker(database_url: str, celery_web_app: Any, tmp_path: Path) -> Iterator[subprocess.Popen]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": BROKER,
        "CELERY_QUEUE": QUEUE,
        "SECRET_KEY": TEST_SECRET,  # the token cipher's key, as in the tests' app
        "CANVAS_ALLOW_PRIVATE_HOSTS": "1",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
                 "all_proxy", "CELERY_RESULT_BACKEND"):
        env.pop(name, None)
    log = tmp_path / "worker.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "app.celery_app", "worker",
             "--loglevel", "INFO", "--concurrency", "2", "--without-gossip",
             "--without-mingle", "--without-heartbeat", "-n", f"test-{uuid.uuid4().hex[:8]}@%h"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        process.terminate()  # warm shutdown
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.returncode not in (0, -15):
            print(log.read_text()[-4000:])  # noqa: T201 - shown only when the test fails


def test_celery_worker_syncs_several_users(celery_web_app: Any, simulator: Any,
                                           worker: subprocess.Popen, tmp_path: Path) -> None:
    app = celery_web_app
    users = [connect_user(app, simulator, email=f"c{i}@example.edu", token=f"tok-celery-{i}",
                          seed=10 + i) for i in range(3)]

    runs = jobs.enqueue_all(incremental=False)
    assert isinstance(app.extensions[jobs.RUNNER_KEY], jobs.CeleryRunner)
    assert sorted(r.user_id for r in runs) == sorted(u.id for u, _ in users)
    run_ids = [r.id for r in runs]

    deadline = time.monotonic() + WAIT_SECONDS
    states: dict[int, str] = {}
    while time.monotonic() < deadline:
        db.session.expire_all()
        states = {rid: db.session.get(SyncRun, rid).status for rid in run_ids}
        if all(s not in ("queued", "running") for s in states.values()):
            break
        assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-4000:]
        time.sleep(0.2)
    log = (tmp_path / "worker.log").read_text()
    assert set(states.values()) == {"succeeded"}, (states, log[-4000:])
    assert "gradesync.run_sync" in log  # the worker, not this process, ran them

    for (user, student), run_id in zip(users, run_ids, strict=True):
        run = db.session.get(SyncRun, run_id)
        assert run.percent == 100 and run.summary["courses"] == len(student.expected())
        assert_db_matches(user, student)

    # A second round is incremental and goes through the same queue.
    again = jobs.start_sync(users[0][0].id, incremental=True)
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        db.session.expire_all()
        if db.session.get(SyncRun, again.id).status not in ("queued", "running"):
            break
        time.sleep(0.2)
    assert db.session.get(SyncRun, again.id).status == "succeeded"
    assert db.session.get(SyncRun, again.id).kind == "incremental"
