""""Connect with Canvas" (OAuth2) against the simulator's OAuth2 endpoints (issue 14).

The flow a student goes through (Settings -> Canvas's approve page -> the callback), a sync
with the stored tokens, an access token that expires in the middle of a sync (refreshed once,
data exact), a refused refresh (the connection needs reconnecting, data kept), a tampered or
reused ``state`` (refused), and disconnecting (logged out at Canvas).
"""

from __future__ import annotations

import html
import logging
import re
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import select

from app import jobs
from app.connections import get_canvas_token, token_cipher
from app.extensions import db
from app.models import CanvasConnection, CanvasOAuthClient, User, utcnow
from tests.auth_actions import AuthActions
from tests.sync_helpers import assert_db_matches, db_snapshot

CALLBACK = "http://localhost/oauth/canvas/callback"
CLIENT_ID = "170000000000042"
SECRET = "developer-key-secret-XYZ"
UA = {"User-Agent": "GradeSync tests"}


@pytest.fixture
def canvas(app: Any, simulator: Any) -> Any:
    """A simulator with a developer key, registered here through the CLI."""
    student = simulator.add_student("student-api-token", preset="freshman", seed=3)
    simulator.oauth.register_client(CLIENT_ID, SECRET, CALLBACK)
    simulator.oauth.sign_in(student.token)
    out = app.test_cli_runner().invoke(args=[
        "canvas", "oauth-client", "add", "--url", simulator.base_url,
        "--client-id", CLIENT_ID, "--client-secret", SECRET,
    ])
    assert out.exit_code == 0, out.output
    return simulator, student


def _approve_at_canvas(location: str, decision: str = "approve") -> str:
    """What the student's browser does at Canvas; returns the callback URL Canvas sends."""
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    origin = f"{urlsplit(location).scheme}://{urlsplit(location).netloc}"
    page = requests.get(location, headers=UA, timeout=5)
    assert page.status_code == 200
    answer = requests.post(
        f"{origin}/login/oauth2/auth/decision",
        data={**{k: query[k] for k in ("client_id", "redirect_uri", "state")},
              "decision": decision},
        headers=UA, allow_redirects=False, timeout=5,
    )
    assert answer.status_code == 302
    return answer.headers["location"]


def _connect(client: Any, simulator: Any) -> str:
    settings = client.get("/settings").get_data(as_text=True)
    assert f"Connect with Canvas ({simulator.base_url})" in settings
    return _approve_at_canvas(_start(client, simulator))


def _start(client: Any, simulator: Any) -> str:
    """POST the Connect button; returns where the page sends the browser at Canvas."""
    start = client.post("/oauth/canvas/start", data={"url": simulator.base_url})
    assert start.status_code == 200
    target = re.search(r'href="([^"]+)" data-to-canvas', start.get_data(as_text=True))
    assert target is not None
    location = html.unescape(target.group(1))
    assert location.startswith(f"{simulator.base_url}/login/oauth2/auth?")
    return location


def _callback(client: Any, url: str) -> Any:
    parts = urlsplit(url)
    return client.get(f"{parts.path}?{parts.query}", follow_redirects=True)


def _sync(user_id: int, progress: Any = None) -> Any:
    run = jobs.create_sync_run(user_id, incremental=False)
    return jobs.run_sync(user_id, run.id, False, progress=progress)


def _connection() -> CanvasConnection:
    db.session.expire_all()
    return db.session.scalar(select(CanvasConnection))


@pytest.fixture
def connected(client: Any, canvas: Any) -> Any:
    simulator, student = canvas
    AuthActions(client).register(email="oauth@example.edu")
    page = _callback(client, _connect(client, simulator)).get_data(as_text=True)
    assert f"Connected to Canvas as {student.name}" in page
    user = db.session.scalar(select(User).where(User.email == "oauth@example.edu"))
    return user, simulator, student


def test_connect_with_canvas_stores_encrypted_tokens_and_syncs(connected: Any) -> None:
    user, simulator, student = connected
    connection = _connection()
    assert connection.auth_kind == "oauth" and connection.status == "ok"
    assert connection.canvas_user_id == student.user_id
    assert connection.refresh_token_encrypted and connection.expires_at is not None
    access = get_canvas_token(connection)
    assert access and access.encode() not in connection.access_token_encrypted
    secret_row = db.session.scalar(select(CanvasOAuthClient))
    assert SECRET.encode() not in secret_row.client_secret_encrypted

    result = _sync(user.id)
    assert result.succeeded, result.error
    assert_db_matches(user, student)
    assert simulator.oauth.exchanges == ["authorization_code"]  # no refresh needed


def test_an_access_token_expiring_mid_sync_is_refreshed_once(connected: Any) -> None:
    user, simulator, student = connected
    expired = []

    def expire_once_fetching(progress: Any) -> None:
        if progress.phase == "fetching" and not expired:
            simulator.oauth.expire_access_tokens()  # every gradebook request now gets a 401
            expired.append(True)

    result = _sync(user.id, progress=expire_once_fetching)

    assert expired and result.succeeded, result.error
    assert_db_matches(user, student)
    assert simulator.oauth.exchanges.count("refresh_token") == 1  # one refresh, no storm
    assert _connection().status == "ok"


def test_a_refused_refresh_marks_the_connection_and_keeps_the_data(
    client: Any, connected: Any
) -> None:
    user, simulator, student = connected
    assert _sync(user.id).succeeded
    kept = db_snapshot(user.id)
    simulator.oauth.revoke_refresh()  # the student removed the app in Canvas

    result = _sync(user.id)

    assert not result.succeeded
    assert _connection().status == "needs_reconnect"
    assert db_snapshot(user.id) == kept
    dashboard = client.get("/").get_data(as_text=True)
    assert "Canvas refused the token for" in dashboard


def test_a_tampered_or_reused_state_is_refused(client: Any, canvas: Any) -> None:
    simulator, _ = canvas
    AuthActions(client).register(email="oauth@example.edu")
    callback = _connect(client, simulator)
    parts = urlsplit(callback)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    forged = client.get(
        parts.path, query_string={**query, "state": query["state"][:-2] + "xx"},
        follow_redirects=True,
    )
    assert "could not be verified" in forged.get_data(as_text=True)
    assert _connection() is None

    # A forged cross-site GET must not spend the session's nonce: the student's genuine
    # callback still completes (issue 21, finding 10), and only then is it used up.
    good = _callback(client, callback).get_data(as_text=True)
    assert "Connected to Canvas as" in good and _connection() is not None
    replay = _callback(client, callback).get_data(as_text=True)
    assert "already used" in replay


def test_a_forged_error_callback_does_not_break_the_real_sign_in(
    client: Any, canvas: Any
) -> None:
    """A cross-site GET to the callback with an ``error`` and no state changes nothing."""
    simulator, _ = canvas
    AuthActions(client).register(email="oauth@example.edu")
    callback = _connect(client, simulator)
    forged = client.get("/oauth/canvas/callback", query_string={"error": "invalid_scope"},
                        follow_redirects=True)
    assert forged.status_code == 200 and _connection() is None
    assert "Connected to Canvas as" in _callback(client, callback).get_data(as_text=True)


def test_the_redirect_uri_comes_from_public_url_not_the_host_header(
    client: Any, canvas: Any
) -> None:
    simulator, _ = canvas
    AuthActions(client).register(email="oauth@example.edu")
    start = client.post("/oauth/canvas/start", data={"url": simulator.base_url},
                        headers={"Host": "evil.example"})
    target = re.search(r'href="([^"]+)" data-to-canvas', start.get_data(as_text=True))
    assert target is not None
    query = parse_qs(urlsplit(html.unescape(target.group(1))).query)
    assert query["redirect_uri"] == [CALLBACK]


def test_deny_at_canvas_connects_nothing(client: Any, canvas: Any) -> None:
    simulator, _ = canvas
    AuthActions(client).register(email="oauth@example.edu")
    page = _callback(client, _approve_at_canvas(_start(client, simulator), "deny"))
    assert "cancelled" in page.get_data(as_text=True)
    assert _connection() is None


def test_disconnect_logs_out_at_canvas(client: Any, connected: Any) -> None:
    _, simulator, _ = connected
    connection = _connection()
    access = get_canvas_token(connection)
    me = f"{simulator.base_url}/api/v1/users/self"
    auth = {**UA, "Authorization": f"Bearer {access}"}
    assert requests.get(me, headers=auth, timeout=5).status_code == 200

    client.post(f"/settings/connections/{connection.id}/disconnect")

    assert requests.get(me, headers=auth, timeout=5).status_code == 401
    assert _connection().status == "disconnected"
    assert _connection().refresh_token_encrypted is None


def test_oauth_client_cli_lists_without_the_secret_and_removes(
    app: Any, canvas: Any
) -> None:
    simulator, _ = canvas
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["canvas", "oauth-client", "list"])
    assert simulator.base_url in listed.stdout and CLIENT_ID in listed.stdout
    assert SECRET not in listed.output
    removed = runner.invoke(
        args=["canvas", "oauth-client", "remove", "--url", simulator.base_url]
    )
    assert removed.exit_code == 0, removed.output
    again = runner.invoke(args=["canvas", "oauth-client", "remove", "--url", simulator.base_url])
    assert again.exit_code == 1 and "no developer key" in again.stderr


def test_tokens_and_the_client_secret_are_never_stored_plain_logged_or_rendered(
    client: Any, connected: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    user, simulator, _ = connected
    simulator.oauth.expire_access_tokens()
    assert _sync(user.id).succeeded  # a refresh happened and was logged about
    assert simulator.oauth.exchanges.count("refresh_token") == 1
    connection = _connection()
    refresh = token_cipher().decrypt(connection.refresh_token_encrypted)
    access = get_canvas_token(connection)
    secrets_ = [SECRET, refresh, access]
    pages = [client.get(path).get_data(as_text=True) for path in ("/", "/settings")]
    cli = client.application.test_cli_runner()
    outputs = [
        cli.invoke(args=["canvas", "connections", "oauth@example.edu", "--json"]).output,
        cli.invoke(args=["canvas", "oauth-client", "list"]).output,
    ]
    with db.engine.connect() as conn:
        stored = [
            value
            for table in db.metadata.sorted_tables
            for row in conn.execute(table.select())
            for value in row
        ]
    for secret in secrets_:
        assert secret and all(secret not in page for page in pages)
        assert all(secret not in out for out in outputs)
        assert secret not in caplog.text
        for value in stored:
            raw = value.tobytes() if isinstance(value, memoryview) else value
            assert secret.encode() not in raw if isinstance(raw, bytes) else secret not in str(raw)


def test_a_token_about_to_expire_is_refreshed_before_the_sync(connected: Any) -> None:
    user, simulator, student = connected
    connection = _connection()
    connection.expires_at = utcnow() + timedelta(minutes=2)  # inside the 5-minute margin
    db.session.commit()
    simulator.reset_stats()

    result = _sync(user.id)

    assert result.succeeded, result.error
    assert simulator.oauth.exchanges == ["authorization_code", "refresh_token"]
    assert not [r for r in simulator.stats.records if r.status == 401]  # no 401 was needed
    assert _connection().expires_at > utcnow() + timedelta(minutes=30)
    assert_db_matches(user, student)
