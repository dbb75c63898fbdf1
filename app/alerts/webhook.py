"""An alert as a webhook: one JSON POST that Discord (``content``) and Slack (``text``) read.

Sent through :func:`app.outbound.guarded_session`, the same guard as every Canvas request: the
address is resolved once per connection and refused if it leads somewhere private.

The text comes from Canvas (course and assignment names), so it must not ping anyone: Discord
gets ``allowed_mentions: {"parse": []}`` (no ``@everyone``, ``@here``, role or user mention
notifies), and Slack's ``text`` has ``&``, ``<`` and ``>`` escaped as Slack's message format
asks (so ``<!channel>`` or ``<@U123>`` shows as typed) and a word joiner after every ``@``
(so ``@channel`` stays text even where a workspace links bare names).
"""

from __future__ import annotations

import requests

from app.outbound import OutboundPolicy, guarded_session
from app.safe_text import strip_control

WEBHOOK_TIMEOUT_S = (5.0, 10.0)
MAX_CONTENT = 1900  # Discord refuses a message over 2,000 characters
WORD_JOINER = "\u2060"  # invisible; keeps "@" and "channel" from reading as one mention


def _cut(text: str) -> str:
    return text if len(text) <= MAX_CONTENT else text[: MAX_CONTENT - 1] + "…"


def slack_text(text: str) -> str:
    """``text`` as Slack shows it literally: its control characters escaped, no mention."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return escaped.replace("@", "@" + WORD_JOINER)


def payload(lines: list[str]) -> dict[str, object]:
    text = _cut("\n".join(strip_control(line) for line in lines))
    return {
        "content": text,
        "allowed_mentions": {"parse": []},
        "text": _cut(slack_text(text)),
    }


def post(url: str, lines: list[str], policy: OutboundPolicy) -> None:
    """POST the alert; raises ``requests.RequestException`` or ``OutboundRefused``."""
    with guarded_session(policy) as session:
        response = session.post(
            url, json=payload(lines), timeout=WEBHOOK_TIMEOUT_S, allow_redirects=False
        )
    if not 200 <= response.status_code < 300:  # a redirect too: never follow it elsewhere
        raise requests.HTTPError(f"the webhook answered {response.status_code}",
                                 response=response)
