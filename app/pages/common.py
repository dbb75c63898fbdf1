"""Web-wide wiring: the login loader, security headers, error pages and template helpers.

Other blueprints import two helpers from here:

- ``get_owned_or_404(model, id)``: fetch a row that belongs to the signed-in user, else 404
  (another user's id is indistinguishable from one that does not exist).
- the Jinja helpers ``url_if(endpoint)``, ``format_dt`` and ``timeago``.

Templates must not use inline ``<script>`` or ``style=""``: the Content-Security-Policy below
only allows scripts and styles served from ``/static``.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import (
    Flask,
    Response,
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_url
from flask_wtf.csrf import CSRFError
from markupsafe import Markup, escape
from sqlalchemy import select
from werkzeug.exceptions import HTTPException, InternalServerError

import clock
from app.pages.outward import hide_secrets_in_request_logs, page_text
from app.timezones import in_zone

logger = logging.getLogger(__name__)

ModelT = TypeVar("ModelT")

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), payment=(), usb=(), interest-cohort=()"
)

# What each error page says; the title is what a person sees first.
ERROR_TEXT: dict[int, tuple[str, str]] = {
    400: ("Bad request", "The request could not be understood. Go back and try again."),
    401: ("Please sign in", "You need to sign in to see this page."),
    403: ("Not allowed", "You do not have access to this page."),
    404: ("Page not found", "There is nothing here. Check the address, or go back."),
    405: ("Method not allowed", "This page cannot be used that way. Go back and use the form."),
    413: (
        "Too much data",
        "What you sent is too large for this form. Shorten it and try again.",
    ),
    429: ("Too many attempts", "Too many attempts in a short time. Wait a moment and try again."),
    500: (
        "Something went wrong",
        "An unexpected error happened on our side. It has been logged; please try again.",
    ),
}
CSRF_MESSAGE = "The form expired or was sent from another page. Reload the page and try again."


def register_web(app: Flask) -> None:
    """Attach the user loader, headers, error handlers and Jinja helpers to ``app``."""
    from app.extensions import login_manager
    from app.pages.auth.sessions import load_user

    # Sessions and remember cookies carry "<id>:<version>:<issued>", not the bare id.
    login_manager.id_attribute = "get_session_id"
    login_manager.user_loader(load_user)

    @login_manager.unauthorized_handler
    def unauthorized() -> Any:
        # fetch() pollers get a 401 they can act on; people get the login page.
        if _wants_json():
            return render_error(401)
        flash(login_manager.login_message, login_manager.login_message_category)
        return redirect(login_url(login_manager.login_view, next_url=request.url))

    # The "remember me" cookie follows the session cookie: Secure whenever that one is.
    app.config.setdefault("REMEMBER_COOKIE_SECURE", bool(app.config.get("SESSION_COOKIE_SECURE")))
    app.config.setdefault("REMEMBER_COOKIE_DURATION", timedelta(days=30))

    # First of all before_request hooks: CSRFProtect's, registered earlier, reads the form.
    app.before_request_funcs.setdefault(None, []).insert(0, _limit_form_body)
    app.after_request(_security_headers)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
    app.jinja_env.filters["format_dt"] = format_dt
    app.jinja_env.globals["DATE_TIME"] = DATE_TIME
    app.jinja_env.globals["DATE"] = DATE
    app.jinja_env.filters["timeago"] = timeago
    app.jinja_env.globals["url_if"] = url_if
    app.jinja_env.globals["now"] = lambda: clock.now()
    # Before any template compiles: every {{ value }} loses bidi controls (app.pages.outward).
    app.jinja_env.finalize = page_text
    hide_secrets_in_request_logs()


# --- Request size ---------------------------------------------------------------------------

FORM_MIMETYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


def _limit_form_body() -> None:
    """Refuse a form post whose body is over ``MAX_FORM_BODY_SIZE`` (64 KiB) with the 413 page.

    The app's own check, so it holds whatever limits the installed Werkzeug applies to form
    fields. JSON bodies (the what-if endpoint) are left to ``MAX_CONTENT_LENGTH``. A body of
    unknown length (chunked) gets the same cap as the stream limit the form parser reads under.
    """
    if request.mimetype not in FORM_MIMETYPES:
        return
    limit = int(current_app.config["MAX_FORM_BODY_SIZE"])
    length = request.content_length
    if length is not None and length > limit:
        logger.info("refused a %d-byte form post to %s (limit %d)", length, request.path, limit)
        abort(413)
    current = request.max_content_length
    request.max_content_length = limit if current is None else min(current, limit)


# --- Headers --------------------------------------------------------------------------------


def _security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if request.is_secure or current_app.config.get("SESSION_COOKIE_SECURE"):
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    # Pages show grades: browsers and proxies must not keep a copy after sign-out.
    if request.endpoint != "static":
        _load_user_or_anonymous()
        if current_user.is_authenticated:
            headers.setdefault("Cache-Control", "no-store")
    return response


# --- Error pages ----------------------------------------------------------------------------


def _wants_json() -> bool:
    """True for fetch() callers that ask for JSON and not HTML (the progress poller)."""
    accept = request.accept_mimetypes
    return accept.accept_json and not accept.accept_html


def render_error(code: int, message: str | None = None) -> tuple[Any, int]:
    """Render the friendly page (or JSON for fetch() callers) for an HTTP error."""
    title, default_message = ERROR_TEXT.get(code, ("Error", "The request failed."))
    text = message or default_message
    _load_user_or_anonymous()
    if _wants_json():
        return {"error": title, "message": text, "status": code}, code
    return render_template("errors/error.html", code=code, title=title, message=text), code


def _load_user_or_anonymous() -> None:
    """Make ``current_user`` safe to use in the error page even when the database is down."""
    from app.extensions import login_manager

    try:
        bool(current_user.is_authenticated)
    except Exception:  # noqa: BLE001 - the error page must render whatever broke
        logger.warning("could not load the signed-in user for an error page", exc_info=True)
        g._login_user = login_manager.anonymous_user()


def _csrf_error(error: CSRFError) -> tuple[Any, int]:
    logger.info("CSRF check failed on %s %s: %s", request.method, request.path, error.description)
    return render_error(400, CSRF_MESSAGE)


def _http_error(error: HTTPException) -> Any:
    code = error.code or 500
    if code < 400:
        return error  # redirects raised as exceptions (e.g. RequestRedirect) pass through
    body, status = render_error(code, _custom_description(error))
    response = make_response(body, status)
    original = error.get_response()
    for name in ("Allow", "Retry-After"):
        if name in original.headers:
            response.headers[name] = original.headers[name]
    return response


def _custom_description(error: HTTPException) -> str | None:
    """Keep a description a view passed to ``abort(code, "...")``; drop werkzeug's defaults."""
    default = type(error).description
    if error.description and error.description != default:
        return str(error.description)
    return None


def _unexpected_error(error: Exception) -> tuple[Any, int]:
    if isinstance(error, HTTPException):  # pragma: no cover - routed to _http_error first
        return _http_error(error)
    logger.exception("Unhandled error on %s %s", request.method, request.path)
    try:
        from app.extensions import db

        db.session.rollback()
    except Exception:  # noqa: BLE001 - the page must still render if the DB is gone
        logger.warning("rollback after an unhandled error failed", exc_info=True)
    return render_error(InternalServerError.code)


# --- Template helpers -----------------------------------------------------------------------


def as_sentence(message: str) -> str:
    """``message`` as a sentence for a page: a capital first letter and a full stop."""
    message = message.strip()
    message = message[:1].upper() + message[1:]
    return message if message.endswith((".", "!", "?")) else message + "."


def url_if(endpoint: str, **values: Any) -> str | None:
    """``url_for`` that returns None when the endpoint is not registered (yet)."""
    if endpoint not in current_app.view_functions:
        return None
    return url_for(endpoint, **values)


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def timeago(value: datetime | None, now: datetime | None = None) -> str:
    """'3 minutes ago', 'in 2 days', 'just now'; 'never' for None."""
    if value is None:
        return "never"
    now = _aware(now) if now is not None else clock.now()
    seconds = (now - _aware(value)).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    if seconds < 45:
        return "just now"
    for unit, size in (
        ("year", 31_536_000),
        ("month", 2_592_000),
        ("week", 604_800),
        ("day", 86_400),
        ("hour", 3_600),
        ("minute", 60),
    ):
        if seconds >= size * 0.95:
            count = max(1, round(seconds / size))
            text = f"{count} {unit}{'' if count == 1 else 's'}"
            return f"in {text}" if future else f"{text} ago"
    return "in 1 minute" if future else "1 minute ago"


# A date with its time, e.g. "Mar 03, 2026, 11:59 PM": due dates and run start times.
DATE_TIME = "%b %d, %Y, %I:%M %p"
# A date alone, e.g. "Mar 03, 2026" (in the student's zone, like every date shown).
DATE = "%b %d, %Y"


def format_dt(value: datetime | None, fmt: str = "relative", zone: str | None = None) -> Markup:
    """A ``<time>`` element: relative text (or ``fmt`` via strftime) with the full time as title.

    Dates and times are in ``zone``, by default the signed-in student's (``users.time_zone``),
    never as UTC dates: a 23:59 deadline in Chicago is 05:59Z the next day.
    """
    if value is None:
        return Markup("never")
    aware = _aware(value)
    local = in_zone(aware, zone if zone is not None else _student_zone())
    iso = aware.isoformat(timespec="seconds").replace("+00:00", "Z")
    label = timeago(aware) if fmt == "relative" else local.strftime(fmt)
    human = local.strftime("%Y-%m-%d %H:%M ") + (local.tzname() or "UTC")
    return Markup('<time datetime="{}" title="{}">{}</time>').format(
        escape(iso), escape(human), escape(label)
    )


def _student_zone() -> str | None:
    try:
        return current_user.time_zone if current_user.is_authenticated else None
    except Exception:  # noqa: BLE001 - a page outside a request (or with no user) shows UTC
        return None


# --- Ownership ------------------------------------------------------------------------------


def get_owned_or_404(model: type[ModelT], object_id: Any) -> ModelT:
    """Return ``model`` row ``object_id`` if it belongs to the signed-in user, else abort 404.

    Rows owned directly carry ``user_id``; rows under a course (assignments, grade
    categories) carry ``course_id`` and are checked through the course. A row of another
    user answers 404, never 403, so ids cannot be probed.
    """
    from app.extensions import db
    from app.models import Course

    if not current_user or not current_user.is_authenticated:
        abort(404)
    try:
        object_id = int(object_id)
    except (TypeError, ValueError):
        abort(404)
    if not -(2**31) <= object_id < 2**31:  # beyond an INTEGER column: Postgres would error
        abort(404)
    pk = model.id  # type: ignore[attr-defined]
    if hasattr(model, "user_id"):
        query = select(model).where(pk == object_id, model.user_id == current_user.id)  # type: ignore[attr-defined]
    elif hasattr(model, "course_id"):
        query = (
            select(model)
            .join(Course, Course.id == model.course_id)  # type: ignore[attr-defined]
            .where(pk == object_id, Course.user_id == current_user.id)
        )
    else:
        raise TypeError(f"{model.__name__} has no owner column (user_id or course_id)")
    if hasattr(model, "deleted_at"):
        query = query.where(model.deleted_at.is_(None))  # type: ignore[attr-defined]
    row = db.session.scalar(query)
    if row is None:
        abort(404)
    return row


# --- Redirects ------------------------------------------------------------------------------


def safe_next_url(target: str | None) -> str | None:
    """``target`` if it is a path on this site, else None (no open redirects).

    Only relative paths starting with a single ``/`` pass: ``//evil.example``, ``https://...``,
    backslashes (browsers read ``/\\evil`` as ``//evil``) and control characters are refused.
    """
    if not target or len(target) > 2048:
        return None
    if any(ord(ch) < 32 or ord(ch) == 127 or ch == "\\" for ch in target):
        return None
    if not target.startswith("/") or target.startswith("//"):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def home_url() -> str:
    """Where a signed-in user lands: the dashboard, or settings until it exists."""
    return url_if("dashboard.index") or url_for("settings.index")
