"""``/api/v1/...``: the read-only JSON API, authenticated by a personal token only.

Every route but the OpenAPI document needs ``Authorization: Bearer <token>``; a session cookie
is never read (so there is nothing for a cross-site request to ride on, and CSRF does not
apply). A missing, unknown or revoked token answers 401; an object that is not the token
owner's answers 404, like one that does not exist; too many requests answer 429 with
``Retry-After``. Errors are JSON: ``{"error", "message", "status"}``.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any, NoReturn

from flask import Blueprint, Response, abort, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from app.extensions import csrf, db
from app.models import User
from app.pages.api import openapi, records, tokens
from app.pages.export.data import assignment_records, course_records

logger = logging.getLogger(__name__)

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

MAX_PAGE = 500
MAX_ID = 2**31 - 1  # an INTEGER column
TITLES = {400: "Bad request", 401: "Unauthorized", 404: "Not found",
          405: "Method not allowed", 429: "Too many requests", 500: "Server error"}
PUBLIC_ENDPOINTS = {"api.openapi_document"}


def _error(status: int, message: str, **headers: str) -> Response:
    response = jsonify(error=TITLES.get(status, "Error"), message=message, status=status)
    response.status_code = status
    response.headers.update(headers)
    return response


def _fail(status: int, message: str, **headers: str) -> NoReturn:
    abort(_error(status, message, **headers))


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


@bp.before_request
def authenticate() -> None:
    """Find the token's owner (or answer 401), then count the request (or answer 429)."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    presented = _bearer()
    challenge = {"WWW-Authenticate": 'Bearer realm="GradeSync API"'}
    if presented is None:
        _fail(401, "Send a personal API token as 'Authorization: Bearer <token>' "
                   "(create one in Settings).", **challenge)
    row = tokens.token_for(presented)
    if row is None:
        _fail(401, "This token is not valid: it may have been revoked. Create a new one in "
                   "Settings.", **challenge)
    config = current_app.config
    decision = tokens.take_request(
        row.id, int(config["API_RATE_LIMIT"]),
        timedelta(seconds=int(config["API_RATE_WINDOW_S"])))
    if not decision.allowed:
        _fail(429, f"Too many requests with this token. Wait {decision.retry_after} seconds.",
              **{"Retry-After": str(decision.retry_after)})
    user = db.session.get(User, row.user_id)
    if user is None:
        _fail(401, "This token's account no longer exists.", **challenge)
    g.api_user = user


@bp.after_request
def no_caching(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Vary"] = "Authorization"
    return response


@bp.errorhandler(HTTPException)
def http_error(error: HTTPException) -> Response:
    code = error.code or 500
    message = error.description if code == 400 and error.description else (
        "Nothing here among your data." if code == 404 else TITLES.get(code, "Error") + ".")
    return _error(code, str(message))


def _owner() -> User:
    user: User = g.api_user
    return user


def _one(found: list[dict[str, Any]]) -> dict[str, Any]:
    if not found:
        _fail(404, "Nothing here among your data.")
    return found[0]


def _object_id(text: str) -> int:
    """An id in the path (plain ``str`` routes, so a bad one is this API's JSON 404 after the
    token check, not the site's HTML page)."""
    if not (text.isascii() and text.isdigit()) or len(text) > 10 or int(text) > MAX_ID:
        _fail(404, "Nothing here among your data.")
    return int(text)


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    text = request.args.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        _fail(400, f"'{name}' must be a whole number (not {text[:20]!r}).")
    if not low <= value <= high:
        _fail(400, f"'{name}' must be between {low} and {high}.")
    return value


@bp.get("/openapi.json")
def openapi_document() -> Response:
    return jsonify(openapi.document())


@bp.get("/courses")
def courses() -> Response:
    return jsonify(courses=course_records(_owner().id))


@bp.get("/courses/<course_id>")
def course(course_id: str) -> Response:
    return jsonify(course=_one(course_records(_owner().id, _object_id(course_id))))


@bp.get("/courses/<course_id>/assignments")
def course_assignments(course_id: str) -> Response:
    wanted = _object_id(course_id)
    _one(course_records(_owner().id, wanted))
    return jsonify(assignments=assignment_records(_owner().id, course_id=wanted))


@bp.get("/assignments")
def assignments() -> Response:
    return jsonify(assignments=assignment_records(_owner().id))


@bp.get("/assignments/<assignment_id>")
def assignment(assignment_id: str) -> Response:
    return jsonify(assignment=_one(assignment_records(
        _owner().id, assignment_id=_object_id(assignment_id))))


@bp.get("/grades")
def grades() -> Response:
    return jsonify(grades=records.grade_records(_owner().id))


@bp.get("/gpa")
def gpa() -> Response:
    return jsonify(records.gpa_record(_owner().id))


@bp.get("/changes")
def changes() -> Response:
    after = _int_arg("after", 0, 0, MAX_ID)
    limit = _int_arg("limit", 100, 1, MAX_PAGE)
    return jsonify(records.change_records(_owner().id, after, limit))


@bp.get("/planner")
def planner() -> Response:
    return jsonify(records.planner_record(_owner()))


@bp.route("/<path:rest>", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])
def unknown(rest: str) -> Response:
    """Any other address under the API (after the token check): JSON, not the HTML page."""
    if request.method not in ("GET", "HEAD"):
        return _error(405, "The API is read-only: use GET.", Allow="GET")
    return _error(404, "Nothing here among your data.")
