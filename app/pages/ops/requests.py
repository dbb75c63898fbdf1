"""Every web request gets a request id (``X-Request-ID``, echoed back) and one log line; a
refused sign-in counts in ``gradesync_login_failures_total``.

The line names the route's pattern, never the path itself: a path may carry a secret (the
calendar feed's address), and a query string may too.
"""

from __future__ import annotations

import logging
import time

from flask import Response, g, request

from app import metrics
from app.logs import accepted_request_id, current_request_id, set_request_id
from app.pages.ops.blueprint import bp

logger = logging.getLogger("app.requests")


@bp.before_app_request
def _take_request_id() -> None:
    set_request_id(accepted_request_id(request.headers.get("X-Request-ID")))
    g.request_started = time.monotonic()


@bp.after_app_request
def _log_request(response: Response) -> Response:
    request_id = current_request_id()
    if request_id:
        response.headers["X-Request-ID"] = request_id
    if request.endpoint == "auth.login" and request.method == "POST" and \
            response.status_code != 302:
        metrics.login_failed()  # the form again (wrong password) or 429 (slowed down)
    rule = request.url_rule.rule if request.url_rule is not None else "(no route)"
    if rule not in ("/healthz", "/readyz", "/metrics", "/static/<path:filename>"):
        elapsed = time.monotonic() - g.get("request_started", time.monotonic())
        logger.info("%s %s %s %.0f ms", request.method, rule, response.status_code,
                    elapsed * 1000)
    return response
