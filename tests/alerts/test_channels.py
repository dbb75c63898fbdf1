"""Issue 22: Discord, Telegram and Matrix channels beside ntfy, end to end on loopback.

A local server stands in for each service (the test app allows private hosts, as the ntfy and
webhook tests do; Telegram's API address is the declared ``TELEGRAM_API_URL`` pointed at it).
Each channel is added in Settings, shown only masked, and its "Send a test" and a real alert
(``dispatch`` -> the channel -> the guarded session) arrive as that service expects them. The
secret is never on a page, in the stored bytes or in our log lines. Under the strict guard the
addresses it refuses are never stored, a stored one is not sent to, and a name that rebinds to
a private address after the check is refused by the connection itself; another student's
channel answers 404.
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select

from app.alerts import channels
from app.alerts.choose import Alert
from app.alerts.deliver import dispatch, send_digest
from app.alerts.prefs import WebhookRefused, settings_for
from app.models import AlertDelivery, NotifyChannel, User, utcnow
from tests.auth_actions import AuthActions
from tests.live_server import serving

TEST_TEXT = "GradeSync test: your alerts will arrive here."


class Service(ThreadingHTTPServer):
    """Discord, Telegram or a Matrix homeserver on loopback: records each request."""

    status = 200

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received: list[tuple[str, str, dict[str, str], bytes]] = []

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"


class _Handler(BaseHTTPRequestHandler):
    server: Service

    def _record(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.received.append((self.command, self.path, dict(self.headers), body))
        answer = b'{"ok": true}'
        self.send_response(self.server.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    do_POST = do_PUT = _record  # noqa: N815

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def service() -> Iterator[Service]:
    with serving(Service()) as server:
        yield server



@dataclass(frozen=True)
class Kind:
    """One channel kind on a loopback service: the address, its secret, what Settings shows,
    and how the service must see a message."""

    name: str
    address: str
    secret: str
    masked: str
    check: Callable[[str, str, dict[str, str], bytes, str], None]


def discord_kind(service: Service) -> Kind:
    token = "dSecretWebhookToken_0123456789-abcdefghijkl"

    def check(method: str, path: str, headers: dict[str, str], body: bytes, text: str) -> None:
        assert (method, path) == ("POST", f"/api/webhooks/123456789012345678/{token}")
        assert headers["Content-Type"] == "application/json"
        assert json.loads(body) == {"content": text, "allowed_mentions": {"parse": []}}

    return Kind("discord", f"{service.origin}/api/webhooks/123456789012345678/{token}", token,
                f"{service.origin}/api/webhooks/1234****/****", check)


def telegram_kind(service: Service) -> Kind:
    token = "AAHsecretBotToken_0123456789-abcdefgh"

    def check(method: str, path: str, headers: dict[str, str], body: bytes, text: str) -> None:
        assert (method, path) == ("POST", f"/bot123456789:{token}/sendMessage")
        assert headers["Content-Type"] == "application/json"
        assert json.loads(body) == {"chat_id": -1001234567890, "text": text}

    return Kind("telegram", f"tgram://123456789:{token}/-1001234567890", token,
                "tgram://12****/-1****", check)


def matrix_kind(service: Service) -> Kind:
    token = "syt_c2VjcmV0_secretMatrixToken_0a1b2c"
    prefix = "/_matrix/client/v3/rooms/%21roomid%3Aexample.org/send/m.room.message/"

    def check(method: str, path: str, headers: dict[str, str], body: bytes, text: str) -> None:
        assert method == "PUT" and path.startswith(prefix) and len(path) > len(prefix)
        assert headers["Authorization"] == f"Bearer {token}"
        sent = json.loads(body)
        assert (sent["msgtype"], sent["body"], sent["m.mentions"]) == ("m.text", text, {})

    return Kind("matrix", f"matrix://{token}@127.0.0.1:{service.server_port}/!roomid:example.org",
                token, f"matrix://****@127.0.0.1:{service.server_port}/!ro****", check)


KINDS = {"discord": discord_kind, "telegram": telegram_kind, "matrix": matrix_kind}


@pytest.fixture(params=sorted(KINDS))
def kind(request: Any, app: Any, service: Service) -> Kind:
    app.config["TELEGRAM_API_URL"] = service.origin
    made: Kind = KINDS[request.param](service)
    return made


def the_user(db: Any) -> User:
    user = db.session.scalar(select(User))
    assert user is not None
    return user


def add(client: Any, address: str) -> str:
    return str(client.post("/settings/channels", data={"address": address},
                           follow_redirects=True).get_data(as_text=True))


def our_log_lines(caplog: pytest.LogCaptureFixture) -> str:
    lines = [r.getMessage() + (r.exc_text or "") for r in caplog.records
             if r.name == "app" or r.name.startswith("app.")]
    return "\n".join(lines)


def test_a_channel_is_masked_and_its_test_and_alerts_arrive(
        app: Any, db: Any, signed_in: Any, service: Service, kind: Kind,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    page = add(signed_in, kind.address)
    assert "saved, encrypted" in page
    assert kind.masked in page and kind.secret not in page
    assert channels.KINDS[kind.name] in page  # the list says which kind it is
    row = db.session.scalar(select(NotifyChannel))
    assert row.kind == kind.name and kind.secret.encode() not in row.url_encrypted

    page = signed_in.post(f"/settings/channels/{row.id}/test",
                          follow_redirects=True).get_data(as_text=True)
    assert f"Test sent to {kind.masked}" in page and kind.secret not in page
    kind.check(*service.received[0], TEST_TEXT)

    user = the_user(db)
    settings = settings_for(user.id)
    settings.email = False
    alert = Alert("event:7", "s", "Essay graded: 9/10")
    assert dispatch(user, settings, [alert], utcnow()) == 1
    assert dispatch(user, settings, [alert], utcnow()) == 0  # sent once, never again
    assert len(service.received) == 2
    kind.check(*service.received[1], "Essay graded: 9/10")
    delivery = db.session.scalar(select(AlertDelivery))
    assert (delivery.channel, delivery.status) == (f"{kind.name}:{row.id}", "sent")

    service.status = 403  # a revoked token: the test says so, without the address
    page = signed_in.post(f"/settings/channels/{row.id}/test",
                          follow_redirects=True).get_data(as_text=True)
    assert "failed (it answered 403)" in page and kind.secret not in page
    assert dispatch(user, settings, [Alert("event:8", "s", "Quiz graded")], utcnow()) == 1
    failed = db.session.scalar(select(AlertDelivery).where(AlertDelivery.key == "event:8"))
    assert failed.status == "failed"

    logged = our_log_lines(caplog)
    assert f"{kind.name}:{row.id}" in logged  # the delivery did log its lines...
    assert kind.secret not in logged  # ...and never the secret

    signed_in.post(f"/settings/channels/{row.id}/remove")
    assert db.session.scalar(select(NotifyChannel)) is None


def test_a_held_alert_goes_out_with_the_digest(
        app: Any, db: Any, signed_in: Any, service: Service, kind: Kind) -> None:
    add(signed_in, kind.address)
    user = the_user(db)
    settings = settings_for(user.id)
    settings.email, settings.digest = False, True
    db.session.add(settings)
    db.session.commit()
    morning = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    assert dispatch(user, settings, [Alert("event:1", "s", "Lab 1 graded")], morning) == 1
    assert service.received == []  # held for the digest
    assert send_digest(user.id, morning.replace(hour=19)) == 1
    kind.check(*service.received[0], "Lab 1 graded")


def test_a_stored_channel_is_not_sent_to_once_the_guard_refuses_it(
        app: Any, db: Any, signed_in: Any, service: Service, kind: Kind) -> None:
    add(signed_in, kind.address)
    row = db.session.scalar(select(NotifyChannel))
    app.config["CANVAS_ALLOW_PRIVATE_HOSTS"] = False  # loopback is private under the real policy
    page = signed_in.post(f"/settings/channels/{row.id}/test",
                          follow_redirects=True).get_data(as_text=True)
    assert "The test to" in page and "failed" in page and kind.secret not in page
    user = the_user(db)
    settings = settings_for(user.id)
    settings.email = False
    dispatch(user, settings, [Alert("event:9", "s", "Essay graded")], utcnow())
    assert db.session.scalar(select(AlertDelivery.status)) == "failed"
    assert service.received == []


def resolve_to(*addresses: str) -> Callable[..., Any]:
    """A ``getaddrinfo`` that answers each name with ``addresses`` in turn, the last one from
    then on (a rebinding DNS server)."""
    answers = iter(addresses)
    last = addresses[-1]

    def fake(host: str, port: int | None, *args: Any, **kw: Any) -> Any:
        nonlocal last
        last = next(answers, last)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (last, port or 443))]

    return fake


REFUSED = [
    # Discord: only its hosts, over https, and the webhook's own path.
    ("https://127.0.0.1/api/webhooks/1234567/dSecret_abcdefghijkl",
     "starts with https://discord.com/api/webhooks/"),
    ("https://discord.com.example.org/api/webhooks/1234567/dSecret_abcdefghijkl",
     "starts with https://discord.com/api/webhooks/"),
    ("https://discord.com/api/webhooks/dSecret_abcdefghijkl", "/api/webhooks/NUMBER/TOKEN"),
    # Telegram: Apprise's tgram://TOKEN/CHAT.
    ("tgram://123456789:AAHdSecret_abcdefghijkl/", "Add the chat id"),
    ("tgram://dSecret_abcdefghijkl/12345", "bot token is the one @BotFather gives"),
    ("tgram://123456789:AAHdSecret_abcdefghijkl/my chat", "chat id is one number"),
    # Matrix: https only, a token (not a password), a room id (not an alias).
    ("matrix://dSecret_abcdefghijkl@matrix.example.org/!room:example.org", "plain http"),
    ("matrixs://me:dSecret_abcdefghijkl@matrix.example.org/!room:example.org",
     "not a user name and password"),
    ("matrixs://dSecret_abcdefghijkl@matrix.example.org/#room:example.org",
     "Paste the room id"),
    ("matrixs://dSecret_abcdefghijkl@matrix.example.org/%23room:example.org",
     "Paste the room id"),
    ("matrixs://dSecret_abcdefghijkl@matrix.example.org/", "Add the room id"),
    ("matrixs://dSecret_abcdefghijkl@127.0.0.1/!room:example.org", "private or reserved address"),
    # Not an address at all (a bad port, an unclosed [IPv6]): a line, not an error page.
    ("https://ntfy.sh:99999/dSecret_abcdefghijkl", "is not valid: check its host and port"),
    ("https://[::1/api/webhooks/1234567/dSecret_abcdefghijkl", "is not valid"),
    # Anything else names the forms that work.
    ("slack://dSecret_abcdefghijkl/x", "tgram:// or matrixs://"),
]


@pytest.mark.parametrize(("address", "reason"), REFUSED)
def test_an_address_the_guard_or_its_form_refuses_is_not_stored(
        app: Any, db: Any, signed_in: Any, address: str, reason: str) -> None:
    app.config["CANVAS_ALLOW_PRIVATE_HOSTS"] = False
    page = add(signed_in, address)
    assert reason in page
    assert "dSecret" not in page
    assert db.session.scalar(select(NotifyChannel)) is None


REAL_SERVICES = [
    "https://discord.com/api/webhooks/1234567/dSecret_abcdefghijkl",
    "tgram://123456789:AAHdSecret_abcdefghijkl/12345",
    "matrixs://dSecret_abcdefghijkl@matrix.example.org/!room:example.org",
]
PUBLIC = "93.184.216.34"  # any public address: nothing connects to it here


@pytest.mark.parametrize("address", REAL_SERVICES)
def test_a_real_service_name_that_resolves_to_a_private_address_is_refused(
        app: Any, db: Any, signed_in: Any, monkeypatch: pytest.MonkeyPatch,
        address: str) -> None:
    app.config["CANVAS_ALLOW_PRIVATE_HOSTS"] = False
    app.config["TELEGRAM_API_URL"] = "https://api.telegram.org"
    monkeypatch.setattr(socket, "getaddrinfo", resolve_to("10.0.0.7"))
    page = add(signed_in, address)
    assert "private or reserved address" in page and "dSecret" not in page
    assert db.session.scalar(select(NotifyChannel)) is None


@pytest.mark.parametrize(("address", "expected"), [
    ("https://ntfy.sh/topic", "ntfy"),
    ("ntfys://tk@ntfy.example.org/topic", "ntfy"),
    ("https://discord.com/api/webhooks/1/x", "discord"),
    ("https://discordapp.com/api/webhooks/1/x", "discord"),
    ("discord://1/x", "discord"),
    ("TGRAM://1:x/2", "telegram"),
    ("matrixs://t@matrix.org/!r:matrix.org", "matrix"),
])
def test_the_kind_is_told_from_the_address(address: str, expected: str) -> None:
    assert channels.kind_of(address) == expected


def test_unknown_addresses_name_the_forms_that_work() -> None:
    for address in ("mailto://me@example.org", "ntfy.sh/topic", ""):
        with pytest.raises(WebhookRefused, match="tgram:// or matrixs://"):
            channels.kind_of(address)


def test_another_students_channel_answers_404(
        app: Any, db: Any, client: Any, service: Service, kind: Kind) -> None:
    auth = AuthActions(client)
    auth.register("alice@example.edu")
    add(client, kind.address)
    row = db.session.scalar(select(NotifyChannel))
    assert row is not None
    auth.logout()
    auth.register("bob@example.edu")
    assert client.post(f"/settings/channels/{row.id}/test").status_code == 404
    assert client.post(f"/settings/channels/{row.id}/remove").status_code == 404
    page = client.get("/settings").get_data(as_text=True)
    assert kind.masked not in page
    assert service.received == []
    db.session.expire_all()
    assert db.session.get(NotifyChannel, row.id) is not None


@pytest.mark.parametrize("address", REAL_SERVICES)
def test_the_send_is_checked_again_on_the_connection_itself(
        app: Any, db: Any, signed_in: Any, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture, address: str) -> None:
    """The name passes the address check, then answers a private address to the connection:
    the guard in the connection refuses it (the request is not made by a bare ``requests``)."""
    app.config["CANVAS_ALLOW_PRIVATE_HOSTS"] = False
    app.config["TELEGRAM_API_URL"] = "https://api.telegram.org"
    monkeypatch.setattr(socket, "getaddrinfo", resolve_to(PUBLIC))
    assert "saved, encrypted" in add(signed_in, address)
    monkeypatch.setattr(socket, "getaddrinfo", resolve_to(PUBLIC, "127.0.0.1"))
    caplog.set_level(logging.INFO)
    user = the_user(db)
    settings = settings_for(user.id)
    settings.email = False
    assert dispatch(user, settings, [Alert("event:3", "s", "Essay graded")], utcnow()) == 1
    assert db.session.scalar(select(AlertDelivery.status)) == "failed"
    logged = our_log_lines(caplog)
    assert "failed: OutboundRefused" in logged and "dSecret" not in logged
