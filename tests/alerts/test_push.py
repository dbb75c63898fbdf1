"""Issue 22: Web Push and ntfy channels, end to end on loopback.

A browser's subscription is stood in for by a key pair made here and a local receiver as its
push service. The alert goes out the real way (``dispatch`` -> the push channel -> the guarded
session), and the body the receiver got is decrypted here with the subscription's private key
(RFC 8291 ``aes128gcm``, by http_ece): it must read as the alert. The VAPID header must verify
with the public key the page hands the browser. An ntfy channel is added in Settings, shown
only masked, and its "Send a test" arrives with its token; addresses the guard refuses are
never stored.
"""

from __future__ import annotations

import base64
import json
import os
import stat
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import http_ece
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from sqlalchemy import select

from app.alerts.choose import Alert
from app.alerts.deliver import dispatch
from app.alerts.prefs import settings_for
from app.alerts.vapid_key import load_or_create_vapid_key
from app.models import AlertDelivery, NotifyChannel, PushSubscription, User, utcnow
from config import Config, ConfigError
from tests.live_server import serving


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Receiver(ThreadingHTTPServer):
    """A push service (or ntfy server) on loopback: records each POST, answers ``status``."""

    status = 201

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received: list[tuple[str, dict[str, str], bytes]] = []

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.received.append((self.path, dict(self.headers), body))
        self.send_response(self.server.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serving(Receiver()) as server:
        yield server



def browser_keys() -> tuple[ec.EllipticCurvePrivateKey, bytes]:
    """What a browser makes when it subscribes: a P-256 key pair and a 16-byte auth secret."""
    return ec.generate_private_key(ec.SECP256R1()), os.urandom(16)


def subscription(endpoint: str, key: ec.EllipticCurvePrivateKey, auth: bytes) -> dict[str, Any]:
    point = key.public_key().public_bytes(serialization.Encoding.X962,
                                          serialization.PublicFormat.UncompressedPoint)
    return {"endpoint": endpoint, "keys": {"p256dh": b64(point), "auth": b64(auth)}}


def verify_vapid(header: str, public_key: str, audience: str) -> dict[str, Any]:
    """Check ``vapid t=JWT,k=KEY`` as a push service does (RFC 8292); the JWT's claims."""
    assert header.startswith("vapid ")
    fields = dict(part.split("=", 1) for part in header[len("vapid "):].split(","))
    assert fields["k"] == public_key
    head, claims, signature = fields["t"].split(".")
    raw = unb64(signature)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64(public_key))
    try:
        key.verify(der, f"{head}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        pytest.fail("the VAPID signature does not verify with the page's public key")
    decoded: dict[str, Any] = json.loads(unb64(claims))
    assert decoded["aud"] == audience
    return decoded


def the_user(db: Any) -> User:
    user = db.session.scalar(select(User))
    assert user is not None
    return user


def test_a_push_alert_decrypts_on_loopback_to_the_alert(
        app: Any, db: Any, signed_in: Any, receiver: Receiver) -> None:
    key, auth = browser_keys()
    public_key = signed_in.get("/push/key").get_json()["publicKey"]
    endpoint = f"{receiver.origin}/push/v2/device-1"
    answer = signed_in.post("/push/subscribe", json=subscription(endpoint, key, auth))
    assert answer.status_code == 201, answer.get_json()

    user = the_user(db)
    stored = db.session.scalar(select(PushSubscription))
    assert endpoint.encode() not in stored.endpoint_encrypted  # the capability URL is encrypted
    text = "Biology 101: Lab 3 graded, 18/20 (90%). Course grade now 91.2% (A-)."
    settings = settings_for(user.id)
    settings.email = False
    assert dispatch(user, settings, [Alert("event:1", "Lab 3 graded", text)], utcnow()) == 1

    assert len(receiver.received) == 1
    path, headers, body = receiver.received[0]
    assert path == "/push/v2/device-1"
    assert headers["Content-Encoding"] == "aes128gcm"
    assert int(headers["TTL"]) > 0
    claims = verify_vapid(headers["Authorization"], public_key, receiver.origin)
    assert claims["exp"] > utcnow().timestamp()
    assert text.encode() not in body  # it is encrypted on the wire
    plain = http_ece.decrypt(body, private_key=key, auth_secret=auth, version="aes128gcm")
    message = json.loads(plain)
    assert message["body"] == text
    assert message["title"] == "GradeSync"
    assert message["url"].endswith("/")
    row = db.session.scalar(select(AlertDelivery).where(AlertDelivery.channel == "push"))
    assert row.status == "sent"

    # The same alert again (a second sync): nothing new is pushed.
    assert dispatch(user, settings, [Alert("event:1", "Lab 3 graded", text)], utcnow()) == 0
    assert len(receiver.received) == 1


def test_a_browser_that_unsubscribed_is_forgotten(
        app: Any, db: Any, signed_in: Any, receiver: Receiver) -> None:
    key, auth = browser_keys()
    signed_in.post("/push/subscribe", json=subscription(f"{receiver.origin}/gone", key, auth))
    receiver.status = 410  # the push service says the subscription is gone
    page = signed_in.post("/settings/push/test", follow_redirects=True).get_data(as_text=True)
    assert "No device gets notifications" in page
    assert db.session.scalar(select(PushSubscription)) is None
    assert len(receiver.received) == 1


def test_the_test_button_pushes_to_the_device(
        app: Any, db: Any, signed_in: Any, receiver: Receiver) -> None:
    key, auth = browser_keys()
    signed_in.post("/push/subscribe", json=subscription(f"{receiver.origin}/d", key, auth))
    page = signed_in.post("/settings/push/test", follow_redirects=True).get_data(as_text=True)
    assert "Test notification sent to 1 device." in page
    body = receiver.received[0][2]
    plain = http_ece.decrypt(body, private_key=key, auth_secret=auth, version="aes128gcm")
    assert "your alerts will arrive here" in json.loads(plain)["body"]
    assert "1 device gets notifications" in signed_in.get("/settings").get_data(as_text=True)


def test_a_private_push_endpoint_is_refused_under_the_strict_guard(
        app: Any, db: Any, signed_in: Any) -> None:
    app.config["CANVAS_ALLOW_PRIVATE_HOSTS"] = False
    key, auth = browser_keys()
    answer = signed_in.post("/push/subscribe",
                            json=subscription("https://127.0.0.1:9/x", key, auth))
    assert answer.status_code == 400
    assert "private or reserved address" in answer.get_json()["error"]
    answer = signed_in.post("/push/subscribe", json={"endpoint": "https://example.com/x",
                                                     "keys": {"p256dh": "AAAA", "auth": "x"}})
    assert answer.status_code == 400
    assert "p256dh" in answer.get_json()["error"]
    assert db.session.scalar(select(PushSubscription)) is None


def test_an_ntfy_channel_is_masked_encrypted_and_its_test_arrives(
        app: Any, db: Any, signed_in: Any, receiver: Receiver) -> None:
    token = "tk_a1b2c3d4e5f6secret"
    address = f"ntfy://{token}@127.0.0.1:{receiver.server_port}/grades-topic"
    page = signed_in.post("/settings/channels", data={"address": address},
                          follow_redirects=True).get_data(as_text=True)
    assert "saved, encrypted" in page
    assert token not in page and "grades-topic" not in page
    assert f"ntfy://****@127.0.0.1:{receiver.server_port}/gr****" in page
    row = db.session.scalar(select(NotifyChannel))
    assert token.encode() not in row.url_encrypted

    page = signed_in.post(f"/settings/channels/{row.id}/test",
                          follow_redirects=True).get_data(as_text=True)
    assert "Test sent to" in page and token not in page
    path, headers, body = receiver.received[0]
    assert path == "/grades-topic"
    assert headers["Authorization"] == f"Bearer {token}"
    assert "your alerts will arrive here" in body.decode()

    # A real alert goes there too, once.
    user = the_user(db)
    settings = settings_for(user.id)
    settings.email = False
    assert dispatch(user, settings, [Alert("event:7", "s", "Essay graded")], utcnow()) == 1
    assert receiver.received[-1][2] == b"Essay graded"

    receiver.status = 403  # a wrong token: the test says so, without the address
    page = signed_in.post(f"/settings/channels/{row.id}/test",
                          follow_redirects=True).get_data(as_text=True)
    assert "failed (it answered 403)" in page and token not in page

    signed_in.post(f"/settings/channels/{row.id}/remove")
    assert db.session.scalar(select(NotifyChannel)) is None


def test_an_ntfy_address_the_guard_refuses_is_not_stored(
        app: Any, db: Any, signed_in: Any) -> None:
    app.config["CANVAS_ALLOW_PRIVATE_HOSTS"] = False
    for address, reason in [
        ("ntfys://tk_secret@127.0.0.1/topic", "private or reserved address"),
        ("ntfy://tk_secret@example.com/topic", "plain http is not allowed"),
        ("https://ntfy.sh/", "topic"),
        ("ftp://ntfy.sh/topic", "Enter an address that starts with https://"),  # any kind
    ]:
        page = signed_in.post("/settings/channels", data={"address": address},
                              follow_redirects=True).get_data(as_text=True)
        assert reason in page, address
        assert "tk_secret" not in page
    assert db.session.scalar(select(NotifyChannel)) is None


def test_the_vapid_key_is_made_once_private_and_kept(tmp_path: Path) -> None:
    first = load_or_create_vapid_key(tmp_path)
    path = tmp_path / "vapid_private_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_vapid_key(tmp_path) == first
    assert len(unb64(first)) == 32

    given = tmp_path / "vapid.secret"
    given.write_text(first + "\n")
    config = Config({"VAPID_PRIVATE_KEY_FILE": str(given), "SECRET_KEY": "x" * 4 + first})
    assert config.VAPID_PRIVATE_KEY == first

    path.write_text("not a key")
    with pytest.raises(ConfigError, match="delete the file"):
        load_or_create_vapid_key(tmp_path)
    with pytest.raises(ConfigError, match="VAPID_PRIVATE_KEY is not"):
        Config({"VAPID_PRIVATE_KEY": "short", "SECRET_KEY": "x" * 4 + first})
