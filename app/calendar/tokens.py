"""The feed's secret address: a random token shown once, stored only as its SHA-256.

A calendar app cannot log in, so the address itself is the credential. It is long and random
(256 bits), kept in the database only as a hash (a leaked database does not leak the feeds),
and can be revoked or replaced from Settings at any time.
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select

from app.extensions import db
from app.models import User

# token_urlsafe(32) is 43 characters; anything much longer is not one of ours.
MAX_SECRET_LENGTH = 64


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_feed_secret(user: User) -> str:
    """Give ``user`` a new feed secret (the old address stops working); returns the secret."""
    secret = secrets.token_urlsafe(32)
    user.calendar_token_hash = _digest(secret)
    db.session.commit()
    return secret


def revoke_feed(user: User) -> None:
    """Turn the feed off: its address answers 404 from now on."""
    user.calendar_token_hash = None
    db.session.commit()


def feed_user(secret: str) -> User | None:
    """The user whose feed this secret opens, or None."""
    if not secret or len(secret) > MAX_SECRET_LENGTH:
        return None
    return db.session.scalar(select(User).where(User.calendar_token_hash == _digest(secret)))
