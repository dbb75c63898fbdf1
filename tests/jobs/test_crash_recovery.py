"""A sync process killed outright, or losing its database, mid-sync.

The sync runs in a separate process (``tests/crash_worker.py``) against this session's
database and the in-process simulator, slowed by latency and fetching one course at a time, so
the test can strike after some courses are committed and before the rest are.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app import jobs
from app.extensions import db
from app.models import SyncRun
from tests.conftest import TEST_SECRET
from tests.crash_worker import WorkerProcess
from tests.sync_helpers import assert_db_matches, db_snapshot

WAIT_S = 60.0


def worker_env() -> dict[str, str]:
    env = {**os.environ, "SECRET_KEY": TEST_SECRET, "NO_PROXY": "127.0.0.1,localhost"}
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
                 "all_proxy"):
        env.pop(name, None)
    return env


def change_every_course(student: Any) -> None:
    for course_id, course in student.expected().items():
        student.rename_course(course_id, f"Renamed {course_id}")
        student.grade(course_id, sorted(course["assignments"])[0], 0.5)


def first_sync(user: Any, student: Any) -> None:
    run = jobs.create_sync_run(user.id, False)
    assert jobs.run_sync(user.id, run.id, False)["status"] == "succeeded"
    assert_db_matches(user, student)


def fresh_run(run_id: int) -> SyncRun:
    db.session.expire_all()
    return db.session.get(SyncRun, run_id)


def written(line: str, at_least: int) -> bool:
    """A progress line saying ``at_least`` courses are committed."""
    words = line.split()
    return words[:2] == ["PROGRESS", "writing"] and int(words[2]) >= at_least


@pytest.mark.slow
def test_sigkill_mid_sync_leaves_every_course_old_or_new(
    canvas_user: Any, simulator: Any, database_url: str, tmp_path: Path
) -> None:
    user, student = canvas_user
    first_sync(user, student)
    old = db_snapshot(user.id)
    change_every_course(student)
    expected = student.expected()
    simulator.config.latency = 0.3  # a course every 0.3 s: the kill lands mid-sync

    worker = WorkerProcess("sync", "--database-url", database_url, "--user-id", str(user.id),
                           "--workers", "1", env=worker_env(), log=tmp_path / "worker.log")
    try:
        run_line = worker.wait_for(lambda line: line.startswith("RUN "), WAIT_S)
        assert run_line, worker.stderr()
        assert worker.wait_for(lambda line: written(line, 2), WAIT_S), worker.stderr()
        os.kill(worker.process.pid, signal.SIGKILL)
        code = worker.close()
    finally:
        worker.close()
    assert code == -signal.SIGKILL
    assert not any(line.startswith("RESULT") for line in worker.lines), "killed before the end"
    run_id = int(run_line.split()[1])

    # Every course is entirely its old version or entirely its new one; some of each.
    new = db_snapshot(user.id)
    assert sorted(new) == sorted(expected)
    fresh = [c for c in expected if new[c] == expected[c]]
    stale = [c for c in expected if new[c] == old[c]]
    assert sorted(fresh + stale) == sorted(expected), "a course is half old, half new"
    assert len(fresh) >= 2 and stale, (fresh, stale)

    # The dead process's run still says "running" until the next start marks it.
    assert fresh_run(run_id).status == "running"
    startup = WorkerProcess("startup", "--database-url", database_url, env=worker_env(),
                            log=tmp_path / "startup.log")
    try:
        assert startup.finish(WAIT_S) == 0, startup.stderr()
    finally:
        startup.close()
    run = fresh_run(run_id)
    assert run.status == "interrupted"
    assert "start the sync again" in run.error
    assert jobs.active_run(user.id) is None

    # The next sync (incremental, as the next click would be) is exact.
    simulator.config.latency = 0.0
    again = jobs.create_sync_run(user.id, True)
    assert jobs.run_sync(user.id, again.id, True)["status"] == "succeeded"
    assert_db_matches(user, student)


@pytest.mark.slow
def test_mark_interrupted_runs_is_what_marks_it(
    canvas_user: Any, simulator: Any, database_url: str, tmp_path: Path
) -> None:
    """The same crash, recovered by calling ``mark_interrupted_runs()`` directly."""
    user, student = canvas_user
    simulator.config.latency = 0.3
    worker = WorkerProcess("sync", "--database-url", database_url, "--user-id", str(user.id),
                           "--workers", "1", env=worker_env(), log=tmp_path / "worker.log")
    try:
        run_line = worker.wait_for(lambda line: line.startswith("RUN "), WAIT_S)
        assert run_line and worker.wait_for(lambda line: written(line, 1), WAIT_S), \
            worker.stderr()
        os.kill(worker.process.pid, signal.SIGKILL)
    finally:
        worker.close()
    run_id = int(run_line.split()[1])
    assert jobs.mark_interrupted_runs() == 1
    assert fresh_run(run_id).status == "interrupted"
    simulator.config.latency = 0.0
    again = jobs.create_sync_run(user.id, False)
    assert jobs.run_sync(user.id, again.id, False)["status"] == "succeeded"
    assert_db_matches(user, student)


def test_database_connections_cut_mid_sync(
    canvas_user: Any, simulator: Any, database_url: str, is_postgres: bool, tmp_path: Path
) -> None:
    if not is_postgres:
        pytest.skip("SQLite is a file in this process's reach: there is no server to lose")
    user, student = canvas_user
    first_sync(user, student)
    change_every_course(student)
    simulator.config.latency = 0.2
    app_name = "gradesync_crash_worker"
    worker_url = make_url(database_url).update_query_dict({"application_name": app_name})
    admin = create_engine(make_url(database_url), isolation_level="AUTOCOMMIT")
    killed: list[int] = []
    stop = threading.Event()

    def cut_connections_for(seconds: float) -> None:
        """pg_terminate_backend on every connection of the worker, again and again."""
        deadline = time.monotonic() + seconds
        with admin.connect() as conn:
            while not stop.is_set() and time.monotonic() < deadline:
                # In the select list, not the WHERE clause: only the rows that match are hit.
                killed.extend(conn.execute(text(
                    "SELECT pid FROM (SELECT pid, pg_terminate_backend(pid) AS done "
                    "FROM pg_stat_activity WHERE application_name = :name "
                    "AND datname = current_database() AND pid <> pg_backend_pid()) AS cut "
                    "WHERE done"), {"name": app_name}).scalars())
                time.sleep(0.02)

    worker = WorkerProcess(
        "sync", "--database-url", worker_url.render_as_string(hide_password=False),
        "--user-id", str(user.id), "--workers", "1", env=worker_env(),
        log=tmp_path / "worker.log",
    )
    cutter = threading.Thread(target=cut_connections_for, args=(1.0,))
    try:
        run_line = worker.wait_for(lambda line: line.startswith("RUN "), WAIT_S)
        assert run_line and worker.wait_for(lambda line: written(line, 1), WAIT_S), \
            worker.stderr()
        cutter.start()
        cutter.join(timeout=30)
        code = worker.finish(WAIT_S)
    finally:
        stop.set()
        if cutter.is_alive():
            cutter.join(timeout=30)
        worker.close()
        admin.dispose()
    assert killed, "the worker's connections were cut"
    run_id = int(run_line.split()[1])
    run = fresh_run(run_id)
    if run.status == "running":  # the worker could not even record its end
        assert jobs.mark_interrupted_runs() == 1
        run = fresh_run(run_id)
    # It ends cleanly: the job returned its result (it did not crash), and the run is failed
    # with a readable message, or interrupted; never stuck, never a traceback for the user.
    # (The process's exit code is not checked: closing the app context after the job may meet
    # a connection cut that very moment, which no user sees.)
    assert any(line.startswith("RESULT ") for line in worker.lines), (code, worker.stderr())
    assert run.status in ("failed", "interrupted", "succeeded"), run.status
    if run.status == "succeeded":  # every cut fell between two transactions: all retried
        assert_db_matches(user, student)
    else:
        assert run.error and "\n" not in run.error and "Traceback" not in run.error
    assert jobs.active_run(user.id) is None

    simulator.config.latency = 0.0
    again = jobs.create_sync_run(user.id, True)
    assert jobs.run_sync(user.id, again.id, True)["status"] == "succeeded"
    assert_db_matches(user, student)
