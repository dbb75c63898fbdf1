"""Settings for what happens without a click: automatic syncs and the calendar feed.

The feed's address is shown once, right after it is created: only its hash is stored, so
the page cannot show it again (creating a new one replaces it).
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, url_for
from flask_login import current_user, login_required

from app.accounts import set_sync_interval
from app.calendar import new_feed_secret, revoke_feed
from app.models.user import SYNC_INTERVAL_CHOICES
from app.pages.outward import public_url_for
from app.pages.settings.forms import CalendarFeedForm, RevokeCalendarFeedForm, ScheduleForm
from app.pages.settings.views import bp, settings_page

EXPIRED = "The form expired. Reload the page and try again."


@bp.post("/settings/schedule")
@login_required
def schedule() -> Any:
    form = ScheduleForm()
    if not form.validate_on_submit():
        if "csrf_token" in form.errors:
            flash(EXPIRED, "error")
            return redirect(url_for("settings.index"))
        return settings_page(400, schedule_form=form)
    set_sync_interval(current_user, form.interval.data)
    label = dict(SYNC_INTERVAL_CHOICES)[form.interval.data]
    flash(f"Automatic syncs: {label.lower()}.", "success")
    return redirect(url_for("settings.index"))


@bp.post("/settings/calendar")
@login_required
def create_calendar_feed() -> Any:
    if not CalendarFeedForm().validate_on_submit():
        flash(EXPIRED, "error")
        return redirect(url_for("settings.index"))
    secret = new_feed_secret(current_user)
    # Rendered, not redirected: the address must not travel in a (readable) session cookie.
    return settings_page(feed_url=public_url_for("calendar.feed", secret=secret))


@bp.post("/settings/calendar/revoke")
@login_required
def revoke_calendar_feed() -> Any:
    if not RevokeCalendarFeedForm().validate_on_submit():
        flash(EXPIRED, "error")
        return redirect(url_for("settings.index"))
    revoke_feed(current_user)
    flash("The calendar feed is off; its address no longer works.", "info")
    return redirect(url_for("settings.index"))
