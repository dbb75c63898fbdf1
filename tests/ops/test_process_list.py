"""The README's process list, run for real (issue 23): gunicorn with ``gunicorn.conf.py``, a
Celery worker and Celery beat, on the session's database and Redis.

Beat's tick queues a scheduled sync; the worker runs it; ``/readyz`` says every part is ready;
``/metrics`` (multiprocess mode: the worker's numbers reach the web's scrape) shows the sync.
Then the worker is killed outright in the middle of a sync: a new worker marks the run
interrupted, Redis hands its message on, the run resumes and ends with every row exact.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from app.extensions import db
from app.models import CanvasConnection, SyncRun, User, utcnow
from tests.auth_actions import DEFAULT_PASSWORD
from tests.conftest import TEST_SECRET, connect_user
from tests.jobs.test_crash_recovery import change_every_course
from tests.live_server import csrf_token, free_port
from tests.ops.test_ops_health import stamp_head
from tests.redis_helpers import forget_queue, require_redis
from tests.sync_helpers import assert_db_matches

pytestmark = [pytest.mark.slow, pytest.mark.celery]

ROOT = Path(__file__).resolve().parents[2]
BROKER = os.environ.get("TEST_CELERY_BROKER_URL", "redis://127.0.0.1:6379/6")
METRICS_TOKEN = "process-list-metrics-token"
WAIT_S = 120.0


class Processes:
    """The deployment's processes, each in its own session (killed as a group)."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.running: dict[str, tuple[subprocess.Popen[bytes], IO[bytes]]] = {}

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        out = (self.logs / f"{name}.log").open("ab")
        process = subprocess.Popen([sys.executable, "-m", *args], cwd=ROOT, env=self.env,
                                   stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.running[name] = (process, out)
        return process

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        process, out = self.running.pop(name)
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        out.close()

    def stop_all(self) -> None:
        for name in list(self.running):
            self.kill(name, signal.SIGTERM)

    def tail(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}"
                         for p in sorted(self.logs.glob("*.log")))


def wait_until(check: Callable[[], Any], what: str, processes: Processes,
               timeout: float = WAIT_S) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}\n{processes.tail()}")


def newest_run(user_id: int) -> SyncRun | None:
    db.session.expire_all()
    db.session.commit()
    return db.session.query(SyncRun).filter_by(user_id=user_id).order_by(SyncRun.id.desc()).first()


@pytest.fixture
def deployment(app: Any, database_url: str, tmp_path: Path) -> Iterator[tuple[Processes, str]]:
    require_redis(BROKER)
    queue = f"gradesync-plist-{uuid.uuid4().hex[:10]}"
    port = free_port()
    (tmp_path / "prometheus").mkdir()
    env = {k: v for k, v in os.environ.items() if k.lower() not in (
        "http_proxy", "https_proxy", "all_proxy")}
    env.update({
        "DATABASE_URL": database_url, "SECRET_KEY": TEST_SECRET, "CELERY_BROKER_URL": BROKER,
        "CELERY_QUEUE": queue, "SCHEDULER_TICK_S": "1", "CELERY_VISIBILITY_TIMEOUT_S": "5",
        "CANVAS_ALLOW_PRIVATE_HOSTS": "1", "NO_PROXY": "127.0.0.1,localhost",
        "METRICS_ENABLED": "1", "METRICS_TOKEN": METRICS_TOKEN, "LOG_FORMAT": "json",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
        "GRADESYNC_INSTANCE_DIR": str(tmp_path / "instance"),
        "GRADESYNC_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "1", "SYNC_WORKERS": "1",
    })
    env.pop("CELERY_RESULT_BACKEND", None)
    processes = Processes(env, tmp_path)
    try:
        yield processes, f"http://127.0.0.1:{port}"
    finally:
        processes.stop_all()
        forget_queue(BROKER, queue)


def test_web_worker_and_beat_run_a_scheduled_sync_and_survive_a_killed_worker(
    app: Any, simulator: Any, deployment: tuple[Processes, str]
) -> None:
    processes, base = deployment
    stamp_head()  # what `flask db upgrade` leaves: /readyz checks it
    user, student = connect_user(app, simulator, email="plist@example.edu", token="plist-tok")
    # Due at the first tick: the token was saved a day ago and the account never synced.
    db.session.execute(update(User).where(User.id == user.id).values(sync_interval_minutes=15))
    db.session.execute(update(CanvasConnection).where(CanvasConnection.user_id == user.id)
                       .values(token_changed_at=utcnow() - timedelta(days=1)))
    db.session.commit()
    worker_args = ("celery", "-A", "app.celery_app", "worker", "--concurrency", "1",
                   "--without-gossip", "--without-mingle", "--loglevel", "INFO")

    processes.start("web", "gunicorn", "-c", "gunicorn.conf.py")
    processes.start("worker", *worker_args, "-n", f"plist1-{uuid.uuid4().hex[:6]}@%h")
    processes.start("beat", "celery", "-A", "app.celery_app", "beat", "--loglevel", "INFO",
                    "-s", str(processes.logs / "beat-schedule"))

    # 1. Beat's tick queues a scheduled sync; the worker runs it.
    first = wait_until(lambda: (r := newest_run(user.id)) and r.status == "succeeded" and r,
                       "the first scheduled sync", processes)
    assert (first.summary or {}).get("trigger") == "schedule"
    assert_db_matches(user, student)

    # 2. Ready, and the worker's sync is in the web's metrics.
    ready = wait_until(lambda: _get(f"{base}/readyz"), "/readyz to answer", processes)
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok", "migrations": "ok", "broker": "ok",
                                      "scheduler": "ok"}
    # The worker records the duration just after the row says "succeeded".
    scraped = wait_until(lambda: (m := _metrics(base)).get(
        "gradesync_sync_duration_seconds_count", 0) >= 1 and m, "the sync's metrics", processes,
        timeout=30)
    assert scraped.get("gradesync_canvas_requests_total", 0) > 0

    # 3. A click on Sync (through the web) is cut by killing the worker mid-way.
    change_every_course(student)
    simulator.config.latency = 3.0  # every request to Canvas takes 3 s: the kill lands mid-sync
    run_id = _click_sync(base, user.email)
    wait_until(lambda: (r := newest_run(user.id)) and r.id == run_id and
               r.status == "running",
               "the sync to be under way", processes)
    processes.kill("worker")
    assert newest_run(user.id).status == "running"  # type: ignore[union-attr]

    # 4. A new worker: the run is marked interrupted, its message comes back, it resumes.
    simulator.config.latency = 0.0
    processes.start("worker2", *worker_args, "-n", f"plist2-{uuid.uuid4().hex[:6]}@%h")
    done = wait_until(lambda: (r := newest_run(user.id)) and r.id == run_id and
                      r.status in ("succeeded", "failed") and r,
                      "the interrupted run to resume", processes)
    assert done.status == "succeeded", done.error
    assert_db_matches(user, student)  # nothing lost
    assert wait_until(lambda: _metrics(base).get("gradesync_runs_interrupted_total", 0) >= 1,
                      "the interruption's metric", processes, timeout=30)
    assert "Traceback" not in (processes.logs / "web.log").read_text()


def _get(url: str) -> requests.Response | None:
    try:
        return requests.get(url, timeout=10)
    except requests.RequestException:
        return None


def _metrics(base: str) -> dict[str, float]:
    response = requests.get(f"{base}/metrics", timeout=10,
                            headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200, response.text
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            totals[sample.name] = totals.get(sample.name, 0.0) + sample.value
    return totals


def _click_sync(base: str, email: str) -> int:
    """Sign in through the real form (CSRF on) and click Sync; the new run's id."""
    with requests.Session() as session:
        token = csrf_token(session.get(f"{base}/login", timeout=30).text)
        login = session.post(f"{base}/login", timeout=30, allow_redirects=False,
                             data={"email": email, "password": DEFAULT_PASSWORD,
                                   "csrf_token": token})
        assert login.status_code == 302, login.text[:300]
        token = csrf_token(session.get(f"{base}/", timeout=30).text)
        click = session.post(f"{base}/sync", data={"csrf_token": token, "mode": "full"},
                             timeout=30, allow_redirects=False)
        assert click.status_code == 302, click.text[:300]
        return int(click.headers["Location"].rstrip("/").rsplit("/", 1)[-1])


def test_metrics_on_a_port_of_their_own(app: Any, database_url: str, tmp_path: Path) -> None:
    """``METRICS_PORT``: gunicorn's master serves the metrics there; ``/metrics`` is 404."""
    web_port, metrics_port = free_port(), free_port()
    (tmp_path / "prometheus").mkdir()
    env = {k: v for k, v in os.environ.items() if k.lower() not in (
        "http_proxy", "https_proxy", "all_proxy", "celery_broker_url")}
    env.update({"DATABASE_URL": database_url, "SECRET_KEY": TEST_SECRET,
                "METRICS_ENABLED": "1", "METRICS_PORT": str(metrics_port),
                "METRICS_ADDR": "127.0.0.1", "SCHEDULER_ENABLED": "0",
                "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
                "GRADESYNC_INSTANCE_DIR": str(tmp_path / "instance"),
                "GRADESYNC_BIND": f"127.0.0.1:{web_port}", "WEB_CONCURRENCY": "1"})
    processes = Processes(env, tmp_path)
    try:
        processes.start("web", "gunicorn", "-c", "gunicorn.conf.py")
        scraped = wait_until(lambda: _get(f"http://127.0.0.1:{metrics_port}/metrics"),
                             "the metrics port", processes, timeout=60)
        assert scraped.status_code == 200
        names = {f.name for f in text_string_to_metric_families(scraped.text)}
        assert {"gradesync_queue_depth", "gradesync_account_staleness_seconds"} <= names
        assert wait_until(lambda: _get(f"http://127.0.0.1:{web_port}/healthz"), "the web",
                          processes).status_code == 200
        assert requests.get(f"http://127.0.0.1:{web_port}/metrics", timeout=10,
                            headers={"Authorization": "Bearer x"}).status_code == 404
    finally:
        processes.stop_all()
