"""What leaves the web app: page text, absolute links, and the request log.

- :func:`page_text` is the Jinja ``finalize`` hook: every ``{{ value }}`` loses its Unicode
  format characters (bidi overrides and isolates) and line separators before it is escaped,
  so a Canvas name stored before the sync cleaned it cannot reorder a page.
- :func:`public_url_for` builds an absolute link from ``PUBLIC_URL``, never from the request's
  Host header, which any client can set (the OAuth ``redirect_uri``, the calendar address).
- :class:`SecretPathFilter` hides the secrets some addresses carry (the calendar feed, the
  unsubscribe link, the OAuth callback's ``code`` and ``state``) in werkzeug's and gunicorn's
  request logs.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from flask import current_app, url_for
from markupsafe import Markup

from app.safe_text import format_table, strip_format

REQUEST_LOGGERS = ("werkzeug", "gunicorn.access")
# Each secret a request line can carry, and the part of the match kept around it.
_SECRET_PARTS = (
    re.compile(r"(/calendar/)[^\s/?\"']+?(\.ics\b|[\s?\"']|$)"),
    re.compile(r"(/alerts/unsubscribe/)[^\s/?\"']+()"),
    re.compile(r"([?&](?:code|state|token|secret|access_token|api_key|key)=)[^\s&#\"']+()"),
    # A personal API token pasted anywhere into an address (the API reads only the header).
    re.compile(r"\b(gsk_)[A-Za-z0-9_-]{8,}()"),
)
REDACTED = "[redacted]"


def page_text(value: Any) -> Any:
    """A value about to be written into a page, without format characters (Markup kept)."""
    if isinstance(value, Markup):
        return value.translate(format_table(value))  # Markup's translate stays Markup
    if isinstance(value, str):
        return strip_format(value)
    return value


def public_url_for(endpoint: str, **values: Any) -> str:
    """The absolute address of ``endpoint`` under ``PUBLIC_URL`` (not the Host header)."""
    base = str(current_app.config.get("PUBLIC_URL") or "http://localhost:5000").rstrip("/")
    return base + url_for(endpoint, **values)


def redact(text: str) -> str:
    """``text`` with the secrets that request paths can carry replaced by ``[redacted]``."""
    for pattern in _SECRET_PARTS:
        text = pattern.sub(lambda m: m.group(1) + REDACTED + m.group(2), text)
    return text


class SecretPathFilter(logging.Filter):
    """Rewrites a request log record so no calendar secret, link token or OAuth code shows."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def hide_secrets_in_request_logs() -> None:
    """Attach :class:`SecretPathFilter` (once) to werkzeug's and gunicorn's request loggers."""
    for name in REQUEST_LOGGERS:
        target = logging.getLogger(name)
        if not any(isinstance(f, SecretPathFilter) for f in target.filters):
            target.addFilter(SecretPathFilter())
