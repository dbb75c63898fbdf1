"""OAuth2 access tokens after sign-in: the token endpoint, refresh (one at a time), logout.

What Canvas does, and what follows here (canvas-lms source):

- A refresh *replaces* the access token: ``Canvas::OAuth::GrantTypes::RefreshToken
  #generate_token`` calls ``AccessToken#regenerate_access_token``, so the previous access token
  stops working, and every refresh costs the caller ``oauth_token_additional_request_cost``
  (200) bucket units (``OAuth2ProviderController#token``). So a connection is refreshed by one
  process at a time: :func:`refresh_connection` holds the connection row's write lock (the
  no-op UPDATE below: a row lock on Postgres, the database's write lock on SQLite) across the
  request, and a second caller that finds a newer token than the one that failed uses it
  instead of refreshing again.
- The refresh answer carries no ``refresh_token`` (``Canvas::OAuth::Token#as_json`` adds one
  only for a newly created token): the stored one is kept.
- Only Canvas's refusal ends a connection: a 400/401 with ``error`` ``invalid_grant``,
  ``invalid_request`` (what ``RequestError::ERROR_MAP`` answers for a refresh token Canvas no
  longer knows: "refresh_token not found") or ``invalid_client``. A 5xx, a throttle (403 "Rate
  Limit Exceeded" or 429) or no answer is retried with back-off and, if it persists, fails this
  sync only: the connection stays usable.
- ``DELETE /login/oauth2/token`` authenticates the access token like any API request
  (``AuthenticationMethods#load_pseudonym_from_access_token`` runs for
  ``oauth2_provider#destroy``), so an expired one is refused and the grant would stay in the
  student's Approved Integrations: :func:`log_out` refreshes an expired token first.

Nothing here logs or renders a token.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests
from sqlalchemy import Engine, select, update

from app.canvas.errors import CanvasUnavailable, RateLimited
from app.extensions import db
from app.models import CanvasConnection, utcnow
from app.outbound import OutboundPolicy, guarded_session
from app.outbound_limits import Limits
from app.security import TokenCipher

from .keys import client_for, client_form
from .verify import outbound_policy, token_cipher

logger = logging.getLogger(__name__)

REFRESH_AHEAD = timedelta(minutes=5)  # refresh a token this close to its expiry first
TIMEOUT = (5.0, 15.0)
# One call to the token endpoint, connect to last byte; its answer is a few hundred bytes, read
# uncompressed up to the outbound path's small cap.
LIMITS = Limits(deadline=20.0)
USER_AGENT = "GradeSync (OAuth2)"
REFRESH_ATTEMPTS = 3  # tries of one refresh when Canvas is down or throttling
REFRESH_BACKOFF = 1.0  # seconds before the second try; doubled each time
MAX_RETRY_AFTER = 30.0
REFUSALS = ("invalid_grant", "invalid_request", "invalid_client")


@dataclass(frozen=True)
class TokenReply:
    """One answer of ``POST /login/oauth2/token`` (``status`` None: no answer at all)."""

    status: int | None
    body: dict[str, Any]
    throttled: bool = False
    retry_after: float | None = None

    @property
    def access_token(self) -> str | None:
        token = self.body.get("access_token") if self.status == 200 else None
        return token if isinstance(token, str) and token else None

    @property
    def refused(self) -> bool:
        """Canvas's own "no" (the grant is gone or the key is wrong): reconnecting is needed."""
        return self.status in (400, 401) and self.body.get("error") in REFUSALS


def post_token(base_url: str, form: dict[str, str], policy: OutboundPolicy) -> TokenReply:
    """One ``POST /login/oauth2/token`` (no retries); a network failure is a reply too."""
    with guarded_session(policy, limits=LIMITS) as session:
        session.headers["User-Agent"] = USER_AGENT
        try:
            response = session.post(f"{base_url}/login/oauth2/token", data=form,
                                    timeout=TIMEOUT, allow_redirects=False)
        except requests.RequestException as exc:
            logger.warning("token endpoint of %s unreachable (%s)", base_url, type(exc).__name__)
            return TokenReply(None, {})
    try:
        body = response.json()
    except ValueError:
        body = {}
    status = response.status_code
    throttled = status == 429 or (status == 403 and "rate limit exceeded" in response.text.lower())
    try:
        retry_after: float | None = float(response.headers.get("retry-after") or "")
    except ValueError:
        retry_after = None
    return TokenReply(status, body if isinstance(body, dict) else {}, throttled, retry_after)


def refresh_with_retries(base_url: str, form: dict[str, str], policy: OutboundPolicy
                         ) -> TokenReply:
    """A refresh, tried again after a 5xx, a throttle or no answer (never after a refusal)."""
    reply = TokenReply(None, {})
    for attempt in range(REFRESH_ATTEMPTS):
        if attempt:
            delay = REFRESH_BACKOFF * 2 ** (attempt - 1)
            if reply.retry_after is not None:
                delay = max(delay, min(reply.retry_after, MAX_RETRY_AFTER))
            time.sleep(delay)
        reply = post_token(base_url, form, policy)
        if reply.access_token or reply.refused:
            return reply
        logger.warning("token refresh at %s: %s (try %d of %d)", base_url,
                       "throttled" if reply.throttled else f"HTTP {reply.status or 'no answer'}",
                       attempt + 1, REFRESH_ATTEMPTS)
    return reply


def _unavailable(base_url: str, reply: TokenReply) -> CanvasUnavailable | RateLimited:
    host = base_url.split("://", 1)[-1]
    where = {"host": host, "endpoint": "/login/oauth2/token", "status": reply.status}
    if reply.throttled:
        return RateLimited(
            f"Canvas at {host} kept rate-limiting the renewal of the sign-in: the connection "
            "is fine; the next sync tries again.", **where)  # type: ignore[arg-type]
    said = f"HTTP {reply.status}" if reply.status else "no answer"
    return CanvasUnavailable(
        f"Canvas at {host} could not renew the sign-in right now ({said}): the connection is "
        "fine; the next sync tries again.", **where)  # type: ignore[arg-type]


def expiring(expires_at: datetime | None, margin: timedelta = REFRESH_AHEAD) -> bool:
    return expires_at is not None and expires_at - utcnow() < margin


def expiry_from(body: dict[str, Any]) -> datetime | None:
    """When an access token ends (None when Canvas gives no ``expires_in``: a key without
    ``auto_expire_tokens``, e.g. one with ``force_token_reuse``; DeveloperKey
    #validate_flag_combinations forbids both together)."""
    seconds = body.get("expires_in")
    return utcnow() + timedelta(seconds=seconds) if isinstance(seconds, int | float) else None


@dataclass(frozen=True)
class Refresher:
    """What a refresh needs, captured so that any thread may run it without Flask."""

    engine: Engine
    cipher: TokenCipher
    connection_id: int
    base_url: str
    form: dict[str, str] | None
    policy: OutboundPolicy


def refresher_data(connection: CanvasConnection) -> Refresher:
    client = client_for(connection.base_url or "")
    return Refresher(db.engine, token_cipher(), connection.id, connection.base_url or "",
                     client_form(client) if client else None, outbound_policy())


def refresh_connection(data: Refresher, failed: str | None) -> str | None:
    """A usable access token after ``failed`` was refused or is about to expire; None when
    Canvas refused the refresh (the connection is marked ``needs_reconnect``; nothing else).

    One caller at a time per connection, across threads and processes: the row's write lock
    is taken first and held until the new token is stored. A caller that then finds a token
    other than ``failed`` that is not about to expire uses it (another process refreshed).
    Raises ``CanvasUnavailable``/``RateLimited`` when Canvas could not answer; the connection
    stays as it was.
    """
    cipher, row_id = data.cipher, data.connection_id
    with data.engine.begin() as conn:
        # The lock: a no-op UPDATE (Postgres: row lock until commit, like SELECT ... FOR
        # UPDATE; SQLite: the database's write lock, which serialises writers).
        conn.execute(update(CanvasConnection).where(CanvasConnection.id == row_id)
                     .values(status=CanvasConnection.status))
        row = conn.execute(select(
            CanvasConnection.access_token_encrypted, CanvasConnection.refresh_token_encrypted,
            CanvasConnection.expires_at, CanvasConnection.status,
        ).where(CanvasConnection.id == row_id)).one_or_none()
        if row is None or row.refresh_token_encrypted is None or data.form is None:
            return None
        current = cipher.decrypt(row.access_token_encrypted) if row.access_token_encrypted \
            else None
        if current and current != failed and row.status == "ok" and not expiring(row.expires_at):
            return current  # refreshed meanwhile by another thread or process
        reply = refresh_with_retries(data.base_url, {
            **data.form, "grant_type": "refresh_token",
            "refresh_token": cipher.decrypt(row.refresh_token_encrypted),
        }, data.policy)
        access = reply.access_token
        values: dict[str, Any]
        if access is not None:
            values = {"access_token_encrypted": cipher.encrypt(access),
                      "expires_at": expiry_from(reply.body), "status": "ok"}
            renewed = reply.body.get("refresh_token")
            if isinstance(renewed, str) and renewed:
                values["refresh_token_encrypted"] = cipher.encrypt(renewed)
        elif reply.refused:  # the student must reconnect; their data stays
            logger.warning("connection %s: Canvas refused the refresh token (%r)", row_id,
                           str(reply.body.get("error"))[:40])
            values = {"status": "needs_reconnect"}
        else:
            raise _unavailable(data.base_url, reply)
        conn.execute(update(CanvasConnection).where(CanvasConnection.id == row_id)
                     .values(**values))
        if access is not None:
            logger.info("connection %s: access token refreshed", row_id)
        return access


def refresher_for(connection: CanvasConnection, token: str) -> Callable[[], str | None]:
    """The callable the Canvas client calls (on any thread) once ``token`` or its successor is
    refused with a 401 that says the token is invalid or expired."""
    data = refresher_data(connection)
    latest = [token]

    def refresh() -> str | None:
        new = refresh_connection(data, latest[0])
        if new is not None:
            latest[0] = new
        return new

    return refresh


def fresh_access_token(connection: CanvasConnection) -> str | None:
    """The connection's access token, refreshed first when it expires within minutes.

    None when Canvas refused the refresh. When Canvas cannot answer right now, the stored token
    is used: the client refreshes it on its first 401.
    """
    if not connection.access_token_encrypted:
        return None
    stored = token_cipher().decrypt(connection.access_token_encrypted)
    if connection.auth_kind != "oauth" or not expiring(connection.expires_at):
        return stored
    try:
        token = refresh_connection(refresher_data(connection), stored)
    except (CanvasUnavailable, RateLimited) as exc:
        logger.info("connection %s: refresh ahead of expiry failed (%s)", connection.id,
                    type(exc).__name__)
        return stored
    db.session.refresh(connection)
    return token


def log_out(connection: CanvasConnection) -> None:
    """``DELETE /login/oauth2/token`` at Canvas, with a token Canvas still accepts (refreshed
    first when it has expired, and once more on a 401); best effort: the tokens are forgotten
    here whatever Canvas answers."""
    if connection.auth_kind != "oauth" or not connection.access_token_encrypted:
        return
    data = refresher_data(connection)
    token: str | None = data.cipher.decrypt(connection.access_token_encrypted)
    refreshed = False
    try:
        if expiring(connection.expires_at, timedelta(seconds=30)):
            token, refreshed = refresh_connection(data, token), True
        for _ in range(2):
            if token is None:
                return
            status, invalid = _delete_token(data, token)
            if status != 401 or not invalid or refreshed:
                logger.info("connection %s: logged out at Canvas (HTTP %s)", connection.id,
                            status)
                return
            token, refreshed = refresh_connection(data, token), True
    except (CanvasUnavailable, RateLimited):
        logger.warning("connection %s: could not log out at Canvas", connection.id)


def _delete_token(data: Refresher, token: str) -> tuple[int | None, bool]:
    """(status, whether a 401 says the token is invalid or expired)."""
    with guarded_session(data.policy, limits=LIMITS) as session:
        session.headers["User-Agent"] = USER_AGENT
        try:
            response = session.delete(f"{data.base_url}/login/oauth2/token",
                                      headers={"Authorization": f"Bearer {token}"},
                                      timeout=TIMEOUT, allow_redirects=False)
        except requests.RequestException:
            logger.warning("connection %s: could not log out at Canvas", data.connection_id)
            return None, False
    return response.status_code, "www-authenticate" in response.headers
