""""Connect with Canvas" against a stricter Canvas (issue 18), over HTTP with the simulator.

Developer keys that enforce scopes (with and without "Allow Include Parameters"), Canvas's
``error=`` redirects without ``state``, a token endpoint that is down or throttling (only
Canvas's refusal needs reconnecting), 401s that do or do not blame the token, logging out with
an expired token, ``force_token_reuse``, the profile's time zone, and two refreshes of one
connection at once.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import select

from app.connections import get_canvas_token, token_cipher
from app.connections import tokens as token_module
from app.connections.scopes import DEFAULT_SCOPES
from app.extensions import db
from app.models import User, utcnow
from tests.auth_actions import AuthActions
from tests.connections.test_oauth import (
    CALLBACK,
    CLIENT_ID,
    SECRET,
    UA,
    _approve_at_canvas,
    _callback,
    _connection,
    _start,
    _sync,
)
from tests.sync_helpers import assert_db_matches, db_snapshot

EMAIL = "strict@example.edu"


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(token_module, "REFRESH_BACKOFF", 0.01)


def _setup(app: Any, simulator: Any, *, scopes: tuple[str, ...] = DEFAULT_SCOPES,
           require_scopes: bool = True, allow_includes: bool = True,
           force_token_reuse: bool = False, ask: tuple[str, ...] = ()) -> Any:
    """A student, the school's key at Canvas, and the key registered here (``ask``: the
    operator's own scope list, else GradeSync's)."""
    student = simulator.add_student("strict-student-token", preset="freshman", seed=5)
    simulator.oauth.register_client(CLIENT_ID, SECRET, CALLBACK, require_scopes=require_scopes,
                                    scopes=scopes, allow_includes=allow_includes,
                                    force_token_reuse=force_token_reuse)
    simulator.oauth.sign_in(student.token)
    args = ["canvas", "oauth-client", "add", "--url", simulator.base_url,
            "--client-id", CLIENT_ID, "--client-secret", SECRET]
    for scope in ask:
        args += ["--scope", scope]
    out = app.test_cli_runner().invoke(args=args)
    assert out.exit_code == 0, out.output
    return student


def _connect(client: Any, simulator: Any) -> tuple[User, str]:
    AuthActions(client).register(email=EMAIL)
    page = _callback(client, _approve_at_canvas(_start(client, simulator)))
    user = db.session.scalar(select(User).where(User.email == EMAIL))
    return user, page.get_data(as_text=True)


def test_a_scope_enforcing_key_connects_syncs_and_brings_the_time_zone(
    app: Any, client: Any, simulator: Any
) -> None:
    student = _setup(app, simulator)
    AuthActions(client).register(email=EMAIL)
    location = _start(client, simulator)
    assert all(scope in requests.utils.unquote(location) for scope in DEFAULT_SCOPES)
    page = _callback(client, _approve_at_canvas(location)).get_data(as_text=True)
    assert f"Connected to Canvas as {student.name}" in page
    user = db.session.scalar(select(User).where(User.email == EMAIL))
    profile = requests.get(f"{simulator.base_url}/api/v1/users/self/profile",
                           headers={**UA, "Authorization": f"Bearer {student.token}"}, timeout=5)
    assert user.time_zone == profile.json()["time_zone"]

    result = _sync(user.id)
    assert result.succeeded, result.error
    assert_db_matches(user, student)


def test_a_key_that_refuses_our_scopes_says_which_setting(
    app: Any, client: Any, simulator: Any
) -> None:
    _setup(app, simulator, scopes=DEFAULT_SCOPES[:3])  # the admin enabled only three
    AuthActions(client).register(email=EMAIL)
    refusal = requests.get(_start(client, simulator), headers=UA, allow_redirects=False,
                           timeout=5)
    assert refusal.status_code == 302 and "state=" not in refusal.headers["location"]
    page = _callback(client, refusal.headers["location"]).get_data(as_text=True)
    assert "developer key does not allow the scopes" in page
    assert "Enforce Scopes" in page and "could not be verified" not in page
    assert _connection() is None


def test_stripped_includes_fail_the_course_and_delete_nothing(
    app: Any, client: Any, simulator: Any
) -> None:
    _setup(app, simulator, allow_includes=True)
    user, _ = _connect(client, simulator)
    assert _sync(user.id).succeeded
    kept = db_snapshot(user.id)
    assert any(course["assignments"] for course in kept.values())
    # The admin turns "Allow Include Parameters" off: Canvas now drops include[].
    simulator.oauth.register_client(CLIENT_ID, SECRET, CALLBACK, require_scopes=True,
                                    scopes=DEFAULT_SCOPES, allow_includes=False)

    result = _sync(user.id)

    assert not result.succeeded
    assert "Allow Include Parameters" in (result.error or "")
    assert "\n" not in (result.error or "")
    db.session.expire_all()
    assert db_snapshot(user.id) == kept  # every stored assignment survives
    assert _connection().status == "ok"


def test_only_a_refused_refresh_needs_reconnecting(app: Any, client: Any, simulator: Any) -> None:
    _setup(app, simulator, require_scopes=False)
    user, _ = _connect(client, simulator)
    assert _sync(user.id).succeeded
    kept = db_snapshot(user.id)
    tries = token_module.REFRESH_ATTEMPTS

    simulator.oauth.expire_access_tokens()
    simulator.oauth.fail_token_requests(503)  # one 503, then the retry gets through
    assert _sync(user.id).succeeded
    assert simulator.oauth.exchanges.count("refresh_token") == 1

    simulator.oauth.expire_access_tokens()
    simulator.oauth.fail_token_requests(*[503] * tries)
    down = _sync(user.id)
    assert not down.succeeded and "could not renew" in (down.error or "")
    assert _connection().status == "ok"

    simulator.oauth.expire_access_tokens()
    simulator.oauth.fail_token_requests(*[429] * tries)
    throttled = _sync(user.id)
    assert not throttled.succeeded and "rate-limiting" in (throttled.error or "")
    assert _connection().status == "ok"
    assert get_canvas_token(_connection())  # still there, still usable

    simulator.oauth.revoke_refresh()
    refused = _sync(user.id)
    assert not refused.succeeded
    assert _connection().status == "needs_reconnect"
    db.session.expire_all()
    assert db_snapshot(user.id) == kept


def test_a_401_without_www_authenticate_does_not_refresh(
    app: Any, client: Any, simulator: Any
) -> None:
    # The operator asked for a list without the gradebook's scope; Canvas answers those
    # requests 401 "Insufficient scopes" without WWW-Authenticate: no refresh can help.
    ask = tuple(s for s in DEFAULT_SCOPES if "assignment_groups" not in s)
    _setup(app, simulator, ask=ask)
    user, _ = _connect(client, simulator)

    result = _sync(user.id)

    assert not result.succeeded and "scope" in (result.error or "")
    assert simulator.oauth.exchanges == ["authorization_code"]
    assert _connection().status == "ok"


def test_disconnect_after_expiry_still_revokes_the_grant(
    app: Any, client: Any, simulator: Any
) -> None:
    student = _setup(app, simulator, require_scopes=False)
    _connect(client, simulator)
    connection = _connection()
    connection.expires_at = utcnow() - timedelta(minutes=5)  # an hour idle
    db.session.commit()
    simulator.oauth.expire_access_tokens()
    assert simulator.oauth.approved_integrations(student.token) == 1

    client.post(f"/settings/connections/{connection.id}/disconnect")

    assert simulator.oauth.approved_integrations(student.token) == 0
    assert simulator.oauth.exchanges == ["authorization_code", "refresh_token"]
    assert _connection().status == "disconnected"


def test_force_token_reuse_sign_in_without_a_refresh_token_works(
    app: Any, client: Any, simulator: Any
) -> None:
    student = _setup(app, simulator, force_token_reuse=True)
    earlier = simulator.oauth  # the student approved GradeSync before (another device)
    code = parse_code(_approve_at_canvas(_start_raw(simulator)))
    first = requests.post(f"{simulator.base_url}/login/oauth2/token", data={
        "client_id": CLIENT_ID, "client_secret": SECRET, "grant_type": "authorization_code",
        "redirect_uri": CALLBACK, "code": code}, headers=UA, timeout=5).json()
    assert "refresh_token" in first and earlier.approved_integrations(student.token) == 1

    user, page = _connect(client, simulator)

    assert f"Connected to Canvas as {student.name}" in page
    connection = _connection()
    assert connection.status == "ok" and connection.expires_at is None
    assert connection.refresh_token_encrypted is None
    result = _sync(user.id)
    assert result.succeeded, result.error
    assert_db_matches(user, student)


def _start_raw(simulator: Any) -> str:
    from urllib.parse import urlencode

    return f"{simulator.base_url}/login/oauth2/auth?" + urlencode({
        "client_id": CLIENT_ID, "response_type": "code", "redirect_uri": CALLBACK,
        "state": "earlier", "scope": " ".join(DEFAULT_SCOPES)})


def parse_code(callback_url: str) -> str:
    from urllib.parse import parse_qs, urlsplit

    return parse_qs(urlsplit(callback_url).query)["code"][0]


def test_two_refreshes_of_one_connection_at_once_make_one_at_canvas(
    app: Any, client: Any, simulator: Any
) -> None:
    _setup(app, simulator, require_scopes=False)
    _connect(client, simulator)
    connection = _connection()
    stale = get_canvas_token(connection)
    simulator.oauth.expire_access_tokens()
    data = token_module.refresher_data(connection)
    db.session.commit()
    barrier = threading.Barrier(2)
    results: list[str | None] = []

    def refresh() -> None:
        barrier.wait()
        results.append(token_module.refresh_connection(data, stale))

    threads = [threading.Thread(target=refresh) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert simulator.oauth.exchanges.count("refresh_token") == 1
    assert len(results) == 2 and results[0] == results[1] and results[0] != stale
    me = requests.get(f"{simulator.base_url}/api/v1/users/self",
                      headers={**UA, "Authorization": f"Bearer {results[0]}"}, timeout=5)
    assert me.status_code == 200
    stored = token_cipher().decrypt(_connection().access_token_encrypted)
    assert stored == results[0]


def test_only_a_401_that_blames_the_token_asks_for_a_new_one(simulator: Any) -> None:
    """"user not authorized" (another user's profile here, like an unreadable course) is a
    401 without WWW-Authenticate: no refresh. An expired token's 401 carries it: one refresh,
    then the request goes through with the new token."""
    from app.canvas.client import CanvasAPIService, ClientOptions, RetryPolicy
    from app.canvas.errors import NotPermitted
    from app.outbound import OutboundPolicy

    student = simulator.add_student("plain-api-token", preset="freshman", seed=1)
    spare = "spare-api-token"
    simulator.add_student(spare, preset="freshman", seed=2)
    calls: list[str] = []

    def refresher() -> str:
        calls.append("refresh")
        return student.token

    simulator.expire_token(spare)
    with CanvasAPIService(simulator.base_url, spare, refresher=refresher,
                          options=ClientOptions(retry=RetryPolicy(max_retries=0)),
                          policy=OutboundPolicy(allow_private=True)) as api:
        assert api.get_current_user()["id"] == student.user_id  # refreshed once, then fine
        assert calls == ["refresh"]
        with pytest.raises(NotPermitted):
            api._get_object(f"/users/{student.user_id + 1}/profile")
        assert calls == ["refresh"]  # "user not authorized": no second refresh


def test_the_cli_prints_the_scopes_and_refuses_a_malformed_one(app: Any, simulator: Any) -> None:
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["canvas", "oauth-client", "scopes"])
    assert listed.exit_code == 0 and listed.stdout.split() == list(DEFAULT_SCOPES)
    bad = runner.invoke(args=["canvas", "oauth-client", "add", "--url", simulator.base_url,
                              "--client-id", CLIENT_ID, "--client-secret", SECRET,
                              "--scope", "GET /api/v1/courses"])
    assert bad.exit_code == 1 and "is not a Canvas scope" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    own = runner.invoke(args=["canvas", "oauth-client", "add", "--url", simulator.base_url,
                              "--client-id", CLIENT_ID, "--client-secret", SECRET,
                              "--scope", "url:GET|/api/v1/courses url:GET|/api/v1/users/:id"])
    assert own.exit_code == 0, own.output
    mine = runner.invoke(args=["canvas", "oauth-client", "scopes", "--url", simulator.base_url])
    assert mine.stdout.split() == ["url:GET|/api/v1/courses", "url:GET|/api/v1/users/:id"]
    assert "2 scopes of its own" in runner.invoke(args=["canvas", "oauth-client", "list"]).stdout


def test_only_groups_that_all_lack_assignments_count_as_stripped() -> None:
    from app.canvas.errors import BadResponse
    from app.sync.includes import check_gradebook_includes

    fine = ([], [{"id": 1, "assignments": []}],
            [{"id": 1, "assignments": [{"id": 5}]}, {"id": "junk"}])  # none, empty, junk group
    for groups in fine:
        check_gradebook_includes(7, groups, host="canvas.example.edu")
    with pytest.raises(BadResponse, match="Allow Include Parameters"):
        check_gradebook_includes(7, [{"id": 1, "name": "Homework"}, {"id": 2}],
                                 host="canvas.example.edu")
