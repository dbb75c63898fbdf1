"""Account services: create users, store and read their Canvas credentials.

Views and CLI commands call these; nothing here renders or logs a token.
"""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy import func, select

from app.extensions import db
from app.models import User
from app.security import TokenCipher, clean_token, validate_canvas_url

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


def token_cipher() -> TokenCipher:
    return current_app.extensions["token_cipher"]


def check_canvas_url(url: str) -> str:
    """Validate a Canvas base URL against this app's SSRF settings."""
    return validate_canvas_url(
        url,
        allow_private=current_app.config["CANVAS_ALLOW_PRIVATE_HOSTS"],
        allowed_hosts=current_app.config["CANVAS_ALLOWED_HOSTS"],
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
    ``timeout``, ``not_canvas`` (the URL answers but is not a Canvas API), ``error``.
    """

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


def verify_canvas_token(base_url: str, token: str) -> dict:
    """Ask Canvas who owns ``token`` (``GET /api/v1/users/self``) and return that profile.

    ``base_url`` must already have passed ``check_canvas_url``. Raises
    ``CanvasConnectionError``; its message never contains the token.
    """
    from app.canvas.client import (
        BadResponse,
        CanvasAPIService,
        CanvasError,
        CanvasTimeout,
        CanvasUnavailable,
        InvalidToken,
        NotFound,
        NotPermitted,
    )

    client = CanvasAPIService(
        base_url, token, timeout=VERIFY_TIMEOUT, max_retries=VERIFY_MAX_RETRIES,
        timeout_retries=0,
    )
    try:
        profile = client.get_current_user()
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
    return profile


def _canvas_name(profile: dict) -> str | None:
    name = profile.get("name") or profile.get("short_name") or profile.get("sortable_name")
    return str(name)[:255] if name else None


def connect_canvas(user: User, base_url: str, token: str) -> dict:
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
    db.session.commit()
    return profile


def check_canvas_connection(user: User) -> dict:
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
    if name != user.canvas_user_name or profile["id"] != user.canvas_user_id:
        user.canvas_user_id = profile["id"]
        user.canvas_user_name = name
        db.session.commit()
    return profile


def disconnect_canvas(user: User) -> None:
    """Forget the Canvas URL and token (synced grades stay); commits."""
    user.canvas_base_url = None
    user.canvas_token_encrypted = None
    user.canvas_user_id = None
    user.canvas_user_name = None
    db.session.commit()
