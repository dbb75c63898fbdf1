"""OAuth2 with Canvas ("Connect with Canvas"): developer keys, the code exchange, refresh, logout.

Canvas's flow (CANVAS_API.md, "Read first", Tokens): the browser goes to
``GET /login/oauth2/auth`` with a signed, single-use ``state``; Canvas sends it back to
``/oauth/canvas/callback`` with a ``code``, which ``POST /login/oauth2/token`` exchanges for an
access token (about an hour) and a refresh token (on the first exchange only). Access tokens are
refreshed before they expire and once on a 401 (:func:`refresher_for`); a refresh Canvas refuses
marks the connection ``needs_reconnect`` and deletes nothing. Disconnecting logs out at Canvas
(``DELETE /login/oauth2/token``) before the tokens are forgotten here.

Client secrets and both tokens are Fernet ciphertext at rest; none is logged or rendered.
Every request goes through the guarded outbound path (:func:`app.outbound.guarded_session`).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import requests
from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select, update

from app.extensions import db
from app.models import CanvasConnection, CanvasOAuthClient, User, utcnow
from app.outbound import guarded_session
from app.security import clean_token

from .changes import note_token_change
from .verify import (
    CanvasConnectionError,
    canvas_name,
    check_canvas_url,
    outbound_policy,
    token_cipher,
)

logger = logging.getLogger(__name__)

STATE_MAX_AGE = 600  # seconds a student has to approve at Canvas
REFRESH_AHEAD = timedelta(minutes=5)  # refresh a token this close to its expiry first
TIMEOUT = (5.0, 15.0)
USER_AGENT = "GradeSync (OAuth2)"


class OAuthError(CanvasConnectionError):
    """The OAuth2 flow failed; the message says what to do."""


# --- developer keys (``flask canvas oauth-client``) -------------------------------------------


def register_client(base_url: str, client_id: str, client_secret: str) -> CanvasOAuthClient:
    """Add or replace the developer key for a Canvas; the secret is stored encrypted; commits."""
    url = check_canvas_url(base_url)
    client_id = client_id.strip()
    if not client_id or len(client_id) > 255:
        raise ValueError("give the developer key's client id (its number in Canvas)")
    secret = clean_token(client_secret)
    row = client_for(url) or CanvasOAuthClient(base_url=url)
    row.client_id = client_id
    row.client_secret_encrypted = token_cipher().encrypt(secret)
    db.session.add(row)
    db.session.commit()
    return row


def client_for(base_url: str) -> CanvasOAuthClient | None:
    return db.session.scalar(
        select(CanvasOAuthClient).where(CanvasOAuthClient.base_url == base_url)
    )


def list_clients() -> list[CanvasOAuthClient]:
    return list(db.session.scalars(select(CanvasOAuthClient).order_by(CanvasOAuthClient.base_url)))


def remove_client(base_url: str) -> bool:
    row = client_for(base_url)
    if row is None:
        return False
    db.session.delete(row)
    db.session.commit()
    return True


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


def _post_token(base_url: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
    with guarded_session(outbound_policy()) as session:
        session.headers["User-Agent"] = USER_AGENT
        try:
            response = session.post(f"{base_url}/login/oauth2/token", data=form,
                                    timeout=TIMEOUT, allow_redirects=False)
        except requests.RequestException as exc:
            raise OAuthError(f"cannot reach Canvas at {base_url} right now: try again later",
                             "unreachable") from exc
    try:
        body = response.json()
    except ValueError:
        body = {}
    return response.status_code, body if isinstance(body, dict) else {}


def _client_form(client: CanvasOAuthClient) -> dict[str, str]:
    return {
        "client_id": client.client_id,
        "client_secret": token_cipher().decrypt(client.client_secret_encrypted),
    }


def complete_authorization(
    user: User, base_url: str, code: str, redirect_uri: str
) -> CanvasConnection:
    """Exchange the code and store the connection (added, or the one for that URL); commits."""
    client = client_for(base_url)
    if client is None:
        raise OAuthError(f"{base_url} no longer has a developer key here", "no_client")
    status, body = _post_token(base_url, {
        **_client_form(client), "grant_type": "authorization_code",
        "redirect_uri": redirect_uri, "code": code,
    })
    access, refresh = body.get("access_token"), body.get("refresh_token")
    if status != 200 or not isinstance(access, str) or not isinstance(refresh, str):
        raise OAuthError("Canvas did not accept the sign-in: start again from Settings.",
                         "rejected")
    connection = db.session.scalar(select(CanvasConnection).where(
        CanvasConnection.user_id == user.id, CanvasConnection.base_url == base_url))
    if connection is None:
        connection = CanvasConnection(user_id=user.id, base_url=base_url)
        db.session.add(connection)
    cipher = token_cipher()
    connection.auth_kind = "oauth"
    connection.access_token_encrypted = cipher.encrypt(access)
    connection.refresh_token_encrypted = cipher.encrypt(refresh)
    connection.expires_at = _expiry(body)
    user_info = body.get("user")
    profile: dict[str, Any] = user_info if isinstance(user_info, dict) else {}
    if isinstance(profile.get("id"), int):
        connection.canvas_user_id = profile["id"]
    connection.canvas_user_name = canvas_name(profile) or connection.canvas_user_name
    connection.status = "ok"
    note_token_change(user.id)
    db.session.commit()
    return connection


def _expiry(body: dict[str, Any]) -> Any:
    seconds = body.get("expires_in")
    return utcnow() + timedelta(seconds=seconds) if isinstance(seconds, int | float) else None


# --- refresh and logout ---------------------------------------------------------------------


def refresher_for(connection: CanvasConnection) -> Callable[[], str | None]:
    """A callable the Canvas client calls (on any thread) for a new access token.

    It reads nothing from Flask or the scoped session: the engine and the key are captured
    now, and the new tokens are written in a short transaction of their own.
    """
    engine, cipher = db.engine, token_cipher()
    client = client_for(connection.base_url or "")
    form = _client_form(client) if client else None
    connection_id, base_url = connection.id, connection.base_url or ""
    refresh_cipher = connection.refresh_token_encrypted
    policy = outbound_policy()

    def refresh() -> str | None:
        if form is None or refresh_cipher is None:
            return None
        data = {**form, "grant_type": "refresh_token",
                "refresh_token": cipher.decrypt(refresh_cipher)}
        with guarded_session(policy) as session:
            session.headers["User-Agent"] = USER_AGENT
            try:
                response = session.post(f"{base_url}/login/oauth2/token", data=data,
                                        timeout=TIMEOUT, allow_redirects=False)
                body = response.json() if response.status_code == 200 else {}
            except (requests.RequestException, ValueError):
                logger.warning("connection %s: the token refresh did not get through",
                               connection_id)
                return None
        access = body.get("access_token") if isinstance(body, dict) else None
        values: dict[str, Any]
        if isinstance(access, str):
            values = {"access_token_encrypted": cipher.encrypt(access),
                      "expires_at": _expiry(body), "status": "ok"}
        else:  # refused: the student must reconnect; their data stays
            logger.warning("connection %s: Canvas refused the refresh token", connection_id)
            values = {"status": "needs_reconnect"}
        with engine.begin() as conn:
            conn.execute(update(CanvasConnection)
                         .where(CanvasConnection.id == connection_id).values(**values))
        return access if isinstance(access, str) else None

    return refresh


def fresh_access_token(connection: CanvasConnection) -> str | None:
    """The connection's access token, refreshed first when it expires within minutes."""
    expires = connection.expires_at
    if connection.auth_kind == "oauth" and expires is not None and (
        expires - utcnow() < REFRESH_AHEAD
    ):
        token = refresher_for(connection)()
        db.session.refresh(connection)
        return token
    if not connection.access_token_encrypted:
        return None
    return token_cipher().decrypt(connection.access_token_encrypted)


def log_out(connection: CanvasConnection) -> None:
    """``DELETE /login/oauth2/token`` at Canvas (best effort: the tokens go here anyway)."""
    if connection.auth_kind != "oauth" or not connection.access_token_encrypted:
        return
    token = token_cipher().decrypt(connection.access_token_encrypted)
    with guarded_session(outbound_policy()) as session:
        session.headers["User-Agent"] = USER_AGENT
        try:
            response = session.delete(f"{connection.base_url}/login/oauth2/token",
                                      headers={"Authorization": f"Bearer {token}"},
                                      timeout=TIMEOUT, allow_redirects=False)
            logger.info("connection %s: logged out at Canvas (HTTP %s)", connection.id,
                        response.status_code)
        except requests.RequestException:
            logger.warning("connection %s: could not log out at Canvas", connection.id)
