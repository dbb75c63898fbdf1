"""Alert settings, and the one-click unsubscribe link every alert email carries.

The unsubscribe link works without signing in: its signed token is the permission. It is
exempt from CSRF because mail clients POST to it directly (RFC 8058 one-click); a GET only
shows a button, so a link scanner that follows it changes nothing.
"""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from app.alerts import WebhookRefused, read_unsubscribe_token, save_settings, settings_for
from app.alerts.prefs import unsubscribe_email
from app.extensions import csrf, db
from app.models import User
from app.outbound import OutboundPolicy
from app.pages.settings.forms import AlertsForm
from app.pages.settings.views import bp, settings_page

EXPIRED = "The form expired. Reload the page and try again."


@bp.post("/settings/alerts")
@login_required
def alerts() -> Any:
    form = AlertsForm()
    form.saved_webhook_host = settings_for(current_user.id).webhook_host
    if not form.validate_on_submit():
        if "csrf_token" in form.errors:
            flash(EXPIRED, "error")
            return redirect(url_for("settings.index"))
        return settings_page(400, alerts_form=form)
    values = {name: form[name].data for name in form.data if name not in ("csrf_token",)}
    try:
        save_settings(current_user.id, values, OutboundPolicy.from_config(current_app.config))
    except WebhookRefused as exc:
        form.webhook_url.errors = [str(exc)]
        form.webhook_url.data = ""  # never echo an address that may hold a secret
        return settings_page(400, alerts_form=form)
    flash("Alert settings saved.", "success")
    return redirect(url_for("settings.index"))


def _user_for(token: str) -> User:
    user_id = read_unsubscribe_token(current_app.config["SECRET_KEY"], token)
    user = db.session.get(User, user_id) if user_id is not None else None
    if user is None:
        abort(404)
    return user


@bp.get("/alerts/unsubscribe/<token>")
def unsubscribe_confirm(token: str) -> Any:
    user = _user_for(token)
    return render_template("settings/unsubscribe.html", email=user.email, done=False)


@bp.post("/alerts/unsubscribe/<token>")
@csrf.exempt
def unsubscribe(token: str) -> Any:
    user = _user_for(token)
    unsubscribe_email(user.id)
    return render_template("settings/unsubscribe.html", email=user.email, done=True)
