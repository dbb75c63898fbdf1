"""Alert email over SMTP (``smtplib``), with a signed one-click unsubscribe link.

The link carries ``{"u": user_id, "t": issued (ms)}`` signed with ``SECRET_KEY`` under a salt
of its own (:data:`UNSUBSCRIBE_SALT`), so a token made for another purpose (or edited) is
refused, and it works without signing in. It expires after :data:`UNSUBSCRIBE_MAX_AGE`, and it
does nothing once the student changed their alert choices after it was issued (its own use
counts), so an old email cannot turn alerts off again. Every message also has a plain
``List-Unsubscribe`` and ``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` (RFC 8058), so
mail clients offer one-click unsubscribe.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import policy as email_policy
from email.message import EmailMessage
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

from app.safe_text import strip_control

logger = logging.getLogger(__name__)

UNSUBSCRIBE_SALT = "gradesync-alerts-unsubscribe"
UNSUBSCRIBE_PATH = "/alerts/unsubscribe/"
# An unsubscribe link works for this long after its email was sent; then signing in does it.
UNSUBSCRIBE_MAX_AGE = timedelta(days=60)
CLOCK_SKEW = timedelta(minutes=5)  # a link "from the future" (another server's clock) is odd
# The CLI waits for the SMTP server: a slow or dead one must not hold a sync for long.
SMTP_TIMEOUT_S = 10.0
MAX_SUBJECT = 150
# RFC 5322's line limit instead of 78: a header with one long word (the unsubscribe address)
# is then sent as it is. At 78 the email package would RFC 2047-encode it, and mail clients
# read no List-Unsubscribe address out of "=?utf-8?q?=3Chttp...".
MESSAGE_POLICY = email_policy.SMTP.clone(max_line_length=998)


@dataclass(frozen=True)
class MailSettings:
    """``MAIL_*`` from the app's configuration; ``server`` None means mail is off."""

    server: str | None
    port: int
    use_tls: bool
    username: str | None
    password: str | None
    sender: str | None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> MailSettings:
        return cls(
            server=config.get("MAIL_SERVER") or None,
            port=int(config.get("MAIL_PORT") or 25),
            use_tls=bool(config.get("MAIL_USE_TLS")),
            username=config.get("MAIL_USERNAME") or None,
            password=config.get("MAIL_PASSWORD") or None,
            sender=config.get("MAIL_DEFAULT_SENDER") or None,
        )

    @property
    def enabled(self) -> bool:
        return bool(self.server and self.sender)


def _serializer(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt=UNSUBSCRIBE_SALT)


@dataclass(frozen=True)
class UnsubscribeLink:
    """What a genuine token says: whose alerts, and when the link was issued."""

    user_id: int
    issued: datetime

    def expired(self, now: datetime) -> bool:
        return now - self.issued > UNSUBSCRIBE_MAX_AGE or self.issued > now + CLOCK_SKEW

    def outdated(self, changed_at: datetime | None) -> bool:
        """Issued before the student's last change of their alert choices (this link's own
        unsubscribe among them): it must not undo that change."""
        return changed_at is not None and changed_at >= self.issued


def unsubscribe_token(secret_key: str, user_id: int, issued: datetime) -> str:
    """The signed token in a student's unsubscribe link: the user and when it was issued."""
    stamp = int(issued.astimezone(UTC).timestamp() * 1000)
    return _serializer(secret_key).dumps({"u": user_id, "t": stamp})


def read_unsubscribe_token(secret_key: str, token: str) -> UnsubscribeLink | None:
    """What a genuine unsubscribe token names; None for a forged, damaged or old-style one."""
    try:
        data = _serializer(secret_key).loads(token)
    except BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    user_id, stamp = data.get("u"), data.get("t")
    if not isinstance(user_id, int) or not isinstance(stamp, int):
        return None  # a link from before links expired: no date, so it no longer works
    try:
        issued = datetime.fromtimestamp(stamp / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return UnsubscribeLink(user_id, issued)


def unsubscribe_url(public_url: str, secret_key: str, user_id: int, issued: datetime) -> str:
    return public_url.rstrip("/") + UNSUBSCRIBE_PATH + unsubscribe_token(
        secret_key, user_id, issued)


def build_message(
    settings: MailSettings, to: str, subject: str, lines: list[str], unsubscribe: str
) -> EmailMessage:
    """One alert email. Its text comes from Canvas: the subject is made one plain line (a
    U+2028 in a course name would otherwise be refused as a line break in a header) and each
    body line loses control and format characters."""
    message = EmailMessage(policy=MESSAGE_POLICY)
    message["From"] = settings.sender or ""
    message["To"] = to
    message["Subject"] = " ".join(strip_control(subject).split())[:MAX_SUBJECT]
    message["List-Unsubscribe"] = f"<{unsubscribe}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    body = "\n".join(strip_control(line) for line in lines)
    message.set_content(
        f"{body}\n\n--\nGradeSync alerts. Stop these emails with one click: {unsubscribe}\n"
    )
    return message


def send(settings: MailSettings, message: EmailMessage) -> None:
    """Hand one message to the SMTP server (raises ``smtplib.SMTPException`` / ``OSError``)."""
    assert settings.server is not None
    with smtplib.SMTP(settings.server, settings.port, timeout=SMTP_TIMEOUT_S) as smtp:
        if settings.use_tls:
            smtp.starttls()
        if settings.username and settings.password:
            smtp.login(settings.username, settings.password)
        smtp.send_message(message)
