"""Checking a Canvas address and token with Canvas itself (``GET /api/v1/users/self``).

Nothing here stores, renders or logs a token.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import current_app

from app.accounts import AccountError
from app.canvas.client import CanvasAPIService, ClientOptions, RetryPolicy
from app.canvas.errors import (
    BadResponse,
    CanvasError,
    CanvasTimeout,
    CanvasUnavailable,
    InvalidToken,
    NotFound,
    NotPermitted,
    UnsafeAddress,
)
from app.outbound import OutboundPolicy
from app.safe_text import strip_control
from app.security import TokenCipher, validate_canvas_url
from app.sync.result import ErrorKind, SyncFailed
from app.timezones import valid_zone

logger = logging.getLogger(__name__)

NOT_CONNECTED_MESSAGE = (
    "Your account is not connected to Canvas: add your Canvas URL and access token in Settings."
)


class NotConnected(SyncFailed):
    """The user has no usable Canvas connection (none saved, or unreadable with this key)."""

    def __init__(self, message: str = NOT_CONNECTED_MESSAGE) -> None:
        super().__init__(message, ErrorKind.NOT_CONNECTED)


def token_cipher() -> TokenCipher:
    cipher: TokenCipher = current_app.extensions["token_cipher"]
    return cipher


def outbound_policy() -> OutboundPolicy:
    """Where this app lets Canvas requests go, read from the configuration as it is now."""
    return OutboundPolicy.from_config(current_app.config)


def check_canvas_url(url: str) -> str:
    """Validate a Canvas base URL against this app's SSRF settings."""
    policy = outbound_policy()
    return validate_canvas_url(
        url, allow_private=policy.allow_private, allowed_hosts=policy.allowed_hosts
    )


# --- The Canvas connection (settings page and `flask canvas connect`) ----------------------

# A person is waiting on the settings page, and the request holds a server thread: one try,
# 3 s to connect and 7 s to answer, so a slow host costs about 10 s, not a minute.
VERIFY_TIMEOUT = (3.0, 7.0)
VERIFY_MAX_RETRIES = 0
# ...and each request ends by this wall-clock deadline, however slowly the host trickles.
VERIFY_DEADLINE_S = 10.0
VERIFY_OPTIONS = ClientOptions(
    timeout=VERIFY_TIMEOUT,
    deadline=VERIFY_DEADLINE_S,
    retry=RetryPolicy(max_retries=VERIFY_MAX_RETRIES, timeout_retries=0),
)

REJECTED_HELP = (
    "Canvas rejected this token (it is wrong, expired or revoked): create a new one in "
    "Canvas → Account → Settings → New access token"
)


class CanvasConnectionError(AccountError):
    """Canvas could not confirm the credentials; ``kind`` says why, the message says what to do.

    kinds: ``rejected`` (the token was refused), ``busy`` (a check is already running),
    ``not_permitted``, ``unreachable``,
    ``timeout``, ``not_canvas`` (the URL answers but is not a Canvas API), ``unsafe`` (the
    host resolved to an address the outbound policy refuses), ``error``.
    """

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


# A check holds a web thread for up to its deadline: one at a time per user, and a few per
# process (CONNECTION_CHECKS_PER_PROCESS), so a crowd of checks against a slow Canvas leaves
# threads for everyone else's pages.
BUSY_MESSAGE = (
    "another check of a Canvas connection is still running: wait a moment, then try again"
)


class _Checks:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users: set[int] = set()


_checks = _Checks()


@contextmanager
def one_check(user_id: int | None) -> Iterator[None]:
    """Hold the user's (and one of the process's) check slots; ``CanvasConnectionError``
    (kind ``busy``) at once when the user already has a check running or the process is full."""
    cap = int(current_app.config["CONNECTION_CHECKS_PER_PROCESS"])
    key = user_id if user_id is not None else -1 - threading.get_ident()
    with _checks.lock:
        if key in _checks.users or len(_checks.users) >= cap:
            raise CanvasConnectionError(BUSY_MESSAGE, "busy")
        _checks.users.add(key)
    try:
        yield
    finally:
        with _checks.lock:
            _checks.users.discard(key)


def verify_canvas_token(base_url: str, token: str) -> dict[str, Any]:
    """Ask Canvas who owns ``token`` (``GET /api/v1/users/self``) and return that profile.

    ``base_url`` must already have passed ``check_canvas_url``. Raises
    ``CanvasConnectionError``; its message never contains the token. Callers for a user hold
    :func:`one_check` around it.
    """
    client = CanvasAPIService(
        base_url, token, options=VERIFY_OPTIONS, policy=outbound_policy()
    )
    try:
        profile = client.get_current_user()
        profile["time_zone"] = _profile_time_zone(client)
    except InvalidToken as exc:
        raise CanvasConnectionError(REJECTED_HELP, "rejected") from exc
    except NotPermitted as exc:
        raise CanvasConnectionError(
            "Canvas accepted the token but does not let it read your profile: create a new "
            "token without restricted scopes in Canvas → Account → Settings",
            "not_permitted",
        ) from exc
    except CanvasTimeout as exc:
        raise CanvasConnectionError(
            f"Canvas at {base_url} did not answer in time: check the URL or try again later",
            "timeout",
        ) from exc
    except CanvasUnavailable as exc:
        raise CanvasConnectionError(
            f"cannot reach Canvas at {base_url} right now: check the URL or try again later",
            "unreachable",
        ) from exc
    except (NotFound, BadResponse) as exc:
        raise CanvasConnectionError(
            f"{base_url} does not answer like a Canvas server: check the URL (it is the address "
            "you use to open Canvas, e.g. https://school.instructure.com)",
            "not_canvas",
        ) from exc
    except UnsafeAddress as exc:
        raise CanvasConnectionError(exc.message, "unsafe") from exc
    except CanvasError as exc:
        raise CanvasConnectionError(
            f"Canvas at {base_url} answered with an error: try again later", "error"
        ) from exc
    finally:
        client.close()
    if not isinstance(profile, dict) or not isinstance(profile.get("id"), int):
        raise CanvasConnectionError(
            f"{base_url} does not answer like a Canvas server: check the URL", "not_canvas"
        )
    # The names are Canvas's text: they end up in flashes, CLI output and logs.
    return {
        key: strip_control(value) if key in PROFILE_NAMES and isinstance(value, str) else value
        for key, value in profile.items()
    }


PROFILE_NAMES = ("name", "short_name", "sortable_name")


def _profile_time_zone(client: CanvasAPIService) -> str | None:
    """The student's zone from their Canvas profile; None when Canvas will not say (a scoped
    token may not read the profile: the connection still works, dates show in UTC)."""
    try:
        return valid_zone(client.get_profile().get("time_zone"))
    except CanvasError as exc:
        logger.info("Canvas profile not readable (%s); no time zone", type(exc).__name__)
        return None


def profile_time_zone(base_url: str, token: str) -> str | None:
    """The zone on the Canvas profile of ``token``'s owner (None when Canvas will not say)."""
    client = CanvasAPIService(base_url, token, options=VERIFY_OPTIONS, policy=outbound_policy())
    try:
        return _profile_time_zone(client)
    finally:
        client.close()


def canvas_name(profile: dict[str, Any]) -> str | None:
    name = profile.get("name") or profile.get("short_name") or profile.get("sortable_name")
    return str(name)[:255] if name else None


