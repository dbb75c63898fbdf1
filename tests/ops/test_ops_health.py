"""Health checks an operator (or a container orchestrator) polls: ``/healthz``, ``/readyz`` and
``flask worker-check`` (issue 23)."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from app.extensions import db
from app.jobs import heartbeat
from app.models import utcnow
from app.ops.health import migration_heads

ROOT = Path(__file__).resolve().parents[2]


def stamp_head() -> None:
    """What ``flask db upgrade`` leaves behind: alembic_version at the newest revision."""
    db.session.execute(text("CREATE TABLE IF NOT EXISTS alembic_version "
                            "(version_num VARCHAR(32) NOT NULL PRIMARY KEY)"))
    db.session.execute(text("DELETE FROM alembic_version"))
    for head in migration_heads():
        db.session.execute(text("INSERT INTO alembic_version VALUES (:v)"), {"v": head})
    db.session.commit()


@pytest.fixture
def stamped(app: Any) -> Any:
    stamp_head()
    yield app
    db.session.execute(text("DROP TABLE IF EXISTS alembic_version"))
    db.session.commit()


def test_healthz_answers_without_the_database(app: Any, client: Any, monkeypatch: Any) -> None:
    def no_database(*_a: Any, **_k: Any) -> None:
        raise AssertionError("/healthz must not touch the database")

    monkeypatch.setattr(db.session, "execute", no_database)
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.data == b"ok\n"


def test_readyz_is_ready_when_every_part_is(stamped: Any, client: Any) -> None:
    heartbeat.beat()
    response = client.get("/readyz")
    assert response.status_code == 200, response.json
    assert response.json["checks"] == {"database": "ok", "migrations": "ok",
                                       "broker": "not configured", "scheduler": "ok"}


def test_readyz_names_a_stalled_scheduler(stamped: Any, client: Any) -> None:
    tick = stamped.config["SCHEDULER_TICK_S"]
    heartbeat.beat(at=utcnow() - timedelta(seconds=3 * tick + 5))
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["failing"] == ["scheduler"]
    heartbeat.beat(at=utcnow() - timedelta(seconds=2 * tick))  # quiet, not stalled
    assert client.get("/readyz").status_code == 200


def test_readyz_scheduler_that_never_ticked_is_failing(stamped: Any, client: Any) -> None:
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["failing"] == ["scheduler"]


def test_readyz_names_unapplied_migrations(stamped: Any, client: Any) -> None:
    heartbeat.beat()
    db.session.execute(text("UPDATE alembic_version SET version_num = '0012_older'"))
    db.session.commit()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["failing"] == ["migrations"]


def test_readyz_names_an_unreachable_broker_and_leaks_nothing(stamped: Any, client: Any) -> None:
    heartbeat.beat()
    stamped.config["CELERY_BROKER_URL"] = "redis://:hunter2-broker@127.0.0.1:1/0"
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["failing"] == ["broker"]
    assert b"hunter2" not in response.data and b"127.0.0.1" not in response.data
    assert b"Error" not in response.data


def test_readyz_database_down_is_named(stamped: Any, client: Any, monkeypatch: Any) -> None:
    from sqlalchemy.exc import OperationalError

    def down(*_a: Any, **_k: Any) -> None:
        raise OperationalError("SELECT 1", {}, Exception("password=secret-db-password"))

    monkeypatch.setattr(db.session, "execute", down)
    response = client.get("/readyz")
    monkeypatch.undo()
    assert response.status_code == 503
    assert "database" in response.json["failing"]
    assert b"secret-db-password" not in response.data


def test_scheduler_tick_records_the_heartbeat(app: Any) -> None:
    from app.jobs.enqueue import enqueue_due

    assert heartbeat.last_beat() is None
    enqueue_due(lambda *_a: None)
    assert heartbeat.last_beat() is not None


def _worker_check(broker: str, database_url: str) -> subprocess.CompletedProcess[str]:
    from tests.conftest import TEST_SECRET

    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": database_url, "CELERY_BROKER_URL": broker,
           "SECRET_KEY": TEST_SECRET, "HOME": str(ROOT), "NO_PROXY": "127.0.0.1,localhost",
           "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "flask", "--app", "app", "worker-check",
                           "--timeout", "2"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)


@pytest.mark.slow
def test_worker_check_fails_without_a_worker(database_url: str) -> None:
    from tests.redis_helpers import require_redis

    broker = "redis://127.0.0.1:6379/14"
    require_redis(broker)
    result = _worker_check(broker, database_url)
    assert result.returncode == 1, result.stderr
    assert "no Celery worker answered" in result.stderr


@pytest.mark.slow
def test_worker_check_fails_when_the_broker_is_down(database_url: str) -> None:
    result = _worker_check("redis://127.0.0.1:1/0", database_url)
    assert result.returncode == 1
    assert result.stderr.startswith("Error: ")


@pytest.mark.slow
@pytest.mark.celery
def test_worker_check_passes_with_a_worker(database_url: str, tmp_path: Path) -> None:
    from tests.conftest import TEST_SECRET
    from tests.redis_helpers import require_redis

    broker = "redis://127.0.0.1:6379/14"
    require_redis(broker)
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": database_url, "CELERY_BROKER_URL": broker,
           "SECRET_KEY": TEST_SECRET, "CELERY_QUEUE": f"gs-check-{uuid.uuid4().hex[:8]}",
           "HOME": str(ROOT), "PYTHONPATH": str(ROOT)}
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "app.celery_app", "worker", "--concurrency", "1",
         "--without-gossip", "--without-mingle", "-n", f"check-{uuid.uuid4().hex[:8]}@%h"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            result = _worker_check(broker, database_url)
            if result.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert result.returncode == 0, result.stderr
        assert "worker(s) answered" in result.stdout
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        log.close()
