"""Background sync jobs: run states, one active run per user, runners, interrupted runs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app import alerts, create_app, jobs
from app.extensions import db as _db
from app.jobs import runners, runs
from app.models import Course, SyncRun, utcnow
from tests.conftest import connect_user, make_test_config
from tests.sync_helpers import assert_db_matches


def fresh_run(run_id: int) -> SyncRun:
    _db.session.expire_all()
    return _db.session.get(SyncRun, run_id)


def test_run_sync_success_records_summary(app: Any, db: Any, canvas_user: Any) -> None:
    user, student = canvas_user
    seen: list[Any] = []
    run = jobs.create_sync_run(user.id, incremental=False)
    assert run.status == "queued" and run.kind == "full"
    results = jobs.run_sync(user.id, run.id, False, progress=seen.append)
    assert results["status"] == "succeeded"
    run = fresh_run(run.id)
    assert run.status == "succeeded" and run.error is None
    assert run.started_at is not None and run.finished_at >= run.started_at
    assert run.percent == 100 and run.courses_done == run.courses_total > 0
    assert run.requests == results["requests"] > 0
    assert run.summary["courses"] == len(student.expected())
    assert {p.phase for p in seen} >= {"connecting", "done"}
    assert_db_matches(user, student)


def test_a_finished_run_still_names_every_course_it_wrote(app: Any, db: Any,
                                                         canvas_user: Any) -> None:
    """Courses written between two polls: the page learns each one from the row (issue 13)."""
    from app.pages.sync.run_view import run_state

    user, student = canvas_user
    run = jobs.create_sync_run(user.id, incremental=False)
    assert jobs.run_sync(user.id, run.id, False)["status"] == "succeeded"
    with app.test_request_context():
        steps = run_state(fresh_run(run.id))["steps"]
    total = len(student.expected())
    assert [step["done"] for step in steps] == list(range(1, total + 1))
    names = {course.name for course in db.session.scalars(select(Course))}
    for step in steps:
        name = step["line"].removeprefix("Syncing ").rsplit(" — ", 1)[0]
        assert name in names and step["line"].endswith(f"— {step['done']} of {total}")


def test_run_sync_failure_from_canvas_is_failed_with_message(app: Any, db: Any, simulator: Any,
                                                             canvas_user: Any) -> None:
    user, _student = canvas_user
    simulator.revoke_token("tok-freshman-1")
    run = jobs.create_sync_run(user.id, incremental=False)
    results = jobs.run_sync(user.id, run.id, False)
    run = fresh_run(run.id)
    assert results["status"] == "failed"
    assert run.status == "failed" and run.percent < 100
    assert "token" in run.error.lower() and run.finished_at is not None


def test_unexpected_exception_is_failed_never_succeeded(app: Any, db: Any, canvas_user: Any,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        caplog: pytest.LogCaptureFixture
                                                        ) -> None:
    import app.connections.syncing as sync_module

    def explode(*_args: Any, **_kwargs: Any) -> Any:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(sync_module, "create_canvas_sync_service", explode)
    user, _student = canvas_user
    run = jobs.create_sync_run(user.id, incremental=True)
    results = jobs.run_sync(user.id, run.id, True)
    run = fresh_run(run.id)
    assert results["status"] == "failed" and run.status == "failed"
    assert "unexpected error" in run.error and "ZeroDivisionError" in run.error
    assert "boom" not in run.error  # the details are for the log, not the student
    assert any(r.exc_info and "boom" in str(r.exc_info[1]) for r in caplog.records)


def test_run_sync_does_not_rerun_a_finished_run(app: Any, db: Any, canvas_user: Any) -> None:
    user, _student = canvas_user
    run = jobs.create_sync_run(user.id, incremental=False)
    jobs.mark_interrupted_runs()
    results = jobs.run_sync(user.id, run.id, False)
    assert results["status"] == "interrupted"
    assert fresh_run(run.id).started_at is None


def test_one_active_run_per_user(app: Any, db: Any, canvas_user: Any) -> None:
    user, _student = canvas_user
    first = jobs.create_sync_run(user.id, incremental=False)
    with pytest.raises(jobs.SyncAlreadyRunning) as caught:
        jobs.create_sync_run(user.id, incremental=True)
    assert caught.value.run.id == first.id
    # Once it finished, a new run is allowed.
    jobs.run_sync(user.id, first.id, False)
    second = jobs.create_sync_run(user.id, incremental=True)
    assert second.id != first.id and second.kind == "incremental"


def test_two_threads_racing_get_one_run(app: Any, db: Any, canvas_user: Any) -> None:
    user, _student = canvas_user
    user_id = user.id
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def click() -> None:
        with app.app_context():
            barrier.wait()
            try:
                run = jobs.create_sync_run(user_id, incremental=False)
                outcomes.append(f"created {run.id}")
            except jobs.SyncAlreadyRunning as exc:
                outcomes.append(f"refused {exc.run.id}")
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=click) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(o.split()[0] for o in outcomes) == ["created", "refused"]
    assert len({o.split()[1] for o in outcomes}) == 1  # the refused one points at the winner
    count = db.session.scalar(select(db.func.count(SyncRun.id)))
    assert count == 1


def test_mark_interrupted_runs(app: Any, db: Any, canvas_user: Any) -> None:
    user, _student = canvas_user
    stale = SyncRun(user_id=user.id, status="running", started_at=utcnow(),
                    created_at=utcnow() - timedelta(hours=1))
    done = SyncRun(user_id=user.id, status="succeeded", finished_at=utcnow())
    db.session.add_all([stale, done])
    db.session.commit()
    assert jobs.mark_interrupted_runs(before=utcnow() - timedelta(hours=2)) == 0
    assert jobs.mark_interrupted_runs() == 1
    stale, done = fresh_run(stale.id), fresh_run(done.id)
    assert stale.status == "interrupted" and "start the sync again" in stale.error
    assert done.status == "succeeded"
    # The user can sync again.
    jobs.create_sync_run(user.id, incremental=False)


def test_thread_runner_start_sync(database_url: str, simulator: Any, _schema: None) -> None:
    """start_sync in a real app: the job runs in the pool with its own context and session."""
    app = create_app(make_test_config(database_url, SYNC_WORKERS=2))
    with app.app_context():
        try:
            users = [connect_user(app, simulator, email=f"u{i}@example.edu", token=f"tok-{i}",
                                  seed=i) for i in range(3)]
            # A run left running by a dead process is cleared by the server's start-up step.
            leftover = SyncRun(user_id=users[0][0].id, status="running",
                               worker=f"{socket.gethostname()}:{dead_pid()}",
                               created_at=jobs.PROCESS_STARTED_AT - timedelta(minutes=1))
            _db.session.add(leftover)
            _db.session.commit()
            jobs.recover_on_start(app)
            simulator.config.latency = 0.2  # still running when the second click comes
            started = [jobs.start_sync(user.id) for user, _ in users]
            assert all(created for _run, created in started)
            runs = [run for run, _created in started]
            again, created = jobs.start_sync(users[0][0].id)
            assert again.id == runs[0].id and not created  # a second click shows the running one
            simulator.config.latency = 0.0
            assert fresh_run(leftover.id).status == "interrupted"
            runner = app.extensions[jobs.RUNNER_KEY]
            assert isinstance(runner, jobs.ThreadRunner)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if all(fresh_run(r.id).status not in ("queued", "running") for r in runs):
                    break
                time.sleep(0.05)
            for (user, student), run in zip(users, runs, strict=True):
                assert fresh_run(run.id).status == "succeeded", fresh_run(run.id).error
                assert_db_matches(user, student)
            runner.shutdown()
        finally:
            _db.session.remove()
            from tests.conftest import _empty_all_tables

            _empty_all_tables()
            _db.engine.dispose()


def test_enqueue_all_skips_unconnected_and_active(app: Any, db: Any, simulator: Any,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from app.accounts import create_user

    submitted: list[int] = []

    class Recorder:
        def submit(self, user_id: int, run_id: int, incremental: bool) -> None:
            submitted.append(user_id)

    monkeypatch.setattr(runners, "get_runner", lambda app=None: Recorder())
    a, _ = connect_user(app, simulator, email="a@example.edu", token="tok-a")
    b, _ = connect_user(app, simulator, email="b@example.edu", token="tok-b")
    create_user("c@example.edu", "correct horse battery")  # not connected
    busy = jobs.create_sync_run(b.id, incremental=False)
    runs = jobs.enqueue_all()
    assert [r.user_id for r in runs] == [a.id, b.id]
    assert runs[1].id == busy.id
    assert submitted == [a.id]
    assert db.session.scalar(select(db.func.count(Course.id))) == 0  # nothing ran inline


def test_celery_task_resumes_a_run_its_dead_worker_left(app: Any, db: Any,
                                                        canvas_user: Any) -> None:
    """The task body (no broker): a redelivered message of an interrupted run runs it."""
    from app.jobs.tasks import run_sync_task

    user, student = canvas_user
    run = jobs.create_sync_run(user.id, incremental=False)
    run.status, run.started_at = "running", utcnow()
    db.session.commit()
    assert jobs.mark_interrupted_runs(statuses=("running",)) == 1
    assert run_sync_task.run(user.id, run.id, False) == "succeeded"
    assert fresh_run(run.id).status == "succeeded" and fresh_run(run.id).error is None
    assert_db_matches(user, student)


def test_a_redelivered_message_does_not_resume_over_a_newer_run(app: Any, db: Any,
                                                                canvas_user: Any) -> None:
    """The task's claim resumes an interrupted run itself: not over the user's newer one."""
    from app.jobs.tasks import run_sync_task

    user, _student = canvas_user
    old = jobs.create_sync_run(user.id, incremental=False)
    jobs.mark_interrupted_runs()
    newer = jobs.create_sync_run(user.id, incremental=True)
    assert run_sync_task.run(user.id, old.id, False) == "interrupted"
    assert fresh_run(old.id).status == "interrupted"
    assert fresh_run(old.id).error is not None  # still says why it stopped
    assert fresh_run(newer.id).status == "queued"


def test_a_run_delivered_twice_runs_once(app: Any, db: Any, simulator: Any,
                                         canvas_user: Any) -> None:
    user, _student = canvas_user
    user_id, run_id = user.id, jobs.create_sync_run(user.id, incremental=False).id
    barrier = threading.Barrier(2)
    statuses: list[str] = []

    def deliver() -> None:
        with app.app_context():
            barrier.wait()
            statuses.append(jobs.run_sync(user_id, run_id, False)["status"])
            _db.session.remove()

    simulator.reset_stats()
    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses.count("succeeded") >= 1 and len(statuses) == 2
    # One sync: one default course list (the teacher-concluded one goes beside it).
    default_lists = [
        r
        for r in simulator.stats.records
        if r.path == "/api/v1/courses" and "state[]" not in r.query
    ]
    assert len(default_lists) == 1
    assert fresh_run(run_id).status == "succeeded"


def test_finishing_survives_a_dropped_database_connection(app: Any, db: Any, canvas_user: Any,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    from sqlalchemy.exc import OperationalError

    user, _student = canvas_user
    real = runs._record_finish
    failures = iter([True, True])

    def flaky(run_id: int, *args: Any) -> None:
        if next(failures, False):
            raise OperationalError("UPDATE sync_run", {}, Exception("server closed"))
        real(run_id, *args)

    monkeypatch.setattr(runs, "FINISH_RETRY_SECONDS", 0.0)
    monkeypatch.setattr(runs, "_record_finish", flaky)
    run = jobs.create_sync_run(user.id, incremental=False)
    assert jobs.run_sync(user.id, run.id, False)["status"] == "succeeded"
    assert fresh_run(run.id).status == "succeeded"


def test_a_database_that_stays_down_leaves_the_run_for_interruption(
    app: Any, db: Any, canvas_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import OperationalError

    def down(run_id: int, *args: Any) -> None:
        raise OperationalError("UPDATE sync_run", {}, Exception("server closed"))

    user, _student = canvas_user
    monkeypatch.setattr(runs, "FINISH_RETRY_SECONDS", 0.0)
    monkeypatch.setattr(runs, "_record_finish", down)
    run = jobs.create_sync_run(user.id, incremental=False)
    jobs.run_sync(user.id, run.id, False)  # must not raise
    assert fresh_run(run.id).status == "running"
    assert jobs.mark_interrupted_runs() == 1


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_start_up_recovers_only_runs_whose_process_is_gone(app: Any, db: Any,
                                                           simulator: Any) -> None:
    """A starting process must not cut off a sync another live process is running."""
    host = socket.gethostname()
    users = [connect_user(app, simulator, email=f"r{i}@example.edu", token=f"tok-r{i}", seed=i)[0]
             for i in range(5)]
    long_ago = utcnow() - timedelta(hours=1)
    runs = {
        # Held by a process on this machine that has exited: abandoned.
        "dead_here": SyncRun(user_id=users[0].id, status="running",
                             worker=f"{host}:{dead_pid()}", heartbeat_at=utcnow()),
        # Held by a live process on this machine (our parent): left alone.
        "alive_here": SyncRun(user_id=users[1].id, status="running",
                              worker=f"{host}:{os.getppid()}", heartbeat_at=long_ago),
        # Another machine, heard from a moment ago: left alone.
        "busy_elsewhere": SyncRun(user_id=users[2].id, status="running",
                                  worker="other-host:4242", heartbeat_at=utcnow()),
        # Another machine, silent for an hour: abandoned.
        "silent_elsewhere": SyncRun(user_id=users[3].id, status="running",
                                    worker="other-host:4243", heartbeat_at=long_ago),
        # Queued in the Celery broker, no process holds it yet: left alone.
        "in_broker": SyncRun(user_id=users[4].id, status="queued", created_at=long_ago),
    }
    db.session.add_all(runs.values())
    db.session.commit()
    assert jobs.recover_abandoned_runs() == 2
    status = {name: fresh_run(run.id).status for name, run in runs.items()}
    assert status == {
        "dead_here": "interrupted",
        "alive_here": "running",
        "busy_elsewhere": "running",
        "silent_elsewhere": "interrupted",
        "in_broker": "queued",
    }
    assert "start the sync again" in fresh_run(runs["dead_here"].id).error


def test_a_running_sync_records_its_process_and_heartbeat(app: Any, db: Any,
                                                         canvas_user: Any) -> None:
    user, _student = canvas_user
    run = jobs.create_sync_run(user.id, incremental=False)
    seen: list[tuple[str | None, Any]] = []

    def watch(_update: Any) -> None:
        row = fresh_run(run.id)
        seen.append((row.worker, row.heartbeat_at))

    assert jobs.run_sync(user.id, run.id, False, progress=watch)["status"] == "succeeded"
    assert seen and all(worker == jobs.WORKER_ID for worker, _ in seen)
    assert all(beat is not None for _, beat in seen)


def test_a_run_leaves_no_connection_with_relaxed_commits_in_the_pool(
    app: Any, db: Any, canvas_user: Any, is_postgres: bool
) -> None:
    """The progress rows commit asynchronously on their own connection; the course data and
    everyone else who gets that connection from the pool afterwards must not."""
    if not is_postgres:
        pytest.skip("synchronous_commit is a Postgres setting")
    user, _student = canvas_user
    run = jobs.create_sync_run(user.id, incremental=False)
    assert jobs.run_sync(user.id, run.id, False)["status"] == "succeeded"
    alerts.outbox().wait_idle(30.0)  # the alert threads hand their connections back too
    _db.session.remove()
    # Every connection the pool holds (and new ones, all of which start with the default).
    pooled = [_db.engine.connect() for _ in range(_db.engine.pool.size())]  # type: ignore[attr-defined]
    try:
        settings = {conn.exec_driver_sql("SHOW synchronous_commit").scalar()
                    for conn in pooled}
    finally:
        for conn in pooled:
            conn.close()
    assert settings == {"on"}
