""""Connect with Canvas" (OAuth2): send the student to Canvas, and take the answer back.

The ``state`` is signed and names this user; its nonce lives in the session and is removed by
the first callback whose ``state`` checks out, so a replayed callback is refused. The callback
is a GET that Canvas's redirect makes; it changes nothing without a valid, unused ``state``
(that is its CSRF protection). A forged callback (a cross-site GET with a made-up ``state``,
or with an ``error`` and no ``state``) leaves the nonce alone: the student's real sign-in at
Canvas still completes. The ``redirect_uri`` is built from ``PUBLIC_URL``, not the Host
header. Routes are added to the settings blueprint.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required

from app.connections import CanvasConnectionError
from app.connections.oauth import authorization_url, complete_authorization, read_state
from app.connections.scopes import refusal_message
from app.pages.outward import public_url_for
from app.pages.settings.forms import OAuthStartForm
from app.pages.settings.views import bp
from app.security import InvalidCanvasURL

logger = logging.getLogger(__name__)

NONCE_KEY = "canvas_oauth_nonce"


def _callback_url() -> str:
    """The ``redirect_uri``: under ``PUBLIC_URL``, so a forged Host header cannot change it."""
    return public_url_for("settings.oauth_callback")


@bp.post("/oauth/canvas/start")
@login_required
def oauth_start() -> Any:
    form = OAuthStartForm()
    if not form.validate_on_submit():
        flash("Enter your Canvas address to connect with Canvas.", "error")
        return redirect(url_for("settings.index"))
    try:
        target, nonce = authorization_url(current_user, form.url.data, _callback_url())
    except (CanvasConnectionError, InvalidCanvasURL) as exc:
        flash(str(exc), "error")
        return redirect(url_for("settings.index"))
    session[NONCE_KEY] = nonce
    # A page, not a redirect: the CSP's form-action 'self' stops a form whose answer
    # redirects to another origin, and Canvas is one.
    return render_template("settings/to_canvas.html", target=target)


@bp.get("/oauth/canvas/callback")
@login_required
def oauth_callback() -> Any:
    # Read, not taken: only a state that checks out against it uses the nonce up (below), so
    # a forged cross-site callback cannot spend the one the student's real sign-in needs.
    nonce = session.get(NONCE_KEY)
    error = request.args.get("error", "")
    if error and error != "access_denied" and nonce:
        # Canvas's refusals of the request itself (a developer-key setting) come back without
        # ``state`` (canvas-lms Canvas::OAuth::RequestError#redirect_uri appends only error and
        # error_description): say which setting, instead of "could not be verified". Nothing
        # changes here, so the missing state costs nothing; a pending sign-in is still needed.
        logger.info("user %s: Canvas refused the OAuth2 request (%r)", current_user.id, error[:40])
        flash(refusal_message(error), "error")
        return redirect(url_for("settings.index"))
    try:
        base_url = read_state(request.args.get("state", ""), current_user, nonce)
        session.pop(NONCE_KEY, None)  # the state is genuine: single use from here on
        if error:
            flash("Canvas was not connected: the sign-in at Canvas was cancelled.", "info")
            return redirect(url_for("settings.index"))
        connection = complete_authorization(
            current_user, base_url, request.args.get("code", ""), _callback_url()
        )
    except CanvasConnectionError as exc:
        flash(str(exc), "error")
        return redirect(url_for("settings.index"))
    logger.info("user %s connected a Canvas with OAuth2", current_user.id)
    flash(f"Connected to Canvas as {connection.canvas_user_name or 'your account'} "
          f"({connection.display_name}).", "success")
    return redirect(url_for("settings.index"))
