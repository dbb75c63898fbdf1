"""OAuth2 with Canvas ("Connect with Canvas"): the authorization request and the code exchange.

Canvas's flow (CANVAS_API.md, "Read first", Tokens): the browser goes to
``GET /login/oauth2/auth`` with a signed, single-use ``state`` and the scopes the key allows
(:mod:`.scopes`); Canvas sends it back to ``/oauth/canvas/callback`` with a ``code``, which
``POST /login/oauth2/token`` exchanges for an access token (about an hour) and, for a newly
created token, a refresh token. Developer keys live in :mod:`.keys`; refresh and logout in
:mod:`.tokens`.

Client secrets and both tokens are Fernet ciphertext at rest; none is logged or rendered.
Every request goes through the guarded outbound path (:func:`app.outbound.guarded_session`).
"""

from __future__ import annotations

import logging
import secrets
from typing import Any
from urllib.parse import urlencode

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select

from app.extensions import db
from app.models import CanvasConnection, User

from .changes import note_token_change
from .keys import (
    client_for,
    client_form,
    client_scopes,
    list_clients,
    register_client,
    remove_client,
)
from .tokens import expiry_from, post_token
from .verify import (
    CanvasConnectionError,
    canvas_name,
    check_canvas_url,
    outbound_policy,
    profile_time_zone,
    token_cipher,
)

logger = logging.getLogger(__name__)

STATE_MAX_AGE = 600  # seconds a student has to approve at Canvas

__all__ = ["OAuthError", "authorization_url", "complete_authorization", "list_clients",
           "read_state", "register_client", "remove_client"]


class OAuthError(CanvasConnectionError):
    """The OAuth2 flow failed; the message says what to do."""


# --- the authorization request and the callback --------------------------------------------


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="canvas-oauth-state")


def authorization_url(user: User, base_url: str, redirect_uri: str) -> tuple[str, str]:
    """Where to send the browser, and the nonce to keep in the session (single use).

    Raises ``OAuthError`` when no developer key is registered for that Canvas.
    """
    url = check_canvas_url(base_url)
    client = client_for(url)
    if client is None:
        raise OAuthError(
            f"{url} has no developer key registered here: connect with an access token, or "
            "ask the operator to run 'flask canvas oauth-client add'", "no_client"
        )
    nonce = secrets.token_urlsafe(16)
    state = _serializer().dumps({"u": user.id, "url": url, "n": nonce})
    query = urlencode({
        "client_id": client.client_id,
        "response_type": "code",
        "redirect_uri": redirect_uri,
        "state": state,
        # Canvas's parameter is ``scope`` (``scopes`` is the deprecated name), space-separated
        # (canvas-lms OAuth2ProviderController#auth: ``(params[:scope] || ...).split``).
        "scope": " ".join(client_scopes(client)),
    })
    return f"{url}/login/oauth2/auth?{query}", nonce


def read_state(state: str, user: User, nonce: str | None) -> str:
    """The Canvas URL a valid ``state`` names; refuses a forged, stale, foreign or reused one."""
    try:
        data = _serializer().loads(state, max_age=STATE_MAX_AGE)
    except BadSignature as exc:
        raise OAuthError("The Canvas sign-in could not be verified (it expired or was "
                         "changed): start again from Settings.", "state") from exc
    if not isinstance(data, dict) or data.get("u") != user.id or not nonce or (
        not secrets.compare_digest(str(data.get("n")), nonce)
    ):
        raise OAuthError("This Canvas sign-in was already used or belongs to another "
                         "session: start again from Settings.", "state")
    return str(data["url"])


def complete_authorization(
    user: User, base_url: str, code: str, redirect_uri: str
) -> CanvasConnection:
    """Exchange the code and store the connection (added, or the one for that URL); commits."""
    client = client_for(base_url)
    if client is None:
        raise OAuthError(f"{base_url} no longer has a developer key here", "no_client")
    reply = post_token(base_url, {
        **client_form(client), "grant_type": "authorization_code",
        "redirect_uri": redirect_uri, "code": code,
    }, outbound_policy())
    if reply.status is None:
        raise OAuthError(f"cannot reach Canvas at {base_url} right now: try again later",
                         "unreachable")
    body, access = reply.body, reply.access_token
    refresh = body.get("refresh_token")
    if access is None:
        raise OAuthError("Canvas did not accept the sign-in: start again from Settings.",
                         "rejected")
    connection = db.session.scalar(select(CanvasConnection).where(
        CanvasConnection.user_id == user.id, CanvasConnection.base_url == base_url))
    if connection is None:
        connection = CanvasConnection(user_id=user.id, base_url=base_url)
        db.session.add(connection)
    cipher = token_cipher()
    if connection.auth_kind != "oauth":
        connection.refresh_token_encrypted = None  # never another kind's leftover
    connection.auth_kind = "oauth"
    connection.access_token_encrypted = cipher.encrypt(access)
    # A key with ``force_token_reuse`` hands back the student's existing token, without a
    # refresh token (Canvas::OAuth::Token.find_reusable_access_token, #as_json adds one only
    # for a new token): the stored one, if any, still belongs to that token.
    if isinstance(refresh, str) and refresh:
        connection.refresh_token_encrypted = cipher.encrypt(refresh)
    connection.expires_at = expiry_from(body)
    user_info = body.get("user")
    profile: dict[str, Any] = user_info if isinstance(user_info, dict) else {}
    if isinstance(profile.get("id"), int):
        connection.canvas_user_id = profile["id"]
    connection.canvas_user_name = canvas_name(profile) or connection.canvas_user_name
    connection.status = "ok"
    # As a token connection does (records.connect_canvas): dates show in the student's zone.
    user.time_zone = profile_time_zone(base_url, access) or user.time_zone
    note_token_change(connection)
    db.session.commit()
    return connection
