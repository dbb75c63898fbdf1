"""Serve a student's calendar feed to calendar apps, which cannot log in.

An unknown, revoked or malformed secret is a plain 404: the response never tells whether an
address once existed.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, request

from app.calendar import build_feed, feed_user

bp = Blueprint("calendar", __name__)


@bp.get("/calendar/<string:secret>.ics")
def feed(secret: str) -> Response:
    user = feed_user(secret)
    if user is None:
        abort(404)
    # Past terms' deadlines only on request: "?past=1" on the address.
    include_past = request.args.get("past", "").lower() in ("1", "true", "yes")
    response = Response(build_feed(user, include_past=include_past),
                        content_type="text/calendar; charset=utf-8")
    response.headers["Content-Disposition"] = 'inline; filename="gradesync.ics"'
    # The body is private to whoever holds the address: no shared caches.
    response.headers["Cache-Control"] = "private, max-age=300"
    response.headers["X-Robots-Tag"] = "noindex"
    return response
