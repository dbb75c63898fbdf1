"""A user's Canvas connection: store it, check it, and build the client a sync uses.

The web pages and CLI commands call these; nothing here renders or logs a token. The sync
engine never reads credentials itself: :func:`build_client` builds its Canvas client from the
stored connection, and :func:`create_canvas_sync_service` hands that client to the engine.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app

from app.accounts import AccountError
from app.canvas.client import CanvasAPIService
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
from app.canvas.protocol import CanvasClient
from app.extensions import db
from app.models import User
from app.outbound import OutboundPolicy
from app.safe_text import strip_control
from app.security import TokenCipher, clean_token, validate_canvas_url
from app.sync.engine import CanvasSyncService
from app.sync.result import (
    DEFAULT_WORKERS,
    ErrorKind,
    ProgressCallback,
    SyncFailed,
    SyncOptions,
)
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


def set_canvas_credentials(user: User, base_url: str, token: str) -> None:
    """Store a (validated) Canvas URL and the encrypted token on the user; commits."""
    user.canvas_base_url = check_canvas_url(base_url)
    user.canvas_token_encrypted = token_cipher().encrypt(clean_token(token))
    db.session.commit()


def get_canvas_token(user: User) -> str | None:
    if not user.canvas_token_encrypted:
        return None
    return token_cipher().decrypt(user.canvas_token_encrypted)


# --- The Canvas connection (settings page and `flask canvas connect`) ----------------------

# A person is waiting on the settings page, and the request holds a server thread: one try,
# 3 s to connect and 7 s to answer, so a slow host costs about 10 s, not a minute.
VERIFY_TIMEOUT = (3.0, 7.0)
VERIFY_MAX_RETRIES = 0

REJECTED_HELP = (
    "Canvas rejected this token (it is wrong, expired or revoked): create a new one in "
    "Canvas → Account → Settings → New access token"
)


class CanvasConnectionError(AccountError):
    """Canvas could not confirm the credentials; ``kind`` says why, the message says what to do.

    kinds: ``rejected`` (the token was refused), ``not_permitted``, ``unreachable``,
    ``timeout``, ``not_canvas`` (the URL answers but is not a Canvas API), ``unsafe`` (the
    host resolved to an address the outbound policy refuses), ``error``.
    """

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


def verify_canvas_token(base_url: str, token: str) -> dict[str, Any]:
    """Ask Canvas who owns ``token`` (``GET /api/v1/users/self``) and return that profile.

    ``base_url`` must already have passed ``check_canvas_url``. Raises
    ``CanvasConnectionError``; its message never contains the token.
    """
    client = CanvasAPIService(
        base_url,
        token,
        timeout=VERIFY_TIMEOUT,
        max_retries=VERIFY_MAX_RETRIES,
        policy=outbound_policy(),
        timeout_retries=0,
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


def _canvas_name(profile: dict[str, Any]) -> str | None:
    name = profile.get("name") or profile.get("short_name") or profile.get("sortable_name")
    return str(name)[:255] if name else None


def connect_canvas(user: User, base_url: str, token: str) -> dict[str, Any]:
    """Validate the URL and the token, confirm them with Canvas, then store them; commits.

    Nothing is stored unless Canvas accepts the token. Raises ``InvalidCanvasURL``,
    ``InvalidCanvasToken`` or ``CanvasConnectionError``.
    """
    url = check_canvas_url(base_url)
    token = clean_token(token)
    profile = verify_canvas_token(url, token)
    user.canvas_base_url = url
    user.canvas_token_encrypted = token_cipher().encrypt(token)
    user.canvas_user_id = profile["id"]
    user.canvas_user_name = _canvas_name(profile)
    user.time_zone = valid_zone(profile.get("time_zone")) or user.time_zone
    db.session.commit()
    return profile


def check_canvas_connection(user: User) -> dict[str, Any]:
    """Re-check the saved credentials with Canvas; refreshes the stored Canvas name.

    Raises ``CanvasConnectionError`` (kind ``not_connected`` when nothing is saved),
    ``InvalidCanvasURL`` or ``InvalidCanvasToken``.
    """
    token = get_canvas_token(user)
    if not user.canvas_base_url or not token:
        raise CanvasConnectionError(
            "Canvas is not connected yet: save a URL and token first", "not_connected"
        )
    url = check_canvas_url(user.canvas_base_url)
    profile = verify_canvas_token(url, token)
    name = _canvas_name(profile)
    # A zone the student chose in Settings stays; a first one comes from Canvas.
    zone = user.time_zone or valid_zone(profile.get("time_zone"))
    if (name, profile["id"], zone) != (user.canvas_user_name, user.canvas_user_id, user.time_zone):
        user.canvas_user_id = profile["id"]
        user.canvas_user_name = name
        user.time_zone = zone
        db.session.commit()
    return profile


def disconnect_canvas(user: User) -> None:
    """Forget the Canvas URL and token (synced grades stay); commits."""
    user.canvas_base_url = None
    user.canvas_token_encrypted = None
    user.canvas_user_id = None
    user.canvas_user_name = None
    db.session.commit()


# --- The client a sync uses ------------------------------------------------------------------


def build_client(user: User) -> CanvasAPIService:
    """A Canvas client for the user's stored connection; the URL is checked again here.

    Raises:
        NotConnected: nothing usable is stored (no URL or token, or a token this key cannot
            decrypt, or a stored URL the current settings refuse).
    """
    try:
        token = get_canvas_token(user)
        if not user.canvas_base_url or not token:
            raise NotConnected()
        return CanvasAPIService(
            check_canvas_url(user.canvas_base_url), token, policy=outbound_policy()
        )
    except ValueError as exc:  # a token the current key cannot decrypt, a refused URL
        raise NotConnected(
            " ".join(f"Canvas is not usable: {exc}. Reconnect in Settings.".split())
        ) from exc


class _Unconnected:
    """Stands in for a client when there is none: every sync with it fails with ``error``."""

    def __init__(self, error: NotConnected) -> None:
        self.error = error

    def get_courses(self) -> list[Any]:
        raise self.error

    def get_course(self, course_id: int) -> Any:
        raise self.error

    def get_assignment_groups(
        self, course_id: int, *, include_assignments: bool = True, include_submission: bool = True
    ) -> list[Any]:
        raise self.error


def create_canvas_sync_service(
    user: User,
    *,
    progress: ProgressCallback | None = None,
    client: CanvasClient | None = None,
    workers: int = DEFAULT_WORKERS,
) -> CanvasSyncService:
    """The sync engine for ``user`` with a client built from the stored connection.

    A user without a usable connection still gets a service: its syncs fail with a clear
    message (``error_kind`` ``not_connected``).
    """
    owns_client = client is None
    if client is None:
        try:
            client = build_client(user)
        except NotConnected as exc:
            client = _Unconnected(exc)
    return CanvasSyncService(
        user.id, client, SyncOptions(workers=workers), progress=progress, owns_client=owns_client
    )
