"""Accounts: create and find users, and the rules for emails and passwords.

The Canvas side of an account (its stored connection and the client built from it) is in
:mod:`app.connections`.
"""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select

from app.extensions import db
from app.models import User
from app.models.user import SYNC_INTERVAL_CHOICES
from app.timezones import valid_zone

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 256


class AccountError(ValueError):
    """Bad account input; the message says what to fix."""


class EmailTaken(AccountError):
    """An account for this email already exists (the web page does not say so in words)."""


def normalize_email(email: str | None) -> str:
    email = (email or "").strip()
    if not email:
        raise AccountError("the email address is empty")
    if len(email) > 254:
        raise AccountError("the email address is too long (at most 254 characters)")
    try:
        result = validate_email(email, check_deliverability=False)
    except EmailNotValidError as exc:
        raise AccountError(f"the email address is not valid: {exc}") from exc
    return result.normalized.lower()


def check_password_rules(password: str | None) -> str:
    password = password or ""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"the password must be at most {MAX_PASSWORD_LENGTH} characters")
    return password


def find_user(email: str) -> User | None:
    try:
        email = normalize_email(email)
    except AccountError:
        return None
    return db.session.scalar(select(User).where(func.lower(User.email) == email))


def create_user(email: str, password: str) -> User:
    """Create and commit a user; raises ``AccountError`` if the input is bad or taken."""
    email = normalize_email(email)
    check_password_rules(password)
    if find_user(email) is not None:
        raise EmailTaken(f"an account for {email} already exists")
    user = User(email=email)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    return user


def set_sync_interval(user: User, minutes: int) -> None:
    """Set how often ``user`` is synced automatically (minutes; 0 = off)."""
    allowed = [choice for choice, _label in SYNC_INTERVAL_CHOICES]
    if minutes not in allowed:
        raise AccountError(
            f"the sync interval must be one of {', '.join(map(str, allowed))} minutes (0 = off)"
        )
    user.sync_interval_minutes = minutes
    db.session.commit()


def set_time_zone(user: User, name: str | None) -> str:
    """Show this user's dates in ``name`` (an IANA zone); commits. Raises ``AccountError``."""
    zone = valid_zone((name or "").strip())
    if zone is None:
        raise AccountError("choose a time zone from the list, e.g. America/Chicago")
    user.time_zone = zone
    db.session.commit()
    return zone
