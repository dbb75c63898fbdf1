"""Device cookies: a browser that signed in to an account before passes that account's lock.

Five wrong guesses lock an account for everyone, the owner included, which lets anyone lock
anyone out. Following OWASP's "Slow down online guessing attacks with device cookies": each
successful sign-in leaves a signed cookie naming the account and a random device id. A sign-in
that brings a genuine cookie for the account it names is a *known device*: it is counted on
its own counter (``device:<sha256 of the id>``, the same 5 free failures and doubling delay)
instead of the account's and the client address's, so a stranger's guesses cannot lock the
owner out of the browser they use, and a stolen cookie still guesses slowly.

The cookie holds no secret of the account (an id and a signature), is HttpOnly, sent only to
``/login`` and lives a year; it is signed with ``SECRET_KEY`` under a salt of its own.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from werkzeug.wrappers import Response

from app.models import User

COOKIE = "gradesync_device"
SALT = "gradesync-device-cookie"
MAX_AGE = timedelta(days=365)
MAX_COOKIE_LENGTH = 200  # a genuine one is ~80 characters: never verify a huge value


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def known_device(cookie: str | None, user: User | None) -> str | None:
    """The counter key of the device this cookie names, if it is genuine and for ``user``."""
    if not cookie or user is None or len(cookie) > MAX_COOKIE_LENGTH:
        return None
    try:
        data = _serializer().loads(cookie)
    except BadSignature:
        return None
    if not isinstance(data, dict) or data.get("u") != user.id:
        return None
    device_id = data.get("d")
    if not isinstance(device_id, str) or not device_id:
        return None
    return "device:" + hashlib.sha256(device_id.encode()).hexdigest()


def remember_device(response: Response, user: User, cookie: str | None) -> None:
    """After a successful sign-in: keep (refresh) this browser's device cookie for ``user``."""
    value = cookie if known_device(cookie, user) else _serializer().dumps(
        {"u": user.id, "d": secrets.token_urlsafe(16)})
    response.set_cookie(
        COOKIE, str(value), max_age=int(MAX_AGE.total_seconds()), path="/login",
        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")), httponly=True,
        samesite="Lax",
    )
