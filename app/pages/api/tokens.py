"""Personal API tokens: created (shown once), looked up in constant time, revoked, rate limited.

A token is ``gsk_`` and 43 random URL-safe characters (256 bits). Only its SHA-256 is stored,
with its first 12 characters (``prefix``) for the student to recognise it and for the lookup;
a request's token is found by prefix and then compared digest to digest with
:func:`hmac.compare_digest`, so the comparison takes the same time wherever the bytes differ.

The rate limit is a fixed window per token kept in the token's row (``rate_window_start``,
``rate_count``), moved on by single ``UPDATE`` statements. Every gunicorn worker (and every
host) sees the same count: an in-process counter would give each of the two workers its own
allowance, so a client would get up to twice the limit, depending on which worker answered.
The row is written on every request anyway (``last_used_at``), so it costs no extra query.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.engine import CursorResult

from app.extensions import db
from app.models import ApiToken, User, utcnow

TOKEN_START = "gsk_"  # noqa: S105 - the marker every token starts with, not a secret
PREFIX_LENGTH = 12  # "gsk_" and 8 random characters
# token_urlsafe(32) is 43 characters; anything much longer is not one of ours.
MAX_TOKEN_LENGTH = 64
MAX_NAME_LENGTH = 60
MAX_TOKENS_PER_USER = 20


class TokenNameError(ValueError):
    """The name typed for a new token cannot be used; the message says what to fix."""


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    retry_after: int  # seconds until the window ends (0 when allowed)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def clean_name(text: str | None) -> str:
    """The name typed for a token, trimmed; a bad one raises :class:`TokenNameError`."""
    name = " ".join((text or "").split())
    if not name:
        raise TokenNameError("Give the token a name, e.g. \"my spreadsheet\".")
    if len(name) > MAX_NAME_LENGTH:
        raise TokenNameError(f"Shorten the name to {MAX_NAME_LENGTH} characters or fewer.")
    return name


def active_tokens(user_id: int) -> list[ApiToken]:
    """The student's tokens that still work, newest first."""
    return list(db.session.scalars(
        select(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())))


def create_token(user: User, name_text: str | None) -> tuple[ApiToken, str]:
    """A new token for ``user``: the row and the token itself (to show once, never again)."""
    name = clean_name(name_text)
    if len(active_tokens(user.id)) >= MAX_TOKENS_PER_USER:
        raise TokenNameError(
            f"You have {MAX_TOKENS_PER_USER} tokens already: revoke one you no longer use.")
    token = TOKEN_START + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=name, prefix=token[:PREFIX_LENGTH],
                   token_hash=_digest(token), created_at=utcnow())
    db.session.add(row)
    db.session.commit()
    return row, token


def revoke_token(user_id: int, token_id: int) -> ApiToken | None:
    """Revoke the student's token ``token_id`` (None: no such working token of theirs)."""
    row = db.session.scalar(select(ApiToken).where(
        ApiToken.id == token_id, ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None)))
    if row is None:
        return None
    row.revoked_at = utcnow()
    db.session.commit()
    return row


def token_for(presented: str) -> ApiToken | None:
    """The working token row that ``presented`` is, or None (unknown, malformed, revoked)."""
    if not presented.startswith(TOKEN_START) or not (
            PREFIX_LENGTH < len(presented) <= MAX_TOKEN_LENGTH):
        return None
    wanted = _digest(presented)
    candidates = db.session.scalars(select(ApiToken).where(
        ApiToken.prefix == presented[:PREFIX_LENGTH], ApiToken.revoked_at.is_(None)))
    found = None
    for row in candidates:
        if hmac.compare_digest(row.token_hash, wanted):
            found = row
    return found


def _rowcount(result: object) -> int:
    return result.rowcount if isinstance(result, CursorResult) else 0


def take_request(token_id: int, limit: int, window: timedelta,
                 now: datetime | None = None) -> RateDecision:
    """Count one request against the token's window (and note it as used), or refuse it.

    Each step is one ``UPDATE`` with its condition in the ``WHERE``, so two processes counting
    at once cannot both take the last request of a window.
    """
    now = now or utcnow()
    started = db.session.execute(
        update(ApiToken)
        .where(ApiToken.id == token_id,
               or_(ApiToken.rate_window_start.is_(None),
                   ApiToken.rate_window_start <= now - window))
        .values(rate_window_start=now, rate_count=1, last_used_at=now)
        .execution_options(synchronize_session=False))
    if _rowcount(started) == 0:
        counted = db.session.execute(
            update(ApiToken)
            .where(ApiToken.id == token_id, ApiToken.rate_count < limit)
            .values(rate_count=ApiToken.rate_count + 1, last_used_at=now)
            .execution_options(synchronize_session=False))
        if _rowcount(counted) == 0:
            db.session.commit()
            start = db.session.scalar(
                select(ApiToken.rate_window_start).where(ApiToken.id == token_id)) or now
            wait = (start + window - now).total_seconds()
            return RateDecision(False, max(1, math.ceil(wait)))
    db.session.commit()
    return RateDecision(True, 0)
