"""What can go wrong talking to Canvas, one exception per meaning, with messages for people.

::

    CanvasError                  any failure; .host, .endpoint, .status
    ├── InvalidToken             401 with WWW-Authenticate: bad, expired, revoked or no token
    ├── NotPermitted             401 without WWW-Authenticate, or a 403 that is not a throttle
    │   └── ScopeRefused         "Insufficient scopes on access token." (every course alike)
    ├── NotFound                 404: deleted, or not enrolled any more
    ├── RateLimited              still throttled (403 "Rate Limit Exceeded" / 429) after retries
    ├── CanvasUnavailable        5xx or connection failures after retries
    ├── CanvasTimeout            no answer within the timeout
    ├── UnsafeAddress            the host resolved to an address GradeSync does not connect to
    └── BadResponse              a body that cannot be read (bad JSON, not a list)
        └── ResponseTooLarge     a body, its decompressed size or a page count over a limit

Every message names the Canvas host and says what the user can do about it. None of them ever
contains the access token: they are built from the host, the path and Canvas's own message.
Messages are stripped of control characters and ANSI escapes (``strip_control``): Canvas's own
words end up in terminals and log lines.
"""

from __future__ import annotations

import json
from typing import Any, TypedDict
from urllib.parse import urlsplit

import requests

from app.canvas.throttle import is_throttle
from app.safe_text import strip_control

RENEW_ADVICE = (
    "create a new token in Canvas → Account → Settings and save it in GradeSync's settings"
)
MAX_MESSAGE = 200


class _Where(TypedDict):
    """Where an error happened: the keyword arguments every ``CanvasError`` takes."""

    host: str
    endpoint: str
    status: int


class CanvasError(Exception):
    """Any failure talking to Canvas."""

    def __init__(
        self,
        message: str,
        *,
        host: str | None = None,
        endpoint: str | None = None,
        status: int | None = None,
    ) -> None:
        message = strip_control(message)
        super().__init__(message)
        self.message = message
        self.host = host
        self.endpoint = endpoint
        self.status = status


class InvalidToken(CanvasError):
    """Canvas does not accept the access token; ``reason`` is invalid/expired/revoked/missing."""

    def __init__(self, message: str, *, reason: str = "invalid", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.reason = reason


class NotPermitted(CanvasError):
    """The token is fine but may not read this (closed course, missing scope, no User-Agent)."""


class ScopeRefused(NotPermitted):
    """401 "Insufficient scopes on access token.": the token's scopes (a developer key's, or a
    scoped personal token's) do not cover this endpoint. It says nothing about one course: every
    request to the endpoint gets it (canvas-lms AuthenticationMethods#validate_scopes)."""


class NotFound(CanvasError):
    """The resource does not exist (deleted, or the student is no longer enrolled)."""


class RateLimited(CanvasError):
    """Canvas kept throttling the token after every retry."""


class CanvasUnavailable(CanvasError):
    """Canvas answered 5xx, or could not be reached, after every retry."""


class CanvasTimeout(CanvasError):
    """Canvas did not answer within the timeout."""


class UnsafeAddress(CanvasError):
    """The Canvas host resolved to an address the outbound policy refuses (private, loopback)."""


class BadResponse(CanvasError):
    """Canvas answered 200 with a body that cannot be read as the expected JSON."""


class ResponseTooLarge(BadResponse):
    """A body (on the wire or decompressed) or a list's page count went over GradeSync's limit."""


def says_token_invalid(response: requests.Response) -> bool:
    """A 401 that blames the token (invalid, expired, revoked or missing): worth a refresh.

    Canvas adds ``WWW-Authenticate: Bearer realm="canvas-lms"`` exactly then: canvas-lms
    ``ApplicationController#api_error_json`` for ``AccessTokenError`` (and its expired/revoked
    subclasses), and ``AuthenticationMethods#render_json_unauthorized`` only when there is no
    current user. "user not authorized to perform that action" (an unreadable course) and
    "Insufficient scopes on access token." (``AccessTokenScopeError``) come without it: a new
    token would be refused the same way, and each refresh replaces the token at Canvas.
    """
    return response.status_code == 401 and "www-authenticate" in response.headers


def canvas_message(response: requests.Response) -> str:
    """Canvas's own explanation from an error body, whatever shape the endpoint uses."""
    try:
        body = response.json()
    except ValueError:
        return strip_control(response.text).strip()[:MAX_MESSAGE]
    return strip_control(_message_from(body)).strip()[:MAX_MESSAGE]


def _message_from(body: Any) -> str:
    if isinstance(body, dict):
        for key in ("errors", "error", "message"):
            if key in body:
                return _message_from(body[key])
        return json.dumps(body, ensure_ascii=False)
    if isinstance(body, list):
        return "; ".join(_message_from(item) for item in body)
    return str(body)


def error_for_response(
    response: requests.Response, *, host: str, endpoint: str, retries: int = 0
) -> CanvasError:
    """The exception for an error response that will not be retried (any more)."""
    status = response.status_code
    where: _Where = {"host": host, "endpoint": endpoint, "status": status}
    if is_throttle(response):
        return RateLimited(
            f"Canvas at {host} kept rate-limiting GradeSync (HTTP {status} on {endpoint}, "
            f"after {retries} retries): wait a minute and sync again.",
            **where,
        )
    if 300 <= status < 400:
        location = urlsplit(response.headers.get("location", ""))
        target = f"{location.scheme}://{location.netloc}" if location.netloc else "another page"
        return CanvasError(
            f"Canvas at {host} redirected {endpoint} to {target}: GradeSync does not follow "
            "redirects; enter the address your Canvas finally loads at (https://...) in Settings.",
            **where,
        )
    said = canvas_message(response)
    if says_token_invalid(response):
        return _invalid_token(said, where)
    if status in (401, 403):
        if "scope" in said.lower():
            advice = ("the token is limited to some scopes; create a token without scope limits, "
                      "or (Connect with Canvas) ask your Canvas admin to allow this "
                      "endpoint's scope on the developer key")
        else:
            advice = "the course may have ended or be restricted by date; ask your instructor"
        kind = ScopeRefused if "scope" in said.lower() else NotPermitted
        return kind(
            f"Canvas at {host} does not let this account read {endpoint} ({said or status}): "
            f"{advice}.",
            **where,
        )
    if status == 404:
        return NotFound(
            f"Canvas at {host} has no {endpoint} ({said or 'not found'}): it was deleted or you "
            "are no longer enrolled; sync again to refresh your courses.",
            **where,
        )
    if status >= 500:
        return CanvasUnavailable(
            f"Canvas at {host} is unavailable (HTTP {status} on {endpoint}, after {retries} "
            "retries): try again in a few minutes.",
            **where,
        )
    return CanvasError(
        f"Canvas at {host} refused {endpoint} with HTTP {status} ({said or 'no details'}): "
        "this is probably a GradeSync bug; please report it.",
        **where,
    )


def _invalid_token(said: str, where: _Where) -> InvalidToken:
    host = where["host"]
    lowered = said.lower()
    if "expired" in lowered:
        reason, text = "expired", f"The Canvas access token for {host} has expired"
    elif "revoked" in lowered:
        reason, text = "revoked", f"The Canvas access token for {host} was revoked"
    elif "authorization required" in lowered:
        reason, text = "missing", f"Canvas at {host} received no access token"
    else:
        reason, text = "invalid", f"Canvas rejected the access token for {host}"
    return InvalidToken(f"{text}: {RENEW_ADVICE}.", reason=reason, **where)
