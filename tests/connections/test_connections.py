"""Several Canvas instances per student (issue 14): connections as their own records.

Two real simulators hand out the same course ids; one account syncs both and must hold each
exactly, under its own connection. Removing or disconnecting one leaves the other alone; one
failing instance does not fail the other's data. The migration from the single connection of
the 0009 schema keeps every row and links it. The CLI adds, lists, disconnects and syncs
connections.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from app import jobs
from app.accounts import create_user
from app.connections import (
    build_client,
    get_canvas_token,
    remove_connection,
    set_canvas_credentials,
)
from app.extensions import db
from app.models import CanvasConnection, Course, Term, User, utcnow
from tests.auth_actions import AuthActions
from tests.dbtools import empty_database, engine_for, flask_db
from tests.sync_helpers import assert_db_matches, connections_of, db_snapshot

TOKEN_A = "1~state-u-token-aaaaaaaa"
TOKEN_B = "2~city-college-token-bbbb"


@pytest.fixture
def second_simulator() -> Iterator[Any]:
    """Another Canvas instance: its own server, the same id sequence as the first."""
    from simulator import CanvasSimulator, SimulatorConfig

    with CanvasSimulator(SimulatorConfig()) as sim:
        yield sim


@pytest.fixture
def two_instances(app: Any, simulator: Any, second_simulator: Any) -> dict[str, Any]:
    """One account connected to two simulators whose students share course ids."""
    student_a = simulator.add_student(TOKEN_A, preset="freshman", seed=1)
    student_b = second_simulator.add_student(TOKEN_B, preset="freshman", seed=2)
    user = create_user("two@example.edu", "correct horse battery")
    conn_a = set_canvas_credentials(user, simulator.base_url, TOKEN_A)
    conn_b = set_canvas_credentials(user, second_simulator.base_url, TOKEN_B)
    conn_a.label, conn_b.label = "State U", "City College"
    db.session.commit()
    return {
        "user": user,
        "a": (conn_a.id, student_a, simulator),
        "b": (conn_b.id, student_b, second_simulator),
    }


def _sync(user: Any) -> Any:
    run = jobs.create_sync_run(user.id, incremental=False)
    return jobs.run_sync(user.id, run.id, False)


def _courses(connection_id: int) -> int:
    db.session.expire_all()
    return db.session.scalar(
        select(func.count()).select_from(Course).where(Course.connection_id == connection_id)
    )


def test_the_two_instances_really_share_course_ids(two_instances: dict[str, Any]) -> None:
    """The premise of the tests below: without connections these rows would collide."""
    _, student_a, _ = two_instances["a"]
    _, student_b, _ = two_instances["b"]
    shared = set(student_a.expected()) & set(student_b.expected())
    assert len(shared) >= 3
    names_a = {cid: student_a.expected()[cid]["name"] for cid in shared}
    names_b = {cid: student_b.expected()[cid]["name"] for cid in shared}
    assert names_a != names_b  # the same ids name different courses


def test_one_sync_holds_both_instances_exactly(two_instances: dict[str, Any]) -> None:
    user = two_instances["user"]
    conn_a, student_a, _ = two_instances["a"]
    conn_b, student_b, _ = two_instances["b"]

    result = _sync(user)

    assert result.succeeded, result.error
    assert result["connections"] == 2
    assert result["courses"] == len(student_a.expected()) + len(student_b.expected())
    assert_db_matches(user, student_a, conn_a)
    assert_db_matches(user, student_b, conn_b)
    for connection in connections_of(user):
        assert connection.last_synced_at is not None and connection.status == "ok"

    again = _sync(user)  # a second sync changes nothing and duplicates nothing
    assert again.succeeded and again["courses_written"] == 0
    assert_db_matches(user, student_a, conn_a)
    assert_db_matches(user, student_b, conn_b)


def test_a_run_keeps_each_course_step_with_its_connection(
        app: Any, two_instances: dict[str, Any]) -> None:
    """Progress is data (issue 19): each course step names its connection and its place there;
    the page's line counts the whole run, across both instances."""
    from app.jobs.runs import MAX_STEPS
    from app.models import SyncRun
    from app.pages.sync.run_view import run_state

    user = two_instances["user"]
    run = jobs.create_sync_run(user.id, incremental=False)
    assert jobs.run_sync(user.id, run.id, False).succeeded
    db.session.expire_all()
    run = db.session.get_one(SyncRun, run.id)
    steps = run.summary["steps"]
    expected = {conn: {c["name"] for c in student.expected().values()}
                for conn, student, _ in (two_instances["a"], two_instances["b"])}
    total = sum(len(names) for names in expected.values())
    assert total <= MAX_STEPS and len(steps) == total
    for conn, names in expected.items():
        own = [step for step in steps if step["connection_id"] == conn]
        assert {step["name"] for step in own} == names
        assert sorted(step["index"] for step in own) == list(range(1, len(names) + 1))
        assert {step["total"] for step in own} == {len(names)}
    assert sorted(step["run_done"] for step in steps) == list(range(1, total + 1))
    with app.test_request_context():
        lines = [step["line"] for step in run_state(run)["steps"]]
    assert lines[-1].endswith(f"— {total} of {total}") and lines[-1].startswith("Syncing ")


def test_each_instance_has_its_own_rate_limiter(two_instances: dict[str, Any]) -> None:
    client_a = build_client(db.session.get(CanvasConnection, two_instances["a"][0]))
    client_b = build_client(db.session.get(CanvasConnection, two_instances["b"][0]))
    try:
        assert client_a.limiter is not client_b.limiter
    finally:
        client_a.close()
        client_b.close()


def test_removing_one_instance_leaves_the_other(two_instances: dict[str, Any]) -> None:
    user = two_instances["user"]
    conn_a, _, _ = two_instances["a"]
    conn_b, student_b, _ = two_instances["b"]
    assert _sync(user).succeeded

    remove_connection(db.session.get(CanvasConnection, conn_a))

    assert _courses(conn_a) == 0
    assert db.session.scalar(
        select(func.count()).select_from(Term).where(Term.connection_id == conn_a)
    ) == 0
    assert_db_matches(user, student_b, conn_b)
    assert [c.id for c in connections_of(user)] == [conn_b]
    result = _sync(user)
    assert result.succeeded and result["connections"] == 1
    assert_db_matches(user, student_b)  # the whole account is now exactly instance B


def test_disconnecting_one_keeps_its_grades_and_syncs_the_other(
    app: Any, two_instances: dict[str, Any]
) -> None:
    user = two_instances["user"]
    conn_a, student_a, _ = two_instances["a"]
    conn_b, student_b, _ = two_instances["b"]
    assert _sync(user).succeeded
    before = db_snapshot(user.id, conn_a)

    runner = app.test_cli_runner()
    url_a = two_instances["a"][2].base_url
    out = runner.invoke(args=["canvas", "disconnect", "two@example.edu", "--url", url_a])
    assert out.exit_code == 0, out.output

    connection_a = db.session.get(CanvasConnection, conn_a)
    db.session.refresh(connection_a)
    assert connection_a.status == "disconnected" and get_canvas_token(connection_a) is None
    assert get_canvas_token(db.session.get(CanvasConnection, conn_b)) == TOKEN_B
    result = _sync(user)
    assert result.succeeded and result["connections"] == 1
    assert db_snapshot(user.id, conn_a) == before  # kept, read-only
    assert_db_matches(user, student_b, conn_b)


def test_a_refused_instance_fails_only_itself(two_instances: dict[str, Any]) -> None:
    user = two_instances["user"]
    conn_a, student_a, sim_a = two_instances["a"]
    conn_b, student_b, _ = two_instances["b"]
    assert _sync(user).succeeded
    kept = db_snapshot(user.id, conn_a)
    sim_a.revoke_token(TOKEN_A)
    student_b.expected()  # (B keeps answering)

    result = _sync(user)

    assert not result.succeeded
    assert result.error.startswith("State U:")  # names the connection to fix
    assert "City College" not in result.error
    assert_db_matches(user, student_b, conn_b)
    assert db_snapshot(user.id, conn_a) == kept  # a refused token never deletes data
    db.session.expire_all()
    assert db.session.get(CanvasConnection, conn_a).status == "needs_reconnect"
    assert db.session.get(CanvasConnection, conn_b).status == "ok"


def test_dashboard_labels_instances_and_names_the_one_to_reconnect(
    client: Any, two_instances: dict[str, Any]
) -> None:
    user = two_instances["user"]
    conn_a, _, sim_a = two_instances["a"]
    assert _sync(user).succeeded
    sim_a.revoke_token(TOKEN_A)
    _sync(user)
    AuthActions(client).login(email="two@example.edu")
    page = client.get("/").get_data(as_text=True)
    assert f'data-reconnect="{conn_a}"' in page
    assert "Canvas refused the token for <strong>State U</strong>" in page
    assert "City College" in page and "State U" in page  # course rows carry their label
    assert page.count("data-instance") == _courses(conn_a) + _courses(two_instances["b"][0])


def test_a_token_close_to_expiry_is_flagged(client: Any, app: Any, simulator: Any) -> None:
    simulator.add_student(TOKEN_A)
    user = create_user("soon@example.edu", "correct horse battery")
    connection = set_canvas_credentials(
        user, simulator.base_url, TOKEN_A, expires_at=utcnow() + timedelta(days=5, hours=1)
    )
    assert connection.status == "expiring"
    AuthActions(client).login(email="soon@example.edu")
    page = client.get("/").get_data(as_text=True)
    assert "expires in 5 days" in page
    far = set_canvas_credentials(
        user, simulator.base_url, TOKEN_A, expires_at=utcnow() + timedelta(days=60)
    )
    assert far.status == "ok"
    assert "expires in" not in client.get("/").get_data(as_text=True)


# --- the CLI ----------------------------------------------------------------------------------


def test_cli_connect_list_sync_and_disconnect_two_instances(
    app: Any, simulator: Any, second_simulator: Any
) -> None:
    student_a = simulator.add_student(TOKEN_A, seed=1)
    student_b = second_simulator.add_student(TOKEN_B, seed=2)
    runner = app.test_cli_runner()
    assert runner.invoke(
        args=["user", "create", "cli@example.edu", "--password", "correct horse battery"]
    ).exit_code == 0
    for sim, token, extra in (
        (simulator, TOKEN_A, ["--label", "State U", "--expires-in-days", "90"]),
        (second_simulator, TOKEN_B, []),
    ):
        out = runner.invoke(
            args=["canvas", "connect", "cli@example.edu", "--url", sim.base_url,
                  "--token", token, *extra]
        )
        assert out.exit_code == 0, out.output
        assert token not in out.output
    # Connecting the same URL again updates that connection instead of adding one.
    again = runner.invoke(
        args=["canvas", "connect", "cli@example.edu", "--url", simulator.base_url,
              "--token", TOKEN_A]
    )
    assert again.exit_code == 0, again.output

    listed = runner.invoke(args=["canvas", "connections", "cli@example.edu", "--json"])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)
    assert [r["url"] for r in rows] == [simulator.base_url, second_simulator.base_url]
    assert {r["kind"] for r in rows} == {"token"} and {r["status"] for r in rows} == {"ok"}
    assert all(r["last_synced_at"] is None for r in rows)
    assert TOKEN_A not in listed.output and TOKEN_B not in listed.output

    synced = runner.invoke(args=["canvas", "sync", "cli@example.edu", "--json"])
    assert synced.exit_code == 0, synced.output
    summary = json.loads(synced.stdout.strip().splitlines()[-1])
    assert summary["connections"] == 2
    assert summary["courses"] == len(student_a.expected()) + len(student_b.expected())
    assert summary["assignments"] == sum(
        len(c["assignments"])
        for s in (student_a, student_b)
        for c in s.expected().values()
    )
    rows = json.loads(
        runner.invoke(args=["canvas", "connections", "cli@example.edu", "--json"]).stdout
    )
    assert all(r["last_synced_at"] for r in rows)

    out = runner.invoke(
        args=["canvas", "disconnect", "cli@example.edu", "--url", second_simulator.base_url]
    )
    assert out.exit_code == 0, out.output
    rows = json.loads(
        runner.invoke(args=["canvas", "connections", "cli@example.edu", "--json"]).stdout
    )
    assert [r["status"] for r in rows] == ["ok", "disconnected"]
    synced = runner.invoke(args=["canvas", "sync", "cli@example.edu", "--json"])
    assert json.loads(synced.stdout.strip().splitlines()[-1])["connections"] == 1


def test_cli_test_with_several_connections_asks_which(
    app: Any, simulator: Any, second_simulator: Any
) -> None:
    simulator.add_student(TOKEN_A)
    second_simulator.add_student(TOKEN_B)
    user = create_user("which@example.edu", "correct horse battery")
    set_canvas_credentials(user, simulator.base_url, TOKEN_A)
    set_canvas_credentials(user, second_simulator.base_url, TOKEN_B)
    runner = app.test_cli_runner()
    out = runner.invoke(
        args=["canvas", "test", "which@example.edu", "--url", second_simulator.base_url]
    )
    assert out.exit_code == 0, out.output
    assert second_simulator.base_url in out.stdout
    missing = runner.invoke(
        args=["canvas", "disconnect", "which@example.edu", "--url", "https://nowhere.example.edu"]
    )
    assert missing.exit_code == 1
    assert "no Canvas connection for" in missing.stderr


# --- the migration ----------------------------------------------------------------------------


@pytest.fixture
def fresh_url(tmp_path: Path) -> Iterator[str]:
    with empty_database(tmp_path) as url:
        yield url


@pytest.mark.slow
def test_migration_moves_each_single_connection_and_keeps_every_row(  # 0009 -> 0010
    fresh_url: str, tmp_path: Path
) -> None:
    flask_db(fresh_url, tmp_path, "upgrade", "0009_alerts")
    engine = engine_for(fresh_url)
    big = 7 * 10**13 + 5  # a 64-bit Canvas id survives too
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO users (id, email, password_hash, failed_logins, created_at,"
            " canvas_base_url, canvas_token_encrypted, canvas_user_id, canvas_user_name,"
            " last_canvas_sync_at) VALUES"
            " (1, 'a@example.edu', 'x', 0, CURRENT_TIMESTAMP, 'https://a.example.edu',"
            " :cipher, 77, 'Ana', CURRENT_TIMESTAMP),"
            " (2, 'b@example.edu', 'x', 0, CURRENT_TIMESTAMP, NULL, NULL, NULL, NULL, NULL),"
            " (3, 'c@example.edu', 'x', 0, CURRENT_TIMESTAMP, NULL, NULL, NULL, NULL, NULL)"
        ), {"cipher": b"ciphertext-a"})
        conn.execute(text(
            "INSERT INTO term (id, user_id, canvas_term_id, name) VALUES"
            " (1, 1, 10, 'Fall'), (2, 2, 10, 'Fall')"
        ))
        conn.execute(text(
            "INSERT INTO course (id, user_id, term_id, canvas_course_id, name,"
            " apply_group_weights, concluded, has_weighted_grading_periods, hide_final_grades)"
            " VALUES (1, 1, 1, 101, 'Bio', false, false, false, false),"
            " (2, 1, NULL, :big, 'Chem', true, false, true, false),"
            " (3, 2, 2, 101, 'Économie', false, true, false, true)"
        ), {"big": big})
        conn.execute(text(
            "INSERT INTO grade_category (id, course_id, canvas_group_id, name, drop_lowest,"
            " drop_highest, never_drop) VALUES (1, 1, 5, 'HW', 0, 0, '[]'),"
            " (2, 3, 5, 'HW', 1, 0, '[]')"
        ))
        conn.execute(text(
            "INSERT INTO assignment (id, course_id, grade_category_id, canvas_assignment_id,"
            " canvas_course_id, name, omit_from_final_grade, is_excused, is_missing, is_late,"
            " score) VALUES (1, 1, 1, 900, 101, 'Lab', false, false, false, false, 9.5),"
            " (2, 3, 2, 900, 101, 'Essay', false, false, true, false, NULL)"
        ))
    flask_db(fresh_url, tmp_path, "upgrade")

    with engine.connect() as conn:
        connections = conn.execute(text(
            "SELECT id, user_id, base_url, access_token_encrypted, canvas_user_id,"
            " canvas_user_name, status, auth_kind, last_synced_at IS NOT NULL"
            " FROM canvas_connection ORDER BY user_id"
        )).all()
        assert [tuple(row[1:]) for row in connections] == [
            (1, "https://a.example.edu", b"ciphertext-a", 77, "Ana", "ok", "token", True),
            (2, None, None, None, None, "disconnected", "token", False),  # rows kept, no URL
        ]  # user 3 had nothing: no connection
        by_user = {row[1]: row[0] for row in connections}
        terms = conn.execute(
            text("SELECT id, user_id, connection_id, canvas_term_id FROM term ORDER BY id")
        ).all()
        assert terms == [(1, 1, by_user[1], 10), (2, 2, by_user[2], 10)]
        courses = conn.execute(text(
            "SELECT id, user_id, connection_id, canvas_course_id, name FROM course ORDER BY id"
        )).all()
        assert courses == [
            (1, 1, by_user[1], 101, "Bio"),
            (2, 1, by_user[1], big, "Chem"),
            (3, 2, by_user[2], 101, "Économie"),
        ]
        assert conn.execute(text("SELECT count(*) FROM grade_category")).scalar() == 2
        assert conn.execute(
            text("SELECT id, course_id, score FROM assignment ORDER BY id")
        ).all() == [(1, 1, 9.5), (2, 3, None)]
        user_columns = {
            row[1] if fresh_url.startswith("sqlite") else row[0]
            for row in conn.execute(
                text("PRAGMA table_info(users)") if fresh_url.startswith("sqlite") else text(
                    "SELECT column_name FROM information_schema.columns"
                    " WHERE table_name = 'users'"
                )
            )
        }
        assert "canvas_token_encrypted" not in user_columns  # the token lives in one place
    engine.dispose()


# --- the settings page ------------------------------------------------------------------------


def _settings(client: Any) -> str:
    return client.get("/settings").get_data(as_text=True)


def test_settings_adds_renames_tests_and_removes_connections(
    client: Any, app: Any, simulator: Any, second_simulator: Any
) -> None:
    student_a = simulator.add_student(TOKEN_A, seed=1)
    student_b = second_simulator.add_student(TOKEN_B, seed=2)
    AuthActions(client).register(email="web@example.edu")
    added = client.post("/settings", data={
        "url": simulator.base_url, "token": TOKEN_A, "label": "State U", "expires_in_days": "30",
    })
    assert added.status_code == 302
    assert client.post("/settings", data={
        "url": second_simulator.base_url, "token": TOKEN_B,
    }).status_code == 302
    page = _settings(client)
    assert page.count("data-connection=") == 2
    assert "State U" in page and second_simulator.base_url in page
    assert "It expires in 29 days" in page or "It expires in 30 days" in page
    assert "Expiry not recorded" in page  # the second one: Canvas does not say
    assert TOKEN_A not in page and TOKEN_B not in page

    owner = db.session.scalar(select(User).where(User.email == "web@example.edu"))
    conn_a, conn_b = (c.id for c in connections_of(owner))
    renamed = client.post(
        f"/settings/connections/{conn_b}/rename",
        data={"label": " City  College "},
        follow_redirects=True,
    )
    assert "Renamed to City College." in renamed.get_data(as_text=True)
    tested = client.post(f"/settings/connections/{conn_b}/test", follow_redirects=True)
    assert f"Canvas knows this token as {student_b.name}" in tested.get_data(as_text=True)

    assert _sync(owner).succeeded
    confirm = client.get(f"/settings/connections/{conn_a}/remove").get_data(as_text=True)
    assert "deleted" in confirm and "not touched" in confirm
    assert _courses(conn_a) > 0
    gone = client.post(f"/settings/connections/{conn_a}/remove", follow_redirects=True)
    assert "State U and the grades synced from it are removed." in gone.get_data(as_text=True)
    assert _courses(conn_a) == 0
    assert_db_matches(owner, student_b, conn_b)
    assert student_a.expected()  # (A still exists in Canvas; only GradeSync forgot it)
    assert _settings(client).count("data-connection=") == 1


def test_settings_shows_a_refused_token_as_needing_reconnect(
    client: Any, simulator: Any
) -> None:
    simulator.add_student(TOKEN_A)
    AuthActions(client).register(email="web@example.edu")
    client.post("/settings", data={"url": simulator.base_url, "token": TOKEN_A})
    simulator.revoke_token(TOKEN_A)
    connection_id = db.session.scalar(select(CanvasConnection.id))
    page = client.post(
        f"/settings/connections/{connection_id}/test", follow_redirects=True
    ).get_data(as_text=True)
    assert "Canvas rejected this token" in page
    assert 'data-status="needs_reconnect"' in page and "Needs reconnecting" in page
