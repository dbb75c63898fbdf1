"""A student's right to leave (issue 23): "Delete my account" (Settings, with the password) and
``flask user delete EMAIL [--yes]`` revoke every Canvas grant and leave zero rows of that user
in every table; "Download my data" gives the export; retention prunes old history."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text

from app.calendar.tokens import new_feed_secret
from app.extensions import db
from app.models import (
    AlertDelivery,
    AlertSettings,
    Base,
    GradeEvent,
    LoginGuard,
    SyncRun,
    User,
    utcnow,
)
from app.ops.erase import guard_key
from app.pages.api.tokens import create_token
from tests.auth_actions import DEFAULT_PASSWORD, AuthActions
from tests.conftest import connect_user
from tests.connections.test_oauth import (
    CALLBACK,
    CLIENT_ID,
    SECRET,
    _approve_at_canvas,
    _callback,
    _start,
)
from tests.connections.test_oauth import _sync as sync

LEAVER = "leaver@example.edu"
STAYER = "stayer@example.edu"
# Columns through which a row belongs to a user; every table must have one or be listed below.
OWNER_COLUMNS = ("user_id", "course_id", "connection_id", "term_id", "grade_category_id")
UNOWNED_TABLES = {"canvas_oauth_client", "service_heartbeat", "login_guard", "users"}


def _oauth_leaver(app: Any, client: Any, simulator: Any) -> tuple[User, Any]:
    """A student signed up, connected with "Connect with Canvas", synced, with every kind of
    row: alerts, deliveries, grade changes, a progress stream, a calendar feed, failed logins."""
    student = simulator.add_student("leaver-canvas-token", preset="freshman", seed=3)
    simulator.oauth.register_client(CLIENT_ID, SECRET, CALLBACK, require_scopes=False)
    simulator.oauth.sign_in(student.token)
    out = app.test_cli_runner().invoke(args=["canvas", "oauth-client", "add", "--url",
                                             simulator.base_url, "--client-id", CLIENT_ID,
                                             "--client-secret", SECRET])
    assert out.exit_code == 0, out.output
    # A mistyped sign-in before the account existed leaves a login_guard row of the email.
    assert AuthActions(client).login(email=LEAVER, password="no account yet").status_code == 401
    assert db.session.get(LoginGuard, guard_key(LEAVER)) is not None
    AuthActions(client).register(email=LEAVER)
    _callback(client, _approve_at_canvas(_start(client, simulator)))
    user = db.session.scalar(select(User).where(User.email == LEAVER))
    assert user is not None and user.connections[0].auth_kind == "oauth"
    assert sync(user.id).status == "succeeded"
    _every_kind_of_row(user)
    return user, student


def _every_kind_of_row(user: User) -> None:
    db.session.add(AlertSettings(user_id=user.id))
    db.session.add(AlertDelivery(user_id=user.id, key=f"k{user.id}", channel="email",
                                 status="sent", text="A grade changed"))
    db.session.add(GradeEvent(user_id=user.id, canvas_course_id=1, kind="grade_changed",
                              at=utcnow()))
    if db.session.get(LoginGuard, guard_key(user.email)) is None:
        db.session.add(LoginGuard(key=guard_key(user.email), failures=2))
    db.session.commit()
    new_feed_secret(user)
    create_token(user, "my script")


def table_counts() -> dict[str, int]:
    return {t.name: db.session.scalar(select(func.count()).select_from(t)) or 0
            for t in Base.metadata.sorted_tables}


def rows_of(user_id: int, email: str, owned: dict[str, set[int]]) -> dict[str, int]:
    """Rows of ``user_id`` in every table, found by querying each table by its owner column
    (``owned``: the ids of the user's courses, connections, terms and categories)."""
    found: dict[str, int] = {}
    for table in Base.metadata.sorted_tables:
        columns = [c for c in OWNER_COLUMNS if c in table.c]
        assert columns or table.name in UNOWNED_TABLES, (
            f"table {table.name}: teach this test (and app/ops/erase.py) whose rows it holds")
        count = 0
        for column in columns:
            ids = {user_id} if column == "user_id" else owned[column]
            if ids:
                count += db.session.scalar(select(func.count()).select_from(table)
                                           .where(table.c[column].in_(ids))) or 0
        if table.name == "users":
            count += db.session.scalar(select(func.count()).select_from(table)
                                       .where(table.c.id == user_id)) or 0
        if table.name == "login_guard":
            count += db.session.scalar(select(func.count()).select_from(table)
                                       .where(table.c.key == guard_key(email))) or 0
        found[table.name] = count
    return found


def owned_ids(user_id: int) -> dict[str, set[int]]:
    def ids(sql: str) -> set[int]:
        return set(db.session.scalars(text(sql), {"u": user_id}))

    return {
        "course_id": ids("SELECT id FROM course WHERE user_id = :u"),
        "connection_id": ids("SELECT id FROM canvas_connection WHERE user_id = :u"),
        "term_id": ids("SELECT id FROM term WHERE user_id = :u"),
        "grade_category_id": ids("SELECT gc.id FROM grade_category gc JOIN course c "
                                 "ON gc.course_id = c.id WHERE c.user_id = :u"),
    }


@pytest.mark.slow
def test_delete_my_account_in_settings(app: Any, client: Any, simulator: Any) -> None:
    leaver, student = _oauth_leaver(app, client, simulator)
    stayer, _ = connect_user(app, simulator, email=STAYER, token="stayer-token", seed=4)
    assert sync(stayer.id).status == "succeeded"
    _every_kind_of_row(stayer)
    leaver_id, stayer_id = leaver.id, stayer.id
    owned = owned_ids(leaver_id)
    before = rows_of(leaver_id, LEAVER, owned)
    for table in ("users", "canvas_connection", "course", "assignment", "grade_category",
                  "grade_event", "alert_settings", "alert_delivery", "sync_run", "login_guard",
                  "term"):
        assert before[table] > 0, table
    stayer_before = rows_of(stayer_id, STAYER, owned_ids(stayer_id))
    assert simulator.oauth.approved_integrations(student.token) == 1

    page = client.get("/settings")
    assert b"Delete my account" in page.data and b"/settings/export/gradesync.json" in page.data
    wrong = client.post("/settings/account/delete", data={"password": "not my password"})
    assert wrong.status_code == 400
    assert b"That is not your password" in wrong.data
    assert rows_of(leaver_id, LEAVER, owned) == before

    done = client.post("/settings/account/delete", data={"password": DEFAULT_PASSWORD},
                       follow_redirects=True)
    assert done.status_code == 200
    assert b"were deleted" in done.data and b"1 Canvas sign-in(s) were revoked" in done.data
    db.session.expire_all()
    assert rows_of(leaver_id, LEAVER, owned) == {t: 0 for t in before}
    assert rows_of(stayer_id, STAYER, owned_ids(stayer_id)) == stayer_before
    assert simulator.oauth.approved_integrations(student.token) == 0  # revoked at Canvas
    assert client.get("/settings").status_code in (302, 401)  # signed out
    assert AuthActions(client).login(email=LEAVER).status_code != 302  # no account any more


def test_flask_user_delete_asks_then_deletes(app: Any, simulator: Any) -> None:
    user, _ = connect_user(app, simulator, email=LEAVER, token="cli-leaver", seed=2)
    assert sync(user.id).status == "succeeded"
    _every_kind_of_row(user)
    user_id, owned = user.id, owned_ids(user.id)
    counts = table_counts()
    runner = app.test_cli_runner()

    kept = runner.invoke(args=["user", "delete", LEAVER], input="n\n")
    assert kept.exit_code == 1 and "Aborted" in kept.output
    assert table_counts() == counts

    gone = runner.invoke(args=["user", "delete", LEAVER, "--yes"])
    assert gone.exit_code == 0, gone.output
    assert gone.output.startswith(f"Deleted the account {LEAVER}: ")
    assert "  assignment: " in gone.output and "  sync_run: " in gone.output
    db.session.expire_all()
    assert set(rows_of(user_id, LEAVER, owned).values()) == {0}
    assert sum(table_counts().values()) == 0  # only that user existed: nothing is left

    again = runner.invoke(args=["user", "delete", LEAVER, "--yes"])
    assert again.exit_code == 1 and again.output.startswith("Error: no account for")


def test_deletion_waits_for_a_running_sync(app: Any, simulator: Any) -> None:
    from app.jobs import create_sync_run

    user, _ = connect_user(app, simulator, email=LEAVER, token="busy-leaver")
    create_sync_run(user.id, incremental=False)
    result = app.test_cli_runner().invoke(args=["user", "delete", LEAVER, "--yes"])
    assert result.exit_code == 1
    assert "a sync of this account is running" in result.output
    assert db.session.get(User, user.id) is not None


def test_download_my_data(app: Any, client: Any, simulator: Any) -> None:
    """"Download my data" is the student's own export; the operator's command gives the same."""
    student = simulator.add_student("export-token", preset="freshman", seed=6)
    AuthActions(client).register(email=LEAVER)
    user = db.session.scalar(select(User).where(User.email == LEAVER))
    from app.connections import set_canvas_credentials

    set_canvas_credentials(user, simulator.base_url, student.token)
    assert sync(user.id).status == "succeeded"
    db.session.add(GradeEvent(user_id=user.id, canvas_course_id=7, kind="grade_changed",
                              before={"score": 8}, after={"score": 9}, at=utcnow()))
    db.session.commit()

    data = client.get("/settings/export/gradesync.json")
    assert data.status_code == 200
    body = json.loads(data.data)
    assert body["courses"] and any(a["score"] is not None for a in body["assignments"])
    assert body["grade_events"][0]["after"] == {"score": 9}
    assert student.token not in data.get_data(as_text=True)

    cli = app.test_cli_runner().invoke(args=["user", "export", LEAVER])
    exported = json.loads(cli.output)
    for table in ("courses", "assignments", "grade_events"):
        assert exported[table] == body[table]
    sheet = app.test_cli_runner().invoke(args=["user", "export", LEAVER, "--csv", "assignments"])
    rows = list(csv.DictReader(io.StringIO(sheet.output)))
    assert len(rows) == len(body["assignments"])


def test_retention_prunes_old_events_and_runs_only(app: Any, simulator: Any) -> None:
    user, _ = connect_user(app, simulator, email=LEAVER, token="retention-token")
    old, recent = utcnow() - timedelta(days=40), utcnow() - timedelta(days=5)
    for at in (old, recent):
        db.session.add(GradeEvent(user_id=user.id, canvas_course_id=1, kind="grade_changed",
                                  at=at))
        db.session.add(SyncRun(user_id=user.id, status="succeeded", created_at=at))
    db.session.commit()
    runner = app.test_cli_runner()

    kept = runner.invoke(args=["retention", "prune"])  # 0 days: kept forever (the default)
    assert kept.output.strip() == "Pruned 0 grade event(s) and 0 run(s)."
    app.config.update(GRADE_EVENTS_KEPT_DAYS=30, RUN_HISTORY_KEPT_DAYS=30)
    pruned = runner.invoke(args=["retention", "prune"])
    assert pruned.output.strip() == "Pruned 1 grade event(s) and 1 run(s)."
    assert [e.at for e in db.session.scalars(select(GradeEvent))] == [recent]
    assert [r.created_at for r in db.session.scalars(select(SyncRun))] == [recent]


def test_user_create_admin(app: Any) -> None:
    result = app.test_cli_runner().invoke(
        args=["user", "create", "ops@example.edu", "--admin", "--password", DEFAULT_PASSWORD])
    assert result.exit_code == 0, result.output
    assert "Created admin user ops@example.edu" in result.output
    assert db.session.scalar(select(User.is_admin).where(User.email == "ops@example.edu"))
