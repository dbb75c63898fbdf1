"""Alert settings, and the one-click unsubscribe link every alert email carries.

The unsubscribe link works without signing in: its signed token is the permission. It is
exempt from CSRF because mail clients POST to it directly (RFC 8058 one-click); a GET only
shows a button, so a link scanner that follows it changes nothing. A link past its expiry, or
older than the student's last change of their alert choices (its own use included), does
nothing (410). The page shows the email address only to its owner, signed in.
"""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from app.alerts import WebhookRefused, read_unsubscribe_token, save_settings, settings_for
from app.alerts.mail import UnsubscribeLink
from app.alerts.prefs import changed_at, unsubscribe_email
from app.extensions import csrf, db
from app.models import User, utcnow
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


def _link(token: str) -> tuple[User, UnsubscribeLink]:
    link = read_unsubscribe_token(current_app.config["SECRET_KEY"], token)
    user = db.session.get(User, link.user_id) if link is not None else None
    if user is None or link is None:
        abort(404)
    return user, link


def _page(user: User, state: str) -> Any:
    # The address only for its owner, signed in: a forwarded or leaked link must not tell
    # whoever opens it which email the account uses.
    signed_in_owner = current_user.is_authenticated and current_user.id == user.id
    body = render_template("settings/unsubscribe.html", state=state,
                           email=user.email if signed_in_owner else None)
    return body, 410 if state in ("expired", "outdated") else 200


def _state(user: User, link: UnsubscribeLink) -> str:
    if link.expired(utcnow()):
        return "expired"
    if link.outdated(changed_at(user.id)):
        return "outdated"
    return "ready"


@bp.get("/alerts/unsubscribe/<token>")
def unsubscribe_confirm(token: str) -> Any:
    user, link = _link(token)
    return _page(user, _state(user, link))


@bp.post("/alerts/unsubscribe/<token>")
@csrf.exempt
def unsubscribe(token: str) -> Any:
    """The button, and mail clients' RFC 8058 one-click POST: no login, no CSRF token."""
    user, link = _link(token)
    state = _state(user, link)
    if state == "ready":
        unsubscribe_email(user.id)
        state = "done"
    return _page(user, state)
