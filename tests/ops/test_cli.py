"""The CLI contract: ``user create``, ``canvas connect/test/disconnect/sync`` (issue #2)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import TEST_SECRET, connect_user
from sqlalchemy import func, select

from app import jobs
from app.connections import get_canvas_token
from app.jobs import create_sync_run
from app.models import SyncRun, User
from tests.sync_helpers import assert_db_matches, only_connection

PASSWORD = "correct horse battery"
TOKEN = "9~cli-token-0123456789abcdef"
MEGABYTE = "m" * (1024 * 1024)
JSON_KEYS = {
    "status",
    "courses",
    "assignments",
    "requests",
    "throttled",
    "retries",
    "duration_s",
    "error",
    "connections",  # issue 14: how many Canvas connections the sync covered
}
REPO = Path(__file__).resolve().parents[2]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _assert_clean_failure(result, *phrases: str, exit_code: int = 1) -> None:
    """Exit non-zero with ONE 'Error: ...' line on stderr that says what went wrong."""
    assert result.exit_code == exit_code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    for phrase in phrases:
        assert phrase.lower() in lines[0].lower(), lines[0]
    assert "Traceback" not in result.output
    assert MEGABYTE not in result.output


def _last_json(result) -> dict:
    line = result.stdout.strip().splitlines()[-1]
    data = json.loads(line)
    assert set(data) == JSON_KEYS
    return data


def _create(runner, email="a@example.edu", password=PASSWORD):
    return runner.invoke(args=["user", "create", email, "--password", password])


def _connect(runner, simulator, email="a@example.edu", token=TOKEN, url=None):
    return runner.invoke(
        args=["canvas", "connect", email, "--url", url or simulator.base_url, "--token", token]
    )


def _users(db) -> int:
    return db.session.scalar(select(func.count()).select_from(User))


# --- user create ---------------------------------------------------------------------------


def test_user_create(runner, db):
    result = _create(runner, email="New.Student@Example.edu")
    assert result.exit_code == 0
    assert "Created user new.student@example.edu" in result.stdout
    user = db.session.scalar(select(User))
    assert user.email == "new.student@example.edu"
    assert user.check_password(PASSWORD) and PASSWORD not in user.password_hash


def test_user_create_asks_for_the_password_when_omitted(runner, db):
    result = runner.invoke(
        args=["user", "create", "a@example.edu"], input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert result.exit_code == 0
    assert PASSWORD not in result.output  # hidden input
    assert db.session.scalar(select(User)).check_password(PASSWORD)


def test_user_create_with_unicode(runner, db):
    assert _create(runner, email="élève@exemple.fr", password="mot de passe sûr 🙂").exit_code == 0
    assert db.session.scalar(select(User)).check_password("mot de passe sûr 🙂")


@pytest.mark.parametrize(
    ("email", "password", "phrase"),
    [
        ("", PASSWORD, "empty"),
        ("   ", PASSWORD, "empty"),
        ("not-an-email", PASSWORD, "not valid"),
        ("a@@example.edu", PASSWORD, "not valid"),
        ("nul\x00@example.edu", PASSWORD, "not valid"),
        (MEGABYTE + "@example.edu", PASSWORD, "too long"),
        ("a@example.edu", "", "at least 8"),
        ("a@example.edu", "short", "at least 8"),
        ("a@example.edu", MEGABYTE, "at most 256"),
    ],
    ids=[
        "empty",
        "blank",
        "malformed",
        "double-at",
        "nul",
        "1MB-email",
        "empty-password",
        "short-password",
        "1MB-password",
    ],
)
def test_user_create_bad_input(runner, db, email, password, phrase):
    _assert_clean_failure(_create(runner, email=email, password=password), phrase)
    assert _users(db) == 0


def test_user_create_twice(runner, db):
    _create(runner)
    _assert_clean_failure(_create(runner, email="A@EXAMPLE.EDU"), "already exists")
    assert _users(db) == 1


# --- canvas connect / test / disconnect ------------------------------------------------------


def test_connect_against_the_simulator(runner, db, simulator):
    student = simulator.add_student(TOKEN)
    _create(runner)
    result = _connect(runner, simulator)
    assert result.exit_code == 0, result.output
    assert f"as {student.name}" in result.stdout
    assert TOKEN not in result.output
    user = db.session.scalar(select(User))
    connection = only_connection(user)
    assert connection.base_url == simulator.base_url
    assert connection.canvas_user_id == student.user_id
    assert get_canvas_token(user) == TOKEN


def test_connect_with_a_rejected_token_exits_non_zero(runner, db, simulator):
    simulator.add_student(TOKEN)
    _create(runner)
    result = _connect(runner, simulator, token="9~not-the-token")
    _assert_clean_failure(result, "rejected", "token")
    assert only_connection(db.session.scalar(select(User))) is None


def test_connect_with_a_revoked_token_exits_non_zero(runner, db, simulator):
    simulator.add_student(TOKEN)
    simulator.revoke_token(TOKEN)
    _create(runner)
    _assert_clean_failure(_connect(runner, simulator), "rejected")


def test_connect_unknown_email(runner, simulator):
    _assert_clean_failure(_connect(runner, simulator, email="ghost@example.edu"), "no account")


def test_connect_when_canvas_is_down(runner, db):
    _create(runner)
    result = _connect(runner, None, url=f"http://127.0.0.1:{_closed_port()}")
    _assert_clean_failure(result, "cannot reach canvas")


@pytest.mark.parametrize(
    ("url", "token", "phrase"),
    [
        ("", TOKEN, "empty"),
        ("not a url", TOKEN, "malformed"),
        ("https://" + "a" * 300 + ".edu", TOKEN, "too long"),
        (MEGABYTE, TOKEN, "too long"),
        ("{url}", "", "empty"),
        ("{url}", "two words", "characters a token never has"),
        ("{url}", "tökén", "characters a token never has"),
        ("{url}", MEGABYTE, "too long"),
    ],
    ids=[
        "empty-url",
        "words",
        "300-char-url",
        "1MB-url",
        "empty-token",
        "space-token",
        "unicode-token",
        "1MB-token",
    ],
)
def test_connect_bad_input(runner, db, simulator, url, token, phrase):
    _create(runner)
    url = url.replace("{url}", simulator.base_url)
    result = runner.invoke(
        args=["canvas", "connect", "a@example.edu", "--url", url, "--token", token]
    )
    _assert_clean_failure(result, phrase)
    assert only_connection(db.session.scalar(select(User))) is None


def test_canvas_test_and_disconnect(runner, db, simulator):
    student = simulator.add_student(TOKEN)
    _create(runner)
    _connect(runner, simulator)
    result = runner.invoke(args=["canvas", "test", "a@example.edu"])
    assert result.exit_code == 0 and student.name in result.stdout

    simulator.expire_token(TOKEN)
    _assert_clean_failure(runner.invoke(args=["canvas", "test", "a@example.edu"]), "rejected")

    result = runner.invoke(args=["canvas", "disconnect", "a@example.edu"])
    assert result.exit_code == 0
    # The token is gone; the connection stays (status "disconnected") so the grades synced
    # through it stay labelled with their Canvas.
    connection = only_connection(db.session.scalar(select(User)))
    assert connection.access_token_encrypted is None and connection.status == "disconnected"
    assert get_canvas_token(connection) is None
    _assert_clean_failure(runner.invoke(args=["canvas", "test", "a@example.edu"]), "not connected")


# --- canvas sync -----------------------------------------------------------------------------


def test_sync_json_contract(app, runner, db, simulator):
    user, student = connect_user(app, simulator, email="a@example.edu", token=TOKEN)
    result = runner.invoke(args=["canvas", "sync", "a@example.edu", "--json"])
    assert result.exit_code == 0, result.output
    data = _last_json(result)
    expected = student.expected()
    assert data["status"] == "succeeded"
    assert data["error"] is None
    assert data["courses"] == len(expected)
    assert data["assignments"] == sum(len(c["assignments"]) for c in expected.values())
    assert data["requests"] > 0
    assert isinstance(data["duration_s"], float)
    assert_db_matches(user, student)
    run = db.session.scalar(select(SyncRun))
    assert run.status == "succeeded" and run.kind == "full"


def test_sync_readable_summary_then_incremental(app, runner, db, simulator):
    user, student = connect_user(app, simulator, email="a@example.edu", token=TOKEN)
    result = runner.invoke(args=["canvas", "sync", "a@example.edu"])
    assert result.exit_code == 0, result.output
    assert f"Synced a@example.edu: {len(student.expected())} courses" in result.stdout
    assert "{" not in result.stdout  # no JSON without --json

    course_id, assignment_id = student.any_assignment()
    student.grade(course_id, assignment_id, 7.5)
    result = runner.invoke(args=["canvas", "sync", "a@example.edu", "--incremental", "--json"])
    assert result.exit_code == 0, result.output
    assert _last_json(result)["status"] == "succeeded"
    assert_db_matches(user, student)
    kinds = db.session.scalars(select(SyncRun.kind).order_by(SyncRun.id)).all()
    assert kinds == ["full", "incremental"]


def test_sync_with_a_revoked_token_fails_cleanly(app, runner, db, simulator):
    connect_user(app, simulator, email="a@example.edu", token=TOKEN)
    simulator.revoke_token(TOKEN)
    result = runner.invoke(args=["canvas", "sync", "a@example.edu", "--json"])
    assert result.exit_code == 1
    data = _last_json(result)
    assert data["status"] == "failed"
    assert "token" in data["error"].lower()
    _assert_clean_failure(result, "sync failed")
    assert db.session.scalar(select(SyncRun.status)) == "failed"


def test_sync_when_canvas_is_down_fails_cleanly(app, runner, db, simulator):
    user, _ = connect_user(app, simulator, email="a@example.edu", token=TOKEN)
    only_connection(user).base_url = f"http://127.0.0.1:{_closed_port()}"
    db.session.commit()
    result = runner.invoke(args=["canvas", "sync", "a@example.edu"])
    _assert_clean_failure(result, "sync failed")


@pytest.mark.parametrize(
    ("args", "phrase"),
    [
        (["ghost@example.edu"], "no account"),
        (["not-an-email"], "no account"),
        (["b@example.edu"], "not connected"),
    ],
)
def test_sync_expected_failures(runner, args, phrase):
    _create(runner, email="b@example.edu")
    _assert_clean_failure(runner.invoke(args=["canvas", "sync", *args]), phrase)
    result = runner.invoke(args=["canvas", "sync", *args, "--json"])
    assert result.exit_code == 1
    assert _last_json(result)["status"] == "failed"


def test_sync_refuses_while_a_sync_is_running(app, runner, db, simulator):
    user, _ = connect_user(app, simulator, email="a@example.edu", token=TOKEN)
    active = create_sync_run(user.id, incremental=False)
    result = runner.invoke(args=["canvas", "sync", "a@example.edu"])
    _assert_clean_failure(result, "already", str(active.id))
    assert db.session.scalar(select(func.count()).select_from(SyncRun)) == 1


@pytest.mark.parametrize("args", [[], ["a@example.edu", "--all"]])
def test_sync_usage_errors(runner, args):
    result = runner.invoke(args=["canvas", "sync", *args])
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_sync_all_waits_for_every_connected_user(app, runner, db, simulator):
    first, first_student = connect_user(app, simulator, email="a@example.edu", token=TOKEN)
    second, second_student = connect_user(
        app, simulator, email="b@example.edu", token=TOKEN + "-2", seed=1
    )
    _create(runner, email="unconnected@example.edu")
    result = runner.invoke(args=["canvas", "sync", "--all"])
    assert result.exit_code == 0, result.output
    assert "a@example.edu" in result.stdout and "b@example.edu" in result.stdout
    assert "2 of 2 sync(s) succeeded" in result.stdout
    assert_db_matches(first, first_student)
    assert_db_matches(second, second_student)


def test_sync_all_exits_non_zero_when_one_fails(app, runner, db, simulator):
    connect_user(app, simulator, email="a@example.edu", token=TOKEN)
    connect_user(app, simulator, email="b@example.edu", token=TOKEN + "-2", seed=1)
    simulator.revoke_token(TOKEN + "-2")
    result = runner.invoke(args=["canvas", "sync", "--all", "--incremental"])
    assert result.exit_code == 1
    assert "1 of 2 sync(s) succeeded" in result.stdout
    assert "sync failed for b@example.edu" in result.stderr


def test_sync_all_with_nobody_connected(runner):
    result = runner.invoke(args=["canvas", "sync", "--all"])
    assert result.exit_code == 0
    assert "nothing to sync" in result.stdout


# --- The real `flask` command ----------------------------------------------------------------


@pytest.mark.slow
def test_the_flask_command_end_to_end(app, database_url, simulator):
    """What an operator types: separate processes, the --json line last on stdout."""
    student = simulator.add_student(TOKEN)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": TEST_SECRET,
        "CANVAS_ALLOW_PRIVATE_HOSTS": "1",
        "NO_PROXY": "127.0.0.1,localhost",
    }

    def flask(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "flask", "--app", "app", *args],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    created = flask("user", "create", "cli@example.edu", "--password", PASSWORD)
    assert created.returncode == 0, created.stderr
    rejected = flask(
        "canvas", "connect", "cli@example.edu", "--url", simulator.base_url, "--token", "9~wrong"
    )
    assert rejected.returncode != 0
    assert "rejected" in rejected.stderr and "Traceback" not in rejected.stderr
    connected = flask(
        "canvas", "connect", "cli@example.edu", "--url", simulator.base_url, "--token", TOKEN
    )
    assert connected.returncode == 0, connected.stderr
    synced = flask("canvas", "sync", "cli@example.edu", "--json")
    assert synced.returncode == 0, synced.stderr
    data = json.loads(synced.stdout.strip().splitlines()[-1])
    assert set(data) == JSON_KEYS
    assert data["status"] == "succeeded"
    assert data["courses"] == len(student.expected())


def test_sync_all_leaves_another_process_s_running_sync_alone(app, runner, db, simulator):
    """A run another live process is running must not be marked interrupted by the CLI."""
    busy, _ = connect_user(app, simulator, email="busy@example.edu", token=TOKEN)
    free, free_student = connect_user(
        app, simulator, email="free@example.edu", token=TOKEN + "-2", seed=1
    )
    running = create_sync_run(busy.id, incremental=False)
    running.status = "running"
    # Started by a server process that was up before this CLI process.
    running.created_at = jobs.PROCESS_STARTED_AT - timedelta(minutes=5)
    db.session.commit()
    result = runner.invoke(args=["canvas", "sync", "--all"])
    assert result.exit_code == 0, result.output
    assert f"Sync run {running.id} for busy@example.edu: running (already active" in result.stdout
    db.session.refresh(running)
    assert running.status == "running"
    assert_db_matches(free, free_student)


def test_ctrl_c_marks_the_run_interrupted(app, runner, db, simulator, monkeypatch):
    connect_user(app, simulator, email="a@example.edu", token=TOKEN)
    real_run_sync = jobs.run_sync

    def interrupted(user_id, run_id, incremental, progress=None):
        def stop(update):
            raise KeyboardInterrupt

        return real_run_sync(user_id, run_id, incremental, progress=stop)

    monkeypatch.setattr(jobs, "run_sync", interrupted)
    result = runner.invoke(args=["canvas", "sync", "a@example.edu"])
    assert result.exit_code == 130
    assert "interrupted" in result.stderr
    run = db.session.scalar(select(SyncRun))
    db.session.refresh(run)
    assert run.status == "interrupted"
    assert run.finished_at is not None


def test_connect_reads_the_token_from_the_environment_or_a_hidden_prompt(runner, db, simulator):
    """Operators can keep the token out of shell history and `ps`."""
    simulator.add_student(TOKEN)
    _create(runner)
    args = ["canvas", "connect", "a@example.edu", "--url", simulator.base_url]
    from_env = runner.invoke(args=args, env={"GRADESYNC_CANVAS_TOKEN": TOKEN})
    assert from_env.exit_code == 0, from_env.output
    runner.invoke(args=["canvas", "disconnect", "a@example.edu"])
    prompted = runner.invoke(args=args, input=f"{TOKEN}\n")
    assert prompted.exit_code == 0, prompted.output
    assert TOKEN not in prompted.output
    user = db.session.scalar(select(User))
    db.session.refresh(user)
    assert get_canvas_token(user) == TOKEN


def test_canvas_connect_after_disconnect_is_connected_again(runner, db, simulator):
    simulator.add_student(TOKEN)
    _create(runner)
    _connect(runner, simulator)
    assert runner.invoke(args=["canvas", "disconnect", "a@example.edu"]).exit_code == 0
    _connect(runner, simulator)
    listing = runner.invoke(args=["canvas", "connections", "a@example.edu", "--json"])
    assert listing.exit_code == 0, listing.output
    assert [row["status"] for row in json.loads(listing.stdout)] == ["ok"]
    result = runner.invoke(args=["canvas", "test", "a@example.edu"])
    assert result.exit_code == 0, result.output


def test_a_token_saved_for_100_days_shows_100_days_left(runner, db, simulator):
    simulator.add_student(TOKEN)
    _create(runner)
    result = runner.invoke(args=["canvas", "connect", "a@example.edu", "--url",
                                 simulator.base_url, "--token", TOKEN, "--expires-in-days", "100"])
    assert result.exit_code == 0, result.output
    listing = runner.invoke(args=["canvas", "connections", "a@example.edu", "--json"])
    assert [row["days_left"] for row in json.loads(listing.stdout)] == [100]
