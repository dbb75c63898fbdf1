"""Logs an operator can follow (issue 23): ``LOG_FORMAT=json`` gives one JSON object per line
with a request id; the id of a Sync click follows it to the run row, the sync, and the alert
delivery; and no token, password, cookie or secret appears in any line of a full OAuth sign-in,
sync and alert run."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from app.alerts import save_settings
from app.connections import get_canvas_token, token_cipher
from app.extensions import db
from app.logs import JsonFormatter, RedactFilter, RequestIdFilter, redact
from app.models import CanvasConnection, SyncRun, User
from app.outbound import OutboundPolicy
from tests.alerts.test_alerts import grade_something, hook, inbox  # noqa: F401  (fixtures)
from tests.auth_actions import DEFAULT_PASSWORD, AuthActions
from tests.conftest import TEST_SECRET
from tests.connections.test_oauth import (
    CALLBACK,
    CLIENT_ID,
    SECRET,
    _approve_at_canvas,
    _callback,
    _start,
)
from tests.school_year import MIDTERM

pytestmark = pytest.mark.clock(MIDTERM)

EMAIL = "follow@example.edu"
CLICK_ID = "click-0123456789abcdef"


class Lines(logging.Handler):
    """Every record, formatted as LOG_FORMAT=json formats it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.addFilter(RequestIdFilter())
        self.addFilter(RedactFilter())
        self.setFormatter(JsonFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines]


@pytest.fixture
def lines() -> Iterator[Lines]:
    handler = Lines()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)  # the most talkative: urllib3's request lines too
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def wait_for(run_id: int) -> SyncRun:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        db.session.expire_all()
        run = db.session.get(SyncRun, run_id)
        if run is not None and run.status not in ("queued", "running"):
            return run
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} did not finish")


def click_sync(client: Any, request_id: str | None = None) -> SyncRun:
    headers = {"X-Request-ID": request_id} if request_id else {}
    response = client.post("/sync", data={"mode": "full"}, headers=headers)
    assert response.status_code == 302, response.data
    run_id = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[-1])
    if request_id:
        assert response.headers["X-Request-ID"] == request_id
    return wait_for(run_id)


def test_the_config_switch_gives_json_lines(monkeypatch: Any) -> None:
    from config import Config, ConfigError

    key = {"SECRET_KEY": "test-secret-key-not-for-production"}  # required outside the demo
    assert Config({**key, "LOG_FORMAT": "json"}).LOG_FORMAT == "json"
    assert Config(key).LOG_FORMAT == "text"
    with pytest.raises(ConfigError, match="LOG_FORMAT must be text or json"):
        Config({**key, "LOG_FORMAT": "xml"})


def test_a_request_gets_an_id_and_a_forged_one_is_replaced(client: Any, lines: Lines) -> None:
    response = client.get("/login", headers={"X-Request-ID": "bad id {with} \"quotes\""})
    given = response.headers["X-Request-ID"]
    assert len(given) == 32 and given.isalnum()
    line = next(r for r in lines.records() if r["logger"] == "app.requests")
    assert line["request_id"] == given and line["message"].startswith("GET /login 200")
    kept = client.get("/login", headers={"X-Request-ID": "proxy-id-12345678"})
    assert kept.headers["X-Request-ID"] == "proxy-id-12345678"


def test_one_id_follows_a_click_and_no_secret_is_ever_logged(
    app: Any, client: Any, simulator: Any, lines: Lines, hook: Any, inbox: Any,  # noqa: F811
) -> None:
    student = simulator.add_student("follow-canvas-personal-token", preset="freshman", seed=8)
    # The key's redirect URI is the site's address (the inbox fixture names another one).
    gradesync_test = CALLBACK.replace("http://localhost", app.config["PUBLIC_URL"])
    simulator.oauth.register_client(CLIENT_ID, SECRET, gradesync_test, require_scopes=False)
    simulator.oauth.sign_in(student.token)
    assert app.test_cli_runner().invoke(args=[
        "canvas", "oauth-client", "add", "--url", simulator.base_url, "--client-id", CLIENT_ID,
        "--client-secret", SECRET]).exit_code == 0
    AuthActions(client).register(email=EMAIL)
    _callback(client, _approve_at_canvas(_start(client, simulator)))
    user = db.session.scalar(select(User).where(User.email == EMAIL))
    assert user is not None
    webhook = f"http://127.0.0.1:{hook.server_port}/hooks/s3cr3t-webhook-path"
    save_settings(user.id, {"on_grade": True, "email": True, "webhook_url": webhook},
                  OutboundPolicy(allow_private=True))
    assert click_sync(client).status == "succeeded"  # the baseline: no alerts
    grade_something(user, student)

    run = click_sync(client, CLICK_ID)

    assert run.status == "succeeded" and run.request_id == CLICK_ID
    deadline = time.monotonic() + 30  # the alerts go out just after the row says succeeded
    while not (hook.bodies and inbox.messages) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.2)  # and their log lines right after
    assert len(hook.bodies) == 1 and len(inbox.messages) == 1
    followed = [r for r in lines.records() if r["request_id"] == CLICK_ID]
    said = "\n".join(f"{r['logger']}: {r['message']}" for r in followed)
    assert "app.requests: POST /sync 302" in said  # the web request
    assert f"sync run {run.id} queued" in said  # the run row
    assert "alert webhook to user" in said and "alert email to user" in said  # delivery
    assert any(r["thread"].startswith("canvas-fetch") for r in followed)  # the engine's threads

    # Every secret of the run: none of them in any line.
    connection = db.session.scalar(select(CanvasConnection).where(
        CanvasConnection.user_id == user.id))
    assert connection is not None and connection.refresh_token_encrypted is not None
    secrets = {
        "Canvas access token": get_canvas_token(connection),
        "Canvas refresh token": token_cipher().decrypt(connection.refresh_token_encrypted),
        "the student's own Canvas token": student.token,
        "developer key secret": SECRET,
        "password": DEFAULT_PASSWORD,
        "SECRET_KEY": TEST_SECRET,
        "webhook path": "s3cr3t-webhook-path",
        "session cookie": client.get_cookie("session").value,
    }
    everything = "\n".join(lines.lines)
    assert len(lines.lines) > 50
    for name, value in secrets.items():
        assert value and value not in everything, f"{name} appears in the logs"


def test_redaction_is_a_last_line_of_defence() -> None:
    assert redact("Authorization: Bearer abc.def") == "Authorization: Bearer [redacted]"
    assert "xyz" not in redact("GET /?access_token=xyz&x=1")
    assert "hunter2" not in redact('{"password": "hunter2"}')
