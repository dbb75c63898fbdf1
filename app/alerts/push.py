"""Web Push: the alerts email sends, to the browsers a student allowed (RFC 8030/8291/8292).

A subscription (the browser's push-service endpoint and its two keys) is checked by the
outbound guard when saved - the endpoint is a URL a browser hands us, so it gets the same
rules as a webhook - and stored with the endpoint encrypted. To send, the JSON payload is
encrypted for that browser alone (``aes128gcm``, RFC 8291: an ephemeral P-256 key agreed with
the subscription's ``p256dh`` and ``auth``, by :mod:`http_ece`), signed for the push service
with the server's VAPID key (RFC 8292, by :mod:`py_vapid`) and POSTed through
:func:`app.outbound.guarded_session`. A push service answering 404 or 410 means the browser
unsubscribed: the row is deleted (the service's positive answer, not a guess).

pywebpush is not used: it adds aiohttp and its own unguarded ``requests`` call for the same
two library calls made here.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import http_ece
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import current_app
from py_vapid import Vapid02
from sqlalchemy import delete, select

from app.alerts.prefs import WebhookRefused, check_outbound_url
from app.alerts.vapid_key import load_or_create_vapid_key
from app.alerts.webhook import LIMITS, WEBHOOK_TIMEOUT_S
from app.extensions import db
from app.models import PushSubscription, utcnow
from app.outbound import OutboundPolicy, guarded_session
from app.outbound_limits import BodyTooLarge
from app.safe_text import strip_control
from app.security import TokenCipher

logger = logging.getLogger(__name__)

MAX_SUBSCRIPTIONS = 10  # browsers per student; the oldest goes when an 11th subscribes
MAX_BODY = 1000  # characters of alert text in one notification (a push carries ~4 KiB)
TTL_S = 24 * 3600  # a phone that is off for a day still gets the alert when it wakes
GONE = (404, 410)


class PushRefused(ValueError):
    """A subscription we will not store; the message says what is wrong."""


class NoDevice(requests.RequestException):
    """No browser took the push: none subscribed, or every push service said it is gone."""


@dataclass(frozen=True)
class Subscription:
    """What a browser's ``PushSubscription.toJSON()`` gives, checked."""

    endpoint: str
    p256dh: str
    auth: str


def enabled(config: Mapping[str, Any]) -> bool:
    return bool(config.get("WEB_PUSH_ENABLED"))


def private_key(config: Mapping[str, Any]) -> str:
    """The VAPID private key: ``VAPID_PRIVATE_KEY``, else ``instance/vapid_private_key``."""
    given = config.get("VAPID_PRIVATE_KEY")
    if given:
        return str(given)
    return load_or_create_vapid_key(Path(current_app.instance_path))


def public_key(config: Mapping[str, Any]) -> str:
    """The browser's ``applicationServerKey``: the VAPID public key, base64url, uncompressed."""
    point = Vapid02.from_raw(private_key(config).encode()).public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return _b64(point)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parse(data: object, policy: OutboundPolicy) -> Subscription:
    """A browser's subscription JSON, checked: the endpoint by the outbound guard, the keys
    by their length (a P-256 point of 65 bytes, an auth secret of 16)."""
    if not isinstance(data, dict):
        raise PushRefused("Send the subscription as JSON: {endpoint, keys: {p256dh, auth}}.")
    keys = data.get("keys")
    endpoint = data.get("endpoint")
    if not isinstance(endpoint, str) or not isinstance(keys, dict):
        raise PushRefused("The subscription needs an endpoint and keys.")
    p256dh, auth = keys.get("p256dh"), keys.get("auth")
    try:
        point = _unb64(p256dh) if isinstance(p256dh, str) and len(p256dh) <= 128 else b""
        secret = _unb64(auth) if isinstance(auth, str) and len(auth) <= 32 else b""
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError:
        raise PushRefused("The subscription's p256dh key is not a P-256 public key.") from None
    if len(secret) != 16:
        raise PushRefused("The subscription's auth secret is not 16 bytes.")
    try:
        endpoint = check_outbound_url(endpoint, policy, "push endpoint")
    except WebhookRefused as exc:
        raise PushRefused(str(exc)) from None
    return Subscription(endpoint, _b64(point), _b64(secret))


def _digest(endpoint: str) -> str:
    return hashlib.sha256(endpoint.encode()).hexdigest()


def _cipher() -> TokenCipher:
    cipher: TokenCipher = current_app.extensions["token_cipher"]
    return cipher


def save(user_id: int, sub: Subscription) -> None:
    """Store (or refresh the keys of) the browser's subscription and commit."""
    digest = _digest(sub.endpoint)
    row = db.session.scalar(select(PushSubscription).where(
        PushSubscription.user_id == user_id, PushSubscription.endpoint_sha256 == digest))
    if row is None:
        row = PushSubscription(user_id=user_id, endpoint_sha256=digest,
                               endpoint_encrypted=_cipher().encrypt(sub.endpoint),
                               endpoint_host=urlsplit(sub.endpoint).hostname or "")
        db.session.add(row)
    row.p256dh, row.auth = sub.p256dh, sub.auth
    db.session.flush()
    extra = db.session.scalars(
        select(PushSubscription.id).where(PushSubscription.user_id == user_id)
        .order_by(PushSubscription.id.desc()).offset(MAX_SUBSCRIPTIONS)).all()
    if extra:
        db.session.execute(delete(PushSubscription).where(PushSubscription.id.in_(extra)))
    db.session.commit()


def forget(user_id: int, endpoint: str) -> None:
    """Delete the browser's subscription (it unsubscribed) and commit."""
    db.session.execute(delete(PushSubscription).where(
        PushSubscription.user_id == user_id,
        PushSubscription.endpoint_sha256 == _digest(endpoint.strip())))
    db.session.commit()


def count(user_id: int) -> int:
    return len(db.session.scalars(
        select(PushSubscription.id).where(PushSubscription.user_id == user_id)).all())


def payload(lines: list[str], *, digest: bool, public_url: str) -> bytes:
    """What the service worker shows: a title, the alert text and the dashboard to open."""
    clean = [strip_control(line) for line in lines]
    if digest or len(clean) > 1:
        title = f"GradeSync: {len(clean)} update{'s' if len(clean) != 1 else ''}"
    else:
        title = "GradeSync"
    body = "\n".join(clean)
    body = body if len(body) <= MAX_BODY else body[: MAX_BODY - 1] + "…"
    return json.dumps({"title": title, "body": body, "url": public_url + "/"}).encode()


def encrypt(data: bytes, p256dh: str, auth: str) -> bytes:
    """``data`` as an RFC 8291 ``aes128gcm`` body for the subscription with these keys."""
    sender = ec.generate_private_key(ec.SECP256R1())  # new for every message
    encrypted: bytes = http_ece.encrypt(data, private_key=sender, dh=_unb64(p256dh),
                                        auth_secret=_unb64(auth), version="aes128gcm")
    return encrypted


def _vapid_headers(endpoint: str, config: Mapping[str, Any]) -> dict[str, str]:
    parts = urlsplit(endpoint)
    claims = {
        "aud": f"{parts.scheme}://{parts.netloc}",
        "exp": int((utcnow() + timedelta(hours=12)).timestamp()),
        "sub": _subject(config),
    }
    signed: dict[str, str] = Vapid02.from_raw(private_key(config).encode()).sign(claims)
    return signed


def _subject(config: Mapping[str, Any]) -> str:
    """Who runs this server, for the push services: VAPID_SUBJECT, the mail sender or the
    public address when it is https."""
    if config.get("VAPID_SUBJECT"):
        return str(config["VAPID_SUBJECT"])
    if config.get("MAIL_DEFAULT_SENDER"):
        return f"mailto:{config['MAIL_DEFAULT_SENDER']}"
    public = str(config.get("PUBLIC_URL") or "")
    return public if public.startswith("https://") else "mailto:gradesync@localhost"


def send_one(row: PushSubscription, data: bytes, config: Mapping[str, Any]) -> bool:
    """Push ``data`` to one browser; False when its service says it is gone (row deleted).

    Raises ``requests.RequestException`` or ``OutboundRefused`` for any other failure.
    """
    endpoint = _cipher().decrypt(row.endpoint_encrypted)
    headers = {"TTL": str(TTL_S), "Content-Encoding": "aes128gcm", "Urgency": "normal",
               "Content-Type": "application/octet-stream", **_vapid_headers(endpoint, config)}
    body = encrypt(data, row.p256dh, row.auth)
    with guarded_session(OutboundPolicy.from_config(config), limits=LIMITS) as session:
        try:
            response = session.post(endpoint, data=body, headers=headers,
                                    timeout=WEBHOOK_TIMEOUT_S, allow_redirects=False)
        except BodyTooLarge as exc:  # only the status matters
            if exc.response is None:
                raise
            response = exc.response
    if response.status_code in GONE:
        db.session.delete(row)
        db.session.commit()
        return False
    if not 200 <= response.status_code < 300:
        raise requests.HTTPError(f"the push service answered {response.status_code}",
                                 response=response)
    return True


def send(user_id: int, lines: list[str], *, digest: bool = False) -> int:
    """Push the alert to every browser of the student; how many took it.

    One browser failing does not stop the others; if none took it, that failure (or
    :class:`NoDevice`) is raised, so the delivery row says ``failed``.
    """
    config = current_app.config
    data = payload(lines, digest=digest, public_url=str(config.get("PUBLIC_URL") or ""))
    rows = db.session.scalars(
        select(PushSubscription).where(PushSubscription.user_id == user_id)
        .order_by(PushSubscription.id)).all()
    delivered, error = 0, None
    for row in rows:
        try:
            delivered += send_one(row, data, config)
        except Exception as exc:  # noqa: BLE001 - the next browser still gets it
            logger.info("push to user %s via %s failed: %s", user_id, row.endpoint_host,
                        type(exc).__name__)
            error = exc
    if not delivered:
        raise error if error is not None else NoDevice("no browser took the push")
    return delivered
