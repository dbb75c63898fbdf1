"""Faults a real Canvas throws at a sync, against the simulator, on SQLite and on Postgres.

Every sync here goes through ``app.jobs`` (``create_sync_run`` + ``run_sync``), so what is
checked is what the user sees: the run's status and message, and the stored grades. "Data
unchanged" compares every row of the term, course, group and assignment tables before and
after; "exact" is ``assert_db_matches`` against the simulator's oracle.
"""

from __future__ import annotations

import functools
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from app import jobs
from app.canvas.options import ClientOptions
from app.connections import set_canvas_credentials
from app.connections import syncing as canvas_api_service
from app.connections import syncing as canvas_sync_service
from app.extensions import db
from app.models import SyncRun
from tests.conftest import TEST_SECRET
from tests.crash_worker import WorkerProcess
from tests.sync_helpers import assert_db_matches, db_snapshot, only_connection

TOKEN = "tok-freshman-1"
CANVAS_TABLES = ("term", "course", "grade_category", "assignment")
BOUND_S = 30.0  # "within a bounded time": far above the few seconds these runs need


def table_rows() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the Canvas tables, in id order (the whole stored state)."""
    rows = {}
    for name in CANVAS_TABLES:
        table = db.metadata.tables[name]
        rows[name] = [tuple(r) for r in db.session.execute(select(table).order_by(table.c.id))]
    db.session.commit()
    return rows


def run_job(user_id: int, incremental: bool = False, progress: Any = None) -> SyncRun:
    """A sync as the background job runs it; returns the finished run, read afresh."""
    run = jobs.create_sync_run(user_id, incremental)
    jobs.run_sync(user_id, run.id, incremental, progress=progress)
    db.session.expire_all()
    return db.session.get(SyncRun, run.id)


def assert_succeeded(run: SyncRun) -> None:
    assert run.status == "succeeded", run.error
    assert run.error is None


def assert_failed_clearly(run: SyncRun, *phrases: str) -> None:
    """Failed, with a one-line message a person can read, containing ``phrases``."""
    assert run.status == "failed", run.summary
    assert run.finished_at is not None
    message = run.error or ""
    assert message and "\n" not in message and "Traceback" not in message, message
    for phrase in phrases:
        assert phrase.lower() in message.lower(), (phrase, message)


def change_every_course(student: Any) -> None:
    """A rename and a new grade in every open course, so old and new rows differ.

    Concluded courses are read-only for teachers (the incremental sync relies on it).
    """
    for course_id, course in student.expected().items():
        if course["concluded"]:
            continue
        student.rename_course(course_id, f"Renamed {course_id}")
        student.grade(course_id, sorted(course["assignments"])[0], 1.25)


def fetch_order(simulator: Any) -> list[int]:
    """Canvas course ids in the order their gradebook requests reached Canvas."""
    seen: list[int] = []
    for record in simulator.stats.by_path(r"^/api/v1/courses/\d+/assignment_groups$"):
        course_id = int(record.path.split("/")[4])
        if course_id not in seen:
            seen.append(course_id)
    return seen


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def synced(canvas_user: Any) -> Iterator[tuple[Any, Any]]:
    """(user, student) after a first, successful full sync."""
    user, student = canvas_user
    assert_succeeded(run_job(user.id))
    assert_db_matches(user, student)
    yield user, student


@pytest.fixture
def one_fetch_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Syncs fetch one course at a time, so a fault can land between two courses."""
    monkeypatch.setattr(
        canvas_sync_service, "create_canvas_sync_service",
        functools.partial(canvas_sync_service.create_canvas_sync_service, workers=1),
    )


# --- a flaky or throttling Canvas: the sync gets through, exactly -------------------------------

@pytest.mark.slow
def test_server_errors_and_dropped_connections_do_not_change_the_result(
    app: Any, simulator: Any
) -> None:
    from tests.conftest import connect_user

    user, student = connect_user(app, simulator, email="flaky@example.edu", token="tok-flaky",
                                 preset="senior", seed=3)
    simulator.config.fault_5xx_rate = 0.08
    simulator.config.fault_drop_rate = 0.03
    simulator.config.seed = 16  # deterministic draws: 5xx and drops in the first sync

    first = run_job(user.id)
    assert_succeeded(first)
    assert_db_matches(user, student)
    change_every_course(student)
    again = run_job(user.id, incremental=True)
    assert_succeeded(again)
    assert_db_matches(user, student)

    assert simulator.stats.errors_5xx > 0 and simulator.stats.dropped > 0, "faults happened"
    retries = first.summary["retries"] + again.summary["retries"]
    assert retries >= simulator.stats.errors_5xx + simulator.stats.dropped


@contextmanager
def another_program_on_the_token(base_url: str, token: str, seconds: float) -> Iterator[None]:
    """Six threads spending ``token``'s bucket for ``seconds`` (a second app of the student's).

    They ignore throttling, so while they run the bucket stays near its high-water mark and
    the sync's own requests get throttled; after that the bucket drains.
    """
    stop = threading.Event()
    deadline = time.monotonic() + seconds

    def spend() -> None:
        with requests.Session() as session:
            session.headers.update({"Authorization": f"Bearer {token}",
                                    "User-Agent": "another-program/1.0"})
            while not stop.is_set() and time.monotonic() < deadline:
                session.get(f"{base_url}/api/v1/users/self", timeout=10)

    threads = [threading.Thread(target=spend) for _ in range(6)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.3)  # the bucket is full before the sync starts
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)


@pytest.mark.slow
@pytest.mark.parametrize("throttle_status", [403, 429])
def test_tight_bucket_throttles_but_the_sync_is_exact(
    app: Any, simulator: Any, throttle_status: int
) -> None:
    from tests.conftest import connect_user

    simulator.config.hwm = 200.0
    simulator.config.throttle_status = throttle_status
    simulator.config.latency = 0.05
    user, student = connect_user(app, simulator, email="tight@example.edu", token="tok-tight",
                                 preset="senior", seed=2)

    with another_program_on_the_token(simulator.base_url, "tok-tight", seconds=2.0):
        run = run_job(user.id)

    assert_succeeded(run)
    assert_db_matches(user, student)
    assert run.summary["throttled"] > 0, "the sync's own requests were throttled"
    assert {r.status for r in simulator.stats.records} <= {200, throttle_status}


# --- Canvas unreachable or too slow: failed, quickly, nothing touched ---------------------------

def test_unreachable_canvas_fails_quickly_and_changes_nothing(synced: Any) -> None:
    user, student = synced
    before = table_rows()
    change_every_course(student)
    port = closed_port()
    only_connection(user).base_url = f"http://127.0.0.1:{port}"  # the same Canvas, moved
    db.session.commit()

    started = time.monotonic()
    run = run_job(user.id)

    assert time.monotonic() - started < BOUND_S
    assert_failed_clearly(run, "cannot reach canvas", f"127.0.0.1:{port}")
    assert table_rows() == before


def test_canvas_slower_than_the_timeout_fails_quickly_and_changes_nothing(
    synced: Any, simulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    user, student = synced
    before = table_rows()
    change_every_course(student)
    # The client a sync builds from the stored token, with a read timeout of 0.3 s.
    real = canvas_api_service.CanvasAPIService

    def short_read(*args: Any, options: ClientOptions | None = None, **kw: Any) -> Any:
        options = (options or ClientOptions()).replace(timeout=(2.0, 0.3))
        return real(*args, options=options, **kw)

    monkeypatch.setattr(canvas_api_service, "CanvasAPIService", short_read)
    simulator.config.slow_rate = 1.0
    simulator.config.slow_seconds = 1.5

    started = time.monotonic()
    run = run_job(user.id)

    assert time.monotonic() - started < BOUND_S
    assert_failed_clearly(run, "did not answer", "0.3 s")
    assert table_rows() == before


# --- the token dies mid-run --------------------------------------------------------------------

@pytest.mark.parametrize(("action", "word"), [("revoke_token", "revoked"),
                                              ("expire_token", "expired")])
@pytest.mark.slow
def test_token_dying_mid_run_stops_at_once_and_keeps_unfinished_courses(
    synced: Any, simulator: Any, one_fetch_at_a_time: None, action: str, word: str
) -> None:
    user, student = synced
    old = db_snapshot(user.id)
    change_every_course(student)
    simulator.config.latency = 0.3  # fetching is slower than writing: the writer keeps up
    simulator.reset_stats()
    died_at: list[float] = []

    def kill_the_token_after_two_courses(progress: Any) -> None:
        if progress.phase == "writing" and progress.courses_done == 2 and not died_at:
            # The moment first, then the death: a request refused in between still counts.
            died_at.append(time.monotonic())
            getattr(simulator, action)(TOKEN)

    run = run_job(user.id, progress=kill_the_token_after_two_courses)

    assert died_at, "the token died during the sync"
    assert_failed_clearly(run, word, "new token", "settings")
    after = [r for r in simulator.stats.records if r.end > died_at[0]]
    refused = [r for r in after if r.status == 401]
    # One refusal ends the sync: no retry of it, no request for the courses after it.
    assert len(refused) == 1, [(r.path, r.status) for r in after]
    assert len(after) <= 2, [(r.path, r.status) for r in after]

    expected, new = student.expected(), db_snapshot(user.id)
    order = fetch_order(simulator)
    for course_id in order[:2]:
        assert new[course_id] == expected[course_id]
    for course_id in expected:
        assert new[course_id] in (old[course_id], expected[course_id]), course_id
    unfinished = [c for c in expected if new[c] == old[c]]
    assert len(unfinished) >= len(expected) - 3

    # Reconnected (a working token again): the next sync is exact.
    simulator.restore_token(TOKEN)
    set_canvas_credentials(user, simulator.base_url, TOKEN)
    assert_succeeded(run_job(user.id, incremental=True))
    assert_db_matches(user, student)


# --- broken bodies -----------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["bad_json", "not_a_list"])
@pytest.mark.parametrize("where", ["course list", "gradebook"])
def test_malformed_pages_fail_naming_the_endpoint_and_change_nothing(
    synced: Any, simulator: Any, kind: str, where: str
) -> None:
    user, student = synced
    before = table_rows()
    change_every_course(student)
    first_course = sorted(student.expected())[0]
    if where == "course list":
        simulator.malform(r"^/api/v1/courses$", kind)
        endpoints = ["/api/v1/courses"]
    else:
        simulator.malform(r"^/api/v1/courses/\d+/assignment_groups$", kind)
        endpoints = [f"/api/v1/courses/{c}/assignment_groups" for c in student.expected()]

    run = run_job(user.id)

    assert_failed_clearly(run)
    assert any(e in run.error for e in endpoints), run.error
    assert table_rows() == before

    simulator.clear_faults()
    assert_succeeded(run_job(user.id, incremental=True))
    assert_db_matches(user, student)
    assert first_course in db_snapshot(user.id)


# --- two syncs of one user at once ------------------------------------------------------------

def course_list_requests(simulator: Any) -> int:
    """Syncs that talked to Canvas: each asks for the default course list once (and a full
    sync for the teacher-concluded courses, ``state[]=completed``, beside it)."""
    records = simulator.stats.by_path(r"^/api/v1/courses$")
    return len([r for r in records if "state[]" not in r.query])


def test_two_clicks_at_once_run_one_sync(app: Any, canvas_user: Any, simulator: Any) -> None:
    user, student = canvas_user
    user_id = user.id
    simulator.config.latency = 0.02
    barrier = threading.Barrier(2)
    started: list[int] = []

    def click() -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=10)
                started.append(jobs.start_sync(user_id)[0].id)
            finally:
                db.session.remove()

    runner = jobs.get_runner(app)
    try:
        threads = [threading.Thread(target=click) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert len(started) == 2 and started[0] == started[1], started
    finally:
        runner.shutdown(wait=True)

    db.session.expire_all()
    assert db.session.scalar(select(func.count(SyncRun.id))) == 1
    assert_succeeded(db.session.get(SyncRun, started[0]))
    assert course_list_requests(simulator) == 1, "exactly one sync talked to Canvas"
    assert_db_matches(user, student)


@pytest.mark.slow
def test_two_processes_at_once_run_one_sync(
    canvas_user: Any, simulator: Any, database_url: str, tmp_path: Path
) -> None:
    user, student = canvas_user
    simulator.config.latency = 0.02
    go = tmp_path / "go"
    env = {**os.environ, "SECRET_KEY": TEST_SECRET, "NO_PROXY": "127.0.0.1,localhost"}
    workers = [
        WorkerProcess("race", "--database-url", database_url, "--user-id", str(user.id),
                      "--go-file", str(go), env=env, log=tmp_path / f"worker{i}.log")
        for i in range(2)
    ]
    try:
        for worker in workers:
            assert worker.wait_for(lambda line: line == "READY", 60), worker.stderr()
        go.touch()
        outcomes = [w.wait_for(lambda line: line.split()[0] in ("RUN", "REFUSED"), 60)
                    for w in workers]
        codes = [w.finish(60) for w in workers]
    finally:
        for worker in workers:
            worker.close()

    assert codes == [0, 0], [w.stderr() for w in workers]
    assert sorted(o.split()[0] for o in outcomes) == ["REFUSED", "RUN"], outcomes
    assert len({o.split()[1] for o in outcomes}) == 1, "the refused one names the winner"
    winner = next(w for w, o in zip(workers, outcomes, strict=True) if o.startswith("RUN"))
    assert "RESULT succeeded null" in winner.lines, winner.lines
    db.session.expire_all()
    assert db.session.scalar(select(func.count(SyncRun.id))) == 1
    assert course_list_requests(simulator) == 1, "exactly one sync talked to Canvas"
    assert_db_matches(user, student)


# --- the token stays secret on every error path ------------------------------------------------

def test_failing_syncs_never_log_or_record_the_token(
    app: Any, simulator: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Retries, throttles, timeouts, bad bodies and a dead token: the token appears nowhere."""
    import logging

    from tests.conftest import connect_user

    secret = "7~SeCrEtToKeN0123456789abcdefghijklmnopqrstuvwxyzABCDEFGH"
    user, _student = connect_user(app, simulator, email="secret@example.edu", token=secret)
    caplog.set_level(logging.DEBUG)
    runs = []
    simulator.config.fault_5xx_rate, simulator.config.fault_drop_rate = 0.3, 0.1
    runs.append(run_job(user.id))
    simulator.clear_faults()
    simulator.malform(r"^/api/v1/courses$", "bad_json")
    runs.append(run_job(user.id))
    simulator.clear_faults()
    simulator.revoke_token(secret)
    runs.append(run_job(user.id))

    assert [r.status for r in runs][1:] == ["failed", "failed"]
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    recorded = "\n".join(f"{r.error} {r.message} {r.summary}" for r in runs)
    for text_ in (logged, recorded):
        assert secret not in text_ and secret[-12:] not in text_
