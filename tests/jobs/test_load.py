"""Many users at once: 50 students synced through Celery with 1, 2 and 4 worker processes.

Each round empties the Canvas tables, starts ``celery -A app.celery_app worker --concurrency
N`` (the README's command, N prefork processes) on a queue of this test's own (``CELERY_QUEUE``:
test sessions sharing the Redis server never take each other's messages), enqueues a full sync of
every connected user (``app.jobs.enqueue_all``, what ``flask canvas sync --all`` does) and
waits for all of them. Every run must succeed and every user's rows must match the simulator
exactly. Throughput (users per minute, from enqueue to the last finished run) is printed and
written to ``load.json`` in the test's tmp dir; numbers measured on the development machine
are in CANVAS_PERFORMANCE_TESTING.md ("Many users (Celery)").

Nothing is asserted about speed (the machine is shared); only that nothing fails or is lost.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete

from app import create_app, jobs
from app.extensions import db
from app.models import SyncRun
from tests.conftest import TEST_SECRET, _empty_all_tables, connect_user, make_test_config
from tests.redis_helpers import forget_queue, require_redis
from tests.sync_helpers import assert_db_matches

pytestmark = [pytest.mark.celery, pytest.mark.slow]

BROKER = os.environ.get("TEST_LOAD_BROKER_URL", "redis://127.0.0.1:6379/6")
ROOT = Path(__file__).resolve().parents[2]
USERS = int(os.environ.get("LOAD_TEST_USERS", "50"))
WORKER_COUNTS = (1, 2, 4)
ROUND_TIMEOUT_S = float(os.environ.get("LOAD_TEST_ROUND_TIMEOUT_S", "150"))
CANVAS_TABLES = ("assignment", "grade_category", "course", "term", "sync_run")


@pytest.fixture
def queue() -> Iterator[str]:
    """A queue of this test's own: test sessions sharing the Redis server never meet."""
    require_redis(BROKER)
    name = f"gradesync-load-{uuid.uuid4().hex[:12]}"
    yield name
    forget_queue(BROKER, name)


@pytest.fixture
def celery_app(database_url: str, _schema: None, queue: str) -> Iterator[Any]:
    """The web side: an app whose sync runner is Celery (it only enqueues), to ``queue``."""
    app = create_app(make_test_config(database_url, CELERY_BROKER_URL=BROKER,
                                      CELERY_RESULT_BACKEND=None, CELERY_QUEUE=queue))
    with app.app_context():
        try:
            yield app
        finally:
            celery = app.extensions.get("celery")
            if celery is not None:
                celery.close()
            db.session.remove()
            _empty_all_tables()
            db.engine.dispose()


class CeleryWorker:
    """``celery -A app.celery_app worker --concurrency N`` as a subprocess, ready to take work."""

    def __init__(self, database_url: str, concurrency: int, queue: str, log: Path) -> None:
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "CELERY_BROKER_URL": BROKER,
            "CELERY_QUEUE": queue,
            "SECRET_KEY": TEST_SECRET,
            "CANVAS_ALLOW_PRIVATE_HOSTS": "1",
            "NO_PROXY": "127.0.0.1,localhost",
        }
        for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
                     "all_proxy", "CELERY_RESULT_BACKEND"):
            env.pop(name, None)
        self.log = log
        self._out = log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "app.celery_app", "worker",
             "--loglevel", "INFO", "--concurrency", str(concurrency), "--pool", "prefork",
             "--without-gossip", "--without-mingle", "--without-heartbeat",
             "-n", f"load-{concurrency}-{uuid.uuid4().hex[:8]}@%h"],
            cwd=ROOT, env=env, stdout=self._out, stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if " ready." in self.log.read_text():
                return
            assert self.process.poll() is None, self.tail()
            time.sleep(0.1)
        raise AssertionError(f"the worker did not start:\n{self.tail()}")

    def tail(self) -> str:
        return self.log.read_text()[-4000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # warm shutdown
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        self._out.close()


def empty_canvas_tables() -> None:
    """Every round starts from nothing, so the rounds do the same work."""
    for name in CANVAS_TABLES:
        db.session.execute(delete(db.metadata.tables[name]))
    db.session.commit()


def wait_for_runs(run_ids: list[int], worker: CeleryWorker) -> dict[int, str]:
    deadline = time.monotonic() + ROUND_TIMEOUT_S
    states: dict[int, str] = {}
    while time.monotonic() < deadline:
        db.session.expire_all()
        states = dict(db.session.query(SyncRun.id, SyncRun.status)
                      .filter(SyncRun.id.in_(run_ids)).all())
        if all(s not in ("queued", "running") for s in states.values()):
            return states
        assert worker.process.poll() is None, worker.tail()
        time.sleep(0.1)
    waiting = sorted(s for s in states.values() if s in ("queued", "running"))
    raise AssertionError(f"{len(waiting)} runs still active after {ROUND_TIMEOUT_S} s "
                         f"({waiting[:3]}...); worker log:\n{worker.tail()}")


def test_fifty_users_through_1_2_and_4_celery_workers(
    celery_app: Any, simulator: Any, database_url: str, queue: str, tmp_path: Path
) -> None:
    simulator.config.latency = 0.02
    users = [connect_user(celery_app, simulator, email=f"load{i}@example.edu",
                          token=f"tok-load-{i}", preset="freshman", seed=100 + i)
             for i in range(USERS)]
    report: dict[str, Any] = {"users": USERS, "preset": "freshman", "latency_s": 0.02,
                              "database": database_url.split(":", 1)[0], "rounds": []}

    for concurrency in WORKER_COUNTS:
        empty_canvas_tables()
        log = tmp_path / f"worker-{concurrency}.log"
        worker = CeleryWorker(database_url, concurrency, queue, log)
        try:
            worker.wait_ready()
            simulator.reset_stats()
            started = time.monotonic()
            runs = jobs.enqueue_all(incremental=False)
            assert isinstance(jobs.get_runner(celery_app), jobs.CeleryRunner)
            run_ids = [r.id for r in runs]
            states = wait_for_runs(run_ids, worker)
            elapsed = time.monotonic() - started
        finally:
            worker.stop()

        assert len(run_ids) == USERS
        failed = {rid: s for rid, s in states.items() if s != "succeeded"}
        errors = {r.id: r.error for r in db.session.query(SyncRun)
                  .filter(SyncRun.id.in_(list(failed)))} if failed else {}
        assert not failed, (failed, errors, worker.tail())
        for user, student in users:
            assert_db_matches(user, student)
        report["rounds"].append({
            "workers": concurrency,
            "seconds": round(elapsed, 2),
            "users_per_minute": round(USERS / elapsed * 60, 1),
            "requests": simulator.stats.requests,
            "throttled": simulator.stats.throttled,
            "failed_runs": 0,
        })

    out = tmp_path / "load.json"
    out.write_text(json.dumps(report, indent=2))
    print(f"\nmany users through Celery ({out}):")  # noqa: T201 - the numbers are the point
    for row in report["rounds"]:
        print(f"  {row['workers']} worker process(es): {row['users_per_minute']:7.1f} "  # noqa: T201
              f"users/min ({USERS} users in {row['seconds']:.1f} s)")
