"""A student's alert settings: read with defaults, saved with a checked webhook address."""

from __future__ import annotations

import socket
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from flask import current_app

from app.extensions import db
from app.models import AlertSettings, utcnow
from app.outbound import OutboundPolicy, OutboundRefused, check_address, normalise_host
from app.security import TokenCipher

MAX_WEBHOOK_URL = 2048


class WebhookRefused(ValueError):
    """A webhook address the outbound guard will not send to; the message says why."""


def settings_for(user_id: int) -> AlertSettings:
    """The student's settings, or the defaults (new-grade emails on, the rest off), unsaved."""
    found = db.session.get(AlertSettings, user_id)
    if found is not None:
        return found
    return AlertSettings(
        user_id=user_id, on_grade=True, on_course_grade=False, on_missing=False,
        on_due_soon=False, on_reconnect=False, email=True, digest=False,
    )


def check_webhook_url(url: str, policy: OutboundPolicy) -> str:
    """``url`` if the outbound guard would send to it; else :class:`WebhookRefused`.

    The same rules as a Canvas address: https to a public host (plain http and private
    addresses only where the policy allows them), checked again on every connection.
    """
    return check_outbound_url(url, policy, "webhook address")


def check_outbound_url(url: str, policy: OutboundPolicy, what: str) -> str:
    """``url`` (``what``: how to name it to the student) if the guard would send to it."""
    url = url.strip()
    if len(url) > MAX_WEBHOOK_URL:
        raise WebhookRefused(f"The {what} is longer than {MAX_WEBHOOK_URL} characters.")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise WebhookRefused(f"Enter the {what} as https://host/path.")
    if parts.scheme == "http" and not policy.allow_private:
        raise WebhookRefused(f"The {what} must start with https://.")
    if parts.username or parts.password:
        raise WebhookRefused(f"Leave the user name and password out of the {what}.")
    try:
        host = normalise_host(parts.hostname)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
    except (UnicodeError, ValueError) as exc:
        raise WebhookRefused(f"The {what} is not valid: {exc}.") from None
    except OSError:
        raise WebhookRefused(f"{parts.hostname} could not be found: check the address.") from None
    if policy.allowed_hosts and host not in policy.allowed_hosts:
        raise WebhookRefused(f"{host} is not an allowed host on this server.")
    for info in infos:
        try:
            check_address(str(info[4][0]), policy=policy, tls=parts.scheme == "https", host=host)
        except OutboundRefused as exc:
            raise WebhookRefused(f"{exc}.") from None
    return url


def webhook_url(settings: AlertSettings) -> str | None:
    """The student's webhook address, decrypted (None when there is none)."""
    if settings.webhook_url_encrypted is None:
        return None
    cipher: TokenCipher = current_app.extensions["token_cipher"]
    return cipher.decrypt(settings.webhook_url_encrypted)


def save_settings(user_id: int, values: Mapping[str, Any], policy: OutboundPolicy) -> None:
    """Store the student's choices and commit.

    ``webhook_url``: a new address (checked by the outbound guard first, then encrypted); empty
    keeps the saved one; ``remove_webhook`` deletes it.
    """
    webhook = (values.get("webhook_url") or "").strip() or None
    if webhook is not None:
        webhook = check_webhook_url(webhook, policy)
    row = db.session.get(AlertSettings, user_id)
    if row is None:
        row = settings_for(user_id)
        db.session.add(row)
    for name in ("on_grade", "on_course_grade", "on_missing", "on_due_soon", "on_reconnect",
                 "email", "digest"):
        setattr(row, name, bool(values.get(name)))
    row.grade_threshold = values.get("grade_threshold")
    row.quiet_start = values.get("quiet_start")
    row.quiet_end = values.get("quiet_end")
    row.changed_at = utcnow()  # older unsubscribe links no longer undo this choice
    if webhook is not None:
        cipher: TokenCipher = current_app.extensions["token_cipher"]
        row.webhook_url_encrypted = cipher.encrypt(webhook)
        row.webhook_host = urlsplit(webhook).hostname
    elif values.get("remove_webhook"):
        row.webhook_url_encrypted = None
        row.webhook_host = None
    db.session.commit()


def unsubscribe_email(user_id: int) -> None:
    """Turn off every alert email for the student (the unsubscribe link's one effect)."""
    row = db.session.get(AlertSettings, user_id)
    if row is None:
        row = settings_for(user_id)
        db.session.add(row)
    row.email = False
    row.changed_at = utcnow()
    db.session.commit()


def changed_at(user_id: int) -> datetime | None:
    """When the student last changed their alert choices (None: never recorded)."""
    row = db.session.get(AlertSettings, user_id)
    return row.changed_at if row is not None else None
