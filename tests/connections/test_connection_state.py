"""The connection is the unit of sync state (issue 19).

A student with two Canvas instances whose token at one is revoked keeps getting automatic
syncs of the other, on time; the revoked one is tried once and then waits for a new token.
The ledger's events name the run and the connection that saw them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app import jobs
from app.accounts import create_user
from app.connections import set_canvas_credentials
from app.extensions import db
from app.jobs.enqueue import enqueue_due
from app.models import CanvasConnection, SyncRun, utcnow
from tests.school_year import MIDTERM

TOKEN_A = "1~state-u-token-aaaaaaaa"
TOKEN_B = "2~city-college-token-bbbb"
TICK = timedelta(minutes=10)


@pytest.fixture
def second_simulator() -> Iterator[Any]:
    """Another Canvas instance: its own server."""
    from simulator import CanvasSimulator, SimulatorConfig

    with CanvasSimulator(SimulatorConfig()) as sim:
        yield sim


@pytest.fixture
def two_instances(app: Any, simulator: Any, second_simulator: Any) -> dict[str, Any]:
    """One account with hourly automatic syncs, connected to two simulators."""
    simulator.add_student(TOKEN_A, preset="freshman", seed=1)
    student_b = second_simulator.add_student(TOKEN_B, preset="freshman", seed=2)
    user = create_user("two@example.edu", "correct horse battery")
    conn_a = set_canvas_credentials(user, simulator.base_url, TOKEN_A)
    conn_b = set_canvas_credentials(user, second_simulator.base_url, TOKEN_B)
    conn_a.label, conn_b.label = "State U", "City College"
    user.sync_interval_minutes = 60
    db.session.commit()
    return {"user": user, "a": (conn_a.id, simulator), "b": (conn_b.id, student_b)}


def _run_inline(user_id: int, sync_run_id: int, incremental: bool) -> None:
    """The runner's ``submit``, done at once in this thread."""
    jobs.run_sync(user_id, sync_run_id, incremental)


def _ticks(pin_clock: Any, hours: int) -> list[SyncRun]:
    """A scheduler tick every 10 minutes of (pinned) time for ``hours``; the runs it started."""
    start = utcnow()
    started: list[SyncRun] = []
    for k in range(1, hours * 6 + 1):
        pin_clock(start + k * TICK)
        started += enqueue_due(_run_inline, now=utcnow(), tick=TICK)
    db.session.expire_all()
    return [db.session.get(SyncRun, run.id) for run in started]


@pytest.mark.clock(MIDTERM)
def test_a_revoked_connection_does_not_pause_the_other_ones_scheduled_syncs(
    two_instances: dict[str, Any], pin_clock: Any
) -> None:
    user = two_instances["user"]
    conn_a, sim_a = two_instances["a"]
    conn_b, _student_b = two_instances["b"]
    first = jobs.create_sync_run(user.id, incremental=False)
    assert jobs.run_sync(user.id, first.id, False).succeeded  # the student's first sync
    sim_a.revoke_token(TOKEN_A)

    runs = _ticks(pin_clock, hours=4)

    # One scheduled sync per hour, every hour: City College keeps syncing on time.
    assert len(runs) == 4
    gaps = {b.created_at - a.created_at for a, b in zip(runs, runs[1:], strict=False)}
    assert all(abs(gap - timedelta(hours=1)) < TICK for gap in gaps)  # the clock runs on
    db.session.expire_all()
    b = db.session.get(CanvasConnection, conn_b)
    assert b is not None and b.last_synced_at is not None
    assert b.last_synced_at >= runs[-1].created_at
    # State U is tried once (and named); then it waits for a new token, and the runs succeed.
    assert runs[0].status == "failed" and (runs[0].error or "").startswith("State U:")
    assert [run.status for run in runs[1:]] == ["succeeded"] * 3
    outcomes = {o["connection_id"]: o["status"] for o in runs[-1].summary["outcomes"]}
    assert outcomes == {conn_a: "skipped", conn_b: "succeeded"}
    a = db.session.get(CanvasConnection, conn_a)
    assert a is not None and a.rejected and a.status == "needs_reconnect"


@pytest.mark.clock(MIDTERM)
def test_a_new_token_for_the_revoked_connection_is_synced_at_its_next_slot(
    two_instances: dict[str, Any], pin_clock: Any
) -> None:
    user = two_instances["user"]
    conn_a, sim_a = two_instances["a"]
    first = jobs.create_sync_run(user.id, incremental=False)
    assert jobs.run_sync(user.id, first.id, False).succeeded
    sim_a.revoke_token(TOKEN_A)
    assert len(_ticks(pin_clock, hours=1)) == 1  # finds the token refused

    sim_a.add_student("1~state-u-new-token-cccc", preset="freshman", seed=1)
    set_canvas_credentials(user, sim_a.base_url, "1~state-u-new-token-cccc")
    runs = _ticks(pin_clock, hours=1)

    assert [run.status for run in runs] == ["succeeded"]
    db.session.expire_all()
    a = db.session.get(CanvasConnection, conn_a)
    assert a is not None and not a.rejected and a.status == "ok"
    assert a.last_synced_at is not None and a.last_synced_at >= runs[0].created_at


@pytest.mark.clock(MIDTERM)
def test_events_name_their_run_and_connection_and_the_first_sync_is_each_baseline(
    two_instances: dict[str, Any],
) -> None:
    from app.models import GradeEvent

    user = two_instances["user"]
    conn_a, _sim_a = two_instances["a"]
    conn_b, student_b = two_instances["b"]
    first = jobs.create_sync_run(user.id, incremental=False)
    assert jobs.run_sync(user.id, first.id, False).succeeded
    db.session.expire_all()
    for connection_id in (conn_a, conn_b):
        connection = db.session.get(CanvasConnection, connection_id)
        assert connection is not None and connection.baseline_run_id == first.id
        assert connection.baseline_at == connection.last_synced_at
    assert db.session.scalars(select(GradeEvent)).all() == []  # the baseline records none

    course_id, assignment_id = student_b.any_assignment()
    student_b.grade(course_id, assignment_id, 1.0)
    second = jobs.create_sync_run(user.id, incremental=True)
    assert jobs.run_sync(user.id, second.id, True).succeeded

    events = db.session.scalars(select(GradeEvent)).all()
    assert events and {(e.sync_run_id, e.connection_id) for e in events} == {(second.id, conn_b)}
    db.session.expire_all()
    b = db.session.get(CanvasConnection, conn_b)
    assert b is not None and b.baseline_run_id == first.id  # the baseline stays the first
