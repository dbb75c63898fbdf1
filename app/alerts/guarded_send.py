"""One request of a notification channel, sent through the outbound guard.

Every channel (ntfy, Discord, Telegram, Matrix) is a single POST or PUT. This is where it
leaves: :func:`app.outbound.guarded_session` (the address resolved once and checked on the
connection, a wall-clock deadline, a small uncompressed answer), no redirect followed, and any
answer outside 2xx raised as ``requests.HTTPError`` naming only the service and the status -
never the address, which holds the channel's secret.
"""

from __future__ import annotations

from typing import Any

import requests

from app.alerts.webhook import LIMITS, WEBHOOK_TIMEOUT_S
from app.outbound import OutboundPolicy, guarded_session
from app.outbound_limits import BodyTooLarge


def send(method: str, url: str, policy: OutboundPolicy, *, service: str,
         headers: dict[str, str] | None = None, data: bytes | None = None,
         json: Any = None) -> requests.Response:
    """Send one request; raises ``requests.RequestException`` (``HTTPError`` for a non-2xx
    answer, a redirect too) or ``OutboundRefused``."""
    with guarded_session(policy, limits=LIMITS) as session:
        try:
            response = session.request(method, url, headers=headers, data=data, json=json,
                                       timeout=WEBHOOK_TIMEOUT_S, allow_redirects=False)
        except BodyTooLarge as exc:  # a long answer: its status is all that matters
            if exc.response is None:
                raise
            response = exc.response
    if not 200 <= response.status_code < 300:
        raise requests.HTTPError(f"{service} answered {response.status_code}", response=response)
    return response
