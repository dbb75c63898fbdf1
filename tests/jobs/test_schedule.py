"""Automatic syncs: who is due when (a fake clock), one tick against the database, and
``flask scheduler run --once`` syncing real simulated students."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from app.extensions import db
from app.jobs.enqueue import enqueue_due
from app.jobs.schedule import (
    Account,
    ConnectionState,
    LastRun,
    current_slot_start,
    due_accounts,
    is_due,
)
from app.models import CanvasConnection, SyncRun, User
from tests.conftest import connect_user
from tests.school_year import MIDTERM
from tests.sync_helpers import add_fake_connection

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
TICK = timedelta(seconds=30)


def simulate(account: Account, start: datetime, hours: float) -> list[datetime]:
    """Tick every 30 s for ``hours``; each time the account is due, a sync runs (1 minute)."""
    started = []
    now = start
    while now < start + timedelta(hours=hours):
        if is_due(account, now):
            started.append(now)
            account = Account(
                account.user_id, account.interval_minutes,
                LastRun("succeeded", created_at=now, finished_at=now + timedelta(minutes=1)),
                account.connections,
            )
        now += TICK
    return started


def synced_at(when: datetime, status: str = "succeeded") -> LastRun:
    return LastRun(status, created_at=when, finished_at=when + timedelta(minutes=1))


def saved(token_changed_at: datetime | None, rejected_at: datetime | None = None
          ) -> tuple[ConnectionState, ...]:
    """One connection whose token was saved at ``token_changed_at`` (refused at ...)."""
    return (ConnectionState(token_changed_at=token_changed_at, rejected_at=rejected_at),)


@pytest.mark.parametrize(("minutes", "hours", "expected"), [
    (60, 5, 5),      # hourly: once an hour
    (15, 2, 8),      # every 15 minutes
    (1440, 72, 3),   # daily
    (0, 48, 0),      # off: never
])
def test_accounts_sync_once_per_interval(minutes: int, hours: int, expected: int) -> None:
    account = Account(7, minutes, synced_at(T0 - timedelta(seconds=1)))
    starts = simulate(account, T0, hours)
    assert len(starts) == expected
    gaps = {b - a for a, b in zip(starts, starts[1:], strict=False)}
    # Always the account's own slot: exactly one interval apart, to the tick.
    assert gaps <= {timedelta(minutes=minutes)}


def test_a_recent_click_counts_as_the_slots_sync() -> None:
    slot = current_slot_start(7, 60, T0)
    assert is_due(Account(7, 60, synced_at(slot - timedelta(minutes=1))), T0)
    # The student clicked Sync after the slot began: nothing to do until the next slot.
    assert not is_due(Account(7, 60, synced_at(slot + timedelta(seconds=1))), T0)
    assert is_due(Account(7, 60, synced_at(slot + timedelta(seconds=1))),
                  slot + timedelta(hours=1))


def test_a_thousand_accounts_start_spread_over_the_hour() -> None:
    # Everyone synced at the same moment (say, a deploy ran `canvas sync --all`).
    accounts = [Account(user_id, 60, synced_at(T0)) for user_id in range(1, 1001)]
    first_due: dict[int, datetime] = {}
    now = T0 + TICK
    while now <= T0 + timedelta(hours=1):
        for account in accounts:
            if account.user_id not in first_due and is_due(account, now):
                first_due[account.user_id] = now
        now += TICK
    assert len(first_due) == 1000  # every account within its hour
    per_tick = Counter(first_due.values())
    assert max(per_tick.values()) <= 25  # ~8 a tick on average, never a stampede
    per_ten_minutes = Counter((when - T0) // timedelta(minutes=10) for when in first_due.values())
    assert all(120 <= per_ten_minutes[slot] <= 215 for slot in range(6)), per_ten_minutes


def test_after_an_outage_the_backlog_drains_without_a_stampede() -> None:
    # The scheduler was down for three hours: every hourly account is overdue at once.
    last = {user_id: T0 - timedelta(hours=3, minutes=user_id % 50) for user_id in range(1, 1001)}
    accounts = {user_id: Account(user_id, 60, synced_at(when)) for user_id, when in last.items()}
    first = due_accounts(accounts.values(), T0, TICK)
    assert 0 < len(first) <= 25  # ~3x the steady 8 a tick
    assert [last[user_id] for user_id in first] == sorted(last.values())[: len(first)]  # stalest
    now, synced = T0, set()
    while len(synced) < 1000 and now < T0 + timedelta(hours=1):
        for user_id in due_accounts(accounts.values(), now, TICK):
            accounts[user_id] = Account(user_id, 60, synced_at(now))
            synced.add(user_id)
        now += TICK
    assert len(synced) == 1000 and now - T0 <= timedelta(minutes=25)


def test_new_connections_wait_for_their_slot_instead_of_starting_together() -> None:
    accounts = [Account(user_id, 60, None, saved(T0)) for user_id in range(1, 201)]
    assert sum(is_due(account, T0 + TICK) for account in accounts) <= 10
    assert all(is_due(account, T0 + timedelta(hours=1)) for account in accounts)


@pytest.mark.parametrize("status", ["queued", "running"])
def test_an_active_run_is_skipped(status: str) -> None:
    account = Account(7, 15, LastRun(status, created_at=T0 - timedelta(days=2)))
    assert simulate(account, T0, 3) == []


def test_a_rejected_token_is_not_retried_until_it_changes() -> None:
    failed = synced_at(T0, "failed")
    refused = T0 + timedelta(minutes=1)
    account = Account(7, 60, failed, saved(T0 - timedelta(days=30), refused))
    assert simulate(account, T0 + TICK, 72) == []
    # The student pastes a new token in Settings: the 5-hour-old data syncs at the next tick,
    # then hourly again.
    reconnected = Account(7, 60, failed, saved(T0 + timedelta(hours=5), refused))
    starts = simulate(reconnected, T0 + timedelta(hours=5), 3)
    assert starts[0] == T0 + timedelta(hours=5) and len(starts) == 4


def test_other_failures_are_retried_at_the_next_slot() -> None:
    account = Account(7, 60, synced_at(T0, "failed"), saved(T0 - timedelta(days=1)))
    assert len(simulate(account, T0 + TICK, 3)) == 3


# --- One tick against the database -----------------------------------------------------------

def _add_run(user_id: int, status: str, created_at: datetime,
             error_kind: str | None = None) -> None:
    db.session.add(SyncRun(
        user_id=user_id, kind="full", status=status, created_at=created_at,
        finished_at=None if status in ("queued", "running") else created_at,
        summary={"status": status, "error_kind": error_kind},
    ))
    db.session.commit()


def _user(email: str, interval: int = 60) -> User:
    from app.accounts import create_user

    user = create_user(email, "correct horse battery")
    # Connected, as far as the scheduler can tell (no syncs run in these tests).
    connection = add_fake_connection(user, "https://school.instructure.com", b"ciphertext")
    user.sync_interval_minutes = interval
    connection.token_changed_at = T0 - timedelta(days=10)
    db.session.commit()
    return user


def test_a_tick_queues_incremental_syncs_for_exactly_the_due_accounts(app: Any) -> None:
    long_ago = T0 - timedelta(days=1)
    due = _user("due@example.edu")
    _add_run(due.id, "succeeded", long_ago)
    never = _user("never@example.edu")
    never.connections[0].token_changed_at = None  # connected before automatic syncs existed
    db.session.commit()
    off = _user("off@example.edu", interval=0)
    _add_run(off.id, "succeeded", long_ago)
    busy = _user("busy@example.edu")
    _add_run(busy.id, "succeeded", long_ago)
    _add_run(busy.id, "running", T0 - timedelta(hours=3))
    rejected = _user("rejected@example.edu")
    _add_run(rejected.id, "failed", long_ago, "invalid_token")
    db.session.execute(update(CanvasConnection).where(CanvasConnection.user_id == rejected.id)
                       .values(rejected_at=long_ago))  # what that run recorded
    recent = _user("recent@example.edu")
    _add_run(recent.id, "succeeded", T0 - timedelta(seconds=5))
    from app.accounts import create_user
    create_user("unconnected@example.edu", "correct horse battery")

    submitted: list[tuple[int, int, bool]] = []
    runs = enqueue_due(lambda *args: submitted.append(args), now=T0)

    assert sorted(run.user_id for run in runs) == sorted([due.id, never.id])
    assert all(run.kind == "incremental" and run.status == "queued" for run in runs)
    assert sorted(submitted) == sorted((run.user_id, run.id, True) for run in runs)
    # Their runs are active now: the next tick starts nothing.
    assert enqueue_due(lambda *args: submitted.append(args), now=T0 + TICK) == []
    assert len(submitted) == 2


def test_one_course_synced_does_not_put_off_the_automatic_sync(app: Any) -> None:
    """'Sync this course' refreshed one course: the others still get their hourly sync."""
    student = _user("one-course@example.edu")
    _add_run(student.id, "succeeded", T0 - timedelta(days=1))
    db.session.add(SyncRun(user_id=student.id, kind="course", status="succeeded",
                           created_at=T0 - timedelta(seconds=5), finished_at=T0,
                           summary={"status": "succeeded", "course_id": 1}))
    db.session.commit()

    runs = enqueue_due(lambda *args: None, now=T0)

    assert [run.user_id for run in runs] == [student.id]


def test_a_broker_outage_fails_the_scheduled_run_visibly(app: Any) -> None:
    user = _user("due@example.edu")
    _add_run(user.id, "succeeded", T0 - timedelta(days=1))

    def broker_down(*_args: Any) -> None:
        raise ConnectionError("redis is down")

    assert enqueue_due(broker_down, now=T0) == []
    newest = db.session.scalars(select(SyncRun).order_by(SyncRun.id.desc())).first()
    assert newest is not None and newest.status == "failed"
    assert "job queue is unavailable" in (newest.error or "")


# --- flask scheduler run --once, against the simulator ----------------------------------------

def test_scheduler_run_once_syncs_the_due_students(app: Any, runner: Any, simulator: Any) -> None:
    users = [connect_user(app, simulator, email=f"s{i}@example.edu", token=f"tok-s{i}",
                          seed=i)[0] for i in range(3)]
    users[2].sync_interval_minutes = 0  # this one turned automatic syncs off
    db.session.commit()
    # Each synced (fully) two hours ago.
    for user in users:
        result = runner.invoke(args=["canvas", "sync", user.email, "--json"])
        assert result.exit_code == 0, result.output
    db.session.execute(update(SyncRun).values(created_at=T0 - timedelta(hours=2)))
    db.session.commit()

    result = runner.invoke(args=["scheduler", "run", "--once"])

    assert result.exit_code == 0, result.output
    assert "2 of 2 scheduled sync(s) succeeded." in result.output
    db.session.expire_all()
    scheduled = db.session.scalars(select(SyncRun).where(SyncRun.kind == "incremental")).all()
    assert sorted(run.user_id for run in scheduled) == [users[0].id, users[1].id]
    assert {run.status for run in scheduled} == {"succeeded"}
    assert all(run.summary and run.summary.get("courses", 0) > 0 for run in scheduled)

    # Everyone is up to date: a second tick starts nothing.
    again = runner.invoke(args=["scheduler", "run", "--once"])
    assert again.exit_code == 0 and "No account is due" in again.output


@pytest.mark.clock(MIDTERM)  # needs a term in progress with graded work
def test_a_scheduled_run_spares_the_progress_row_and_says_it_was_automatic(
    app: Any, client: Any, simulator: Any
) -> None:
    """Nobody watches a scheduled run: its row is written at most once a second, where a
    clicked run's row shows each phase as it starts; both finished runs keep every course
    step, and the history says which was automatic."""
    from sqlalchemy import event

    from app.jobs.runs import create_sync_run, run_sync
    from tests.auth_actions import sign_in

    user, student = connect_user(app, simulator, email="s@example.edu", token="tok-s",
                                 preset="senior")
    courses = len(student.expected())
    progress_writes: list[str] = []  # the phase each progress write stored
    took: list[float] = []

    def count(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE SYNC_RUN SET PHASE"):
            values = parameters.values() if isinstance(parameters, dict) else parameters
            progress_writes.append(next(iter(values)))

    def one_run(incremental: bool = True, **kwargs: Any) -> SyncRun:
        run = create_sync_run(user.id, incremental, **kwargs)
        progress_writes.clear()
        event.listen(db.engine, "before_cursor_execute", count)
        started = time.monotonic()
        try:
            assert run_sync(user.id, run.id, incremental).succeeded
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        took.append(time.monotonic() - started)
        db.session.expire_all()
        return db.session.get(SyncRun, run.id)

    full = one_run(incremental=False)
    # A watched run: each phase reaches the row as it starts (course steps are coalesced to
    # a few a second; every one of them is in the summary the page plays back).
    assert {"fetching", "writing"} <= set(progress_writes)
    clicked = one_run()
    assert {"fetching", "writing"} <= set(progress_writes)
    scheduled = one_run(scheduled=True)

    assert len(full.summary["steps"]) == courses
    # The claim wrote the scheduled run's row; after it, at most one write a second.
    assert len(progress_writes) <= int(took[-1])
    assert scheduled.summary["trigger"] == "schedule"
    # The same courses, every one kept, numbered in the order their gradebooks arrived (which
    # differs from run to run, so courses and numbers are compared apart).
    def courses_of(run: SyncRun) -> list[str]:
        return sorted(step["name"] for step in run.summary["steps"])

    def numbers_of(run: SyncRun) -> list[tuple[int, int]]:
        return sorted((step["index"], step["total"]) for step in run.summary["steps"])

    assert courses_of(scheduled) == courses_of(clicked) != []
    assert numbers_of(scheduled) == numbers_of(clicked)
    sign_in(client, "s@example.edu")
    rows = client.get("/sync/history").get_data(as_text=True).split("<tr>")[1:]
    kinds = [row for row in rows if "Quick sync (changes only)" in row]
    assert len(kinds) == 2
    assert "automatic" in kinds[0] and "automatic" not in kinds[1]  # newest first


@pytest.mark.clock(MIDTERM)  # mid-afternoon UTC: the runs below are not the day's sweep
def test_a_no_change_scheduled_run_sends_at_most_six_statements(
    app: Any, simulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 20: the database load of the usual hourly run (nothing changed in Canvas) is
    every statement the worker sends for it, its alerts' thread included: the claim, the user
    with its usable connections, the sync's terms and courses, the connection's
    ``last_synced_at``, the run's end. Its alerts have nothing to do and cost none."""
    from sqlalchemy import event

    from app import alerts
    from app.jobs import runs
    from app.jobs.runs import create_sync_run, run_sync
    from app.jobs.tasks import run_sync_task

    monkeypatch.setattr(runs, "PRUNE_EVERY", 10**9)  # one run in 24 prunes: housekeeping
    # The benchmark's student (scheduled_load): 20 courses, none with grading periods (a
    # course with them adds one read of its stored periods, app.sync.periods).
    user, _student = connect_user(app, simulator, email="s@example.edu", token="tok-s",
                                  preset="student")
    user_id = user.id
    sent: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(" ".join(statement.split())[:100])

    def one_run(incremental: bool = True, scheduled: bool = True) -> SyncRun:
        run_id = create_sync_run(user_id, incremental, scheduled=scheduled).id
        sent.clear()
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            if scheduled:  # the worker's task body (app.jobs.tasks), as Celery runs it
                assert run_sync_task.run(user_id, run_id, incremental) == "succeeded"
            else:
                assert run_sync(user_id, run_id, incremental).succeeded
            assert alerts.outbox().wait_idle(30)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        db.session.expire_all()
        return db.session.get(SyncRun, run_id)

    one_run(incremental=False, scheduled=False)  # the baseline
    one_run()  # the first scheduled run after it
    quiet = one_run()

    assert quiet.status == "succeeded" and quiet.summary["trigger"] == "schedule"
    assert quiet.summary["courses"] > 0 and quiet.summary["courses_written"] == 0
    assert quiet.summary["events"] == 0
    assert len(sent) <= 6, "\n".join(sent)


def test_scheduler_run_once_backs_off_a_revoked_token(app: Any, runner: Any,
                                                       simulator: Any) -> None:
    user, _student = connect_user(app, simulator, email="s@example.edu", token="tok-s")
    assert runner.invoke(args=["canvas", "sync", user.email]).exit_code == 0
    db.session.execute(update(SyncRun).values(created_at=T0 - timedelta(hours=2)))
    db.session.commit()
    simulator.revoke_token("tok-s")

    first = runner.invoke(args=["scheduler", "run", "--once"])
    assert first.exit_code == 1
    assert "scheduled sync failed for s@example.edu" in first.output

    # Hours later the token is still the rejected one: no further attempts.
    db.session.execute(update(SyncRun).values(created_at=T0 - timedelta(hours=5),
                                              finished_at=T0 - timedelta(hours=5)))
    db.session.execute(update(CanvasConnection).values(token_changed_at=T0 - timedelta(days=1)))
    db.session.commit()
    later = runner.invoke(args=["scheduler", "run", "--once"])
    assert later.exit_code == 0 and "No account is due" in later.output


def test_old_scheduled_runs_are_pruned_but_not_a_persons_or_the_last_success(app: Any) -> None:
    from app.jobs.runs import prune_scheduled_runs

    user, other = _user("s@example.edu"), _user("other@example.edu")

    def add(owner: User, status: str, hours_ago: int, scheduled: bool = True) -> int:
        summary = {"trigger": "schedule"} if scheduled else {"courses": 3}
        run = SyncRun(user_id=owner.id, kind="incremental", status=status,
                      created_at=T0 - timedelta(hours=hours_ago),
                      finished_at=None if status == "running" else T0, summary=summary)
        db.session.add(run)
        db.session.commit()
        return run.id

    last_success = add(user, "succeeded", 30)
    clicked = add(user, "failed", 29, scheduled=False)
    old_failures = [add(user, "failed", hours) for hours in range(28, 20, -1)]
    newest = [add(user, "failed", hours) for hours in (3, 2)] + [add(user, "running", 1)]
    others = [add(other, "succeeded", hours) for hours in range(10, 0, -1)]

    assert prune_scheduled_runs(user.id, keep=3) == len(old_failures)
    assert prune_scheduled_runs(user.id, keep=3) == 0  # nothing left to prune

    left = set(db.session.scalars(select(SyncRun.id).where(SyncRun.user_id == user.id)))
    assert left == {last_success, clicked, *newest}
    assert set(db.session.scalars(select(SyncRun.id).where(SyncRun.user_id == other.id))) \
        == set(others)  # another student's history is theirs


def test_a_scheduled_run_prunes_its_students_history(
    app: Any, simulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.jobs import runs

    user, _student = connect_user(app, simulator, email="s@example.edu", token="tok-s")
    app.config["SCHEDULED_RUNS_KEPT"] = 2
    monkeypatch.setattr(runs, "PRUNE_EVERY", 1)
    for _ in range(4):
        run = runs.create_sync_run(user.id, True, scheduled=True)
        assert runs.run_sync(user.id, run.id, True).succeeded

    kept = db.session.scalars(select(SyncRun.id).where(SyncRun.user_id == user.id)).all()
    assert sorted(kept) == [run.id - 1, run.id]


def test_celery_beat_schedules_the_tick(app: Any) -> None:
    from app.jobs.tasks import ENQUEUE_DUE_TASK, celery_init_app

    app.config["CELERY_BROKER_URL"] = "memory://"
    celery = celery_init_app(app)
    entry = celery.conf.beat_schedule["gradesync-enqueue-due-syncs"]
    assert entry["task"] == ENQUEUE_DUE_TASK and ENQUEUE_DUE_TASK in celery.tasks
    assert entry["schedule"] == app.config["SCHEDULER_TICK_S"]

    # What a worker does with beat's message: queue each due account's incremental sync.
    from app.jobs.tasks import enqueue_due_syncs_task

    due = _user("due@example.edu")
    _add_run(due.id, "succeeded", T0 - timedelta(days=1))
    _user("off@example.edu", interval=0)
    assert enqueue_due_syncs_task.apply().get() == 1
    db.session.expire_all()
    queued = db.session.scalars(select(SyncRun).where(SyncRun.status == "queued")).all()
    assert [(run.user_id, run.kind) for run in queued] == [(due.id, "incremental")]


def test_the_app_factory_starts_no_scheduler(app: Any) -> None:
    from app.jobs.scheduler import SCHEDULER_KEY, start_scheduler

    assert SCHEDULER_KEY not in app.extensions
    app.config["SCHEDULER_ENABLED"] = False
    assert start_scheduler(app) is None


# --- The setting, in Settings ------------------------------------------------------------------

def test_settings_shows_and_changes_the_interval(app: Any, client: Any) -> None:
    from tests.auth_actions import AuthActions

    auth = AuthActions(client)
    auth.register()
    auth.login()
    page = client.get("/settings").get_data(as_text=True)
    assert 'data-schedule' in page
    assert '<option selected value="60">Every hour</option>' in page

    response = client.post("/settings/schedule", data={"interval": "15"})
    assert response.status_code == 302
    assert db.session.scalar(select(User.sync_interval_minutes)) == 15
    assert "Automatic syncs: every 15 minutes." in client.get("/settings").get_data(as_text=True)

    assert client.post("/settings/schedule", data={"interval": "0"}).status_code == 302
    db.session.expire_all()
    assert db.session.scalar(select(User.sync_interval_minutes)) == 0

    for junk in ("7", "99999", "hourly", ""):
        assert client.post("/settings/schedule", data={"interval": junk}).status_code == 400
    db.session.expire_all()
    assert db.session.scalar(select(User.sync_interval_minutes)) == 0


def test_the_in_process_scheduler_thread_syncs_a_due_student(
    app: Any, runner: Any, simulator: Any
) -> None:
    import time

    from app.jobs.scheduler import start_scheduler

    user, _student = connect_user(app, simulator, email="s@example.edu", token="tok-s")
    assert runner.invoke(args=["canvas", "sync", user.email]).exit_code == 0
    db.session.execute(update(SyncRun).values(created_at=T0 - timedelta(hours=2)))
    db.session.commit()

    app.config["SCHEDULER_TICK_S"] = 0.2
    thread = start_scheduler(app)
    assert thread is not None and thread.daemon
    try:
        deadline = time.monotonic() + 30
        status = None
        while time.monotonic() < deadline and status != "succeeded":
            time.sleep(0.2)
            db.session.rollback()
            status = db.session.scalar(
                select(SyncRun.status).where(SyncRun.kind == "incremental"))
        assert status == "succeeded"
        assert start_scheduler(app) is thread  # one scheduler per app
    finally:
        thread.stop()
        thread.join(timeout=10)
    # One scheduled sync for the slot, however many ticks ran.
    assert db.session.scalar(
        select(func.count()).select_from(SyncRun).where(SyncRun.kind == "incremental")) == 1
