"""The settings page: the student's Canvas connections (add, test, rename, disconnect, remove).

Credentials are stored only after Canvas accepts the token. A saved token is never put into a
page; the page says only that one is saved, and how many days it has left when that is known.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from app.accounts import AccountError, set_time_zone
from app.alerts import settings_for
from app.connections import (
    CanvasConnectionError,
    check_canvas_connection,
    connect_canvas,
    connection_views,
    disconnect_canvas,
    disconnect_connection,
    expiry_from_days,
    get_connection,
    remove_connection,
    rename_connection,
)
from app.connections.oauth import list_clients
from app.models import CanvasConnection
from app.pages.common import as_sentence
from app.pages.settings.forms import (
    AlertsForm,
    CalendarFeedForm,
    CanvasForm,
    DisconnectForm,
    OAuthStartForm,
    RemoveForm,
    RenameForm,
    RevokeCalendarFeedForm,
    ScheduleForm,
    TestConnectionForm,
    TimeZoneForm,
)
from app.security import InvalidCanvasToken, InvalidCanvasURL

bp = Blueprint("settings", __name__)

logger = logging.getLogger(__name__)

# A person's mistake is a 400; Canvas being down or slow is the upstream's fault.
STATUS_BY_KIND = {"unreachable": 502, "error": 502, "timeout": 504, "busy": 429}
EXPIRED_FORM = "The form expired. Reload the page and try again."


def demo_canvas() -> dict[str, str] | None:
    """The demo's simulated Canvas (address and token), or None outside ``run.py --demo``.

    The demo runs on loopback with a simulator anyone may read, so showing its token is safe;
    a real deployment never has ``DEMO_MODE`` on.
    """
    config = current_app.config
    if not config.get("DEMO_MODE") or not config.get("DEMO_CANVAS_URL"):
        return None
    return {"url": config["DEMO_CANVAS_URL"], "token": config.get("DEMO_CANVAS_TOKEN") or ""}


def _page(
    form: CanvasForm,
    status: int = 200,
    error: str | None = None,
    *,
    schedule_form: ScheduleForm | None = None,
    feed_url: str | None = None,
    zone_form: TimeZoneForm | None = None,
    alerts_form: AlertsForm | None = None,
    alerts_error: str | None = None,
) -> Any:
    if len(form.url.data or "") > 255:
        form.url.data = ""  # never echo a huge value back
    if schedule_form is None:
        schedule_form = ScheduleForm(formdata=None, interval=current_user.sync_interval_minutes)
    if zone_form is None:
        zone_form = TimeZoneForm(formdata=None, time_zone=current_user.time_zone or "")
    return render_template(
        "settings/index.html",
        form=form,
        test_form=TestConnectionForm(),
        rename_form=RenameForm(),
        connections=connection_views(current_user.id),
        oauth_form=OAuthStartForm(),
        oauth_urls=[client.base_url for client in list_clients()],
        zone_form=zone_form,
        error=error,
        demo=demo_canvas(),
        schedule_form=schedule_form,
        calendar_form=CalendarFeedForm(),
        revoke_calendar_form=RevokeCalendarFeedForm(),
        feed_url=feed_url,
        alerts_form=alerts_form or alerts_form_for(current_user.id),
        alerts_error=alerts_error,
        mail_enabled=bool(current_app.config.get("MAIL_SERVER")),
    ), status


def _owned(connection_id: int) -> CanvasConnection:
    """The current user's connection, or 404 (another user's id looks like a missing one)."""
    connection = get_connection(current_user.id, connection_id)
    if connection is None:
        abort(404)
    return connection


def alerts_form_for(user_id: int) -> AlertsForm:
    """The alerts form filled in with the student's saved choices (or the defaults)."""
    saved = settings_for(user_id)
    form = AlertsForm(formdata=None, obj=saved)
    form.saved_webhook_host = saved.webhook_host
    if not current_app.config.get("MAIL_SERVER"):
        # No mail on this server: a ticked "Email me" would promise what never comes.
        form.email.data = False
        form.email.render_kw = {"disabled": True}
        form.email.label.text = "Email me (not available: this server has no email set up)"
    return form


def settings_page(status: int = 200, **extra: Any) -> Any:
    """The settings page as on a first visit, with ``extra`` (another form's result)."""
    demo = demo_canvas()
    form = CanvasForm(formdata=None)
    form.url.data = demo["url"] if demo and not current_user.canvas_connected else ""
    return _page(form, status, **extra)


@bp.route("/settings", methods=["GET", "POST"])
@login_required
def index() -> Any:
    form = CanvasForm()
    if not form.is_submitted():
        demo = demo_canvas()
        form.url.data = demo["url"] if demo and not current_user.canvas_connected else ""
        return _page(form)
    if not form.validate():
        return _page(form, 400)
    try:
        profile = connect_canvas(
            current_user,
            form.url.data,
            form.token.data,
            label=form.label.data or None,
            expires_at=expiry_from_days(form.expires_in_days.data),
        )
    except InvalidCanvasURL as exc:
        form.url.errors.append(as_sentence(str(exc)))
        return _page(form, 400)
    except InvalidCanvasToken as exc:
        form.token.errors.append(as_sentence(str(exc)))
        return _page(form, 400)
    except CanvasConnectionError as exc:
        logger.info("Canvas connection refused for user %s: %s", current_user.id, exc.kind)
        return _page(form, STATUS_BY_KIND.get(exc.kind, 400), as_sentence(str(exc)))
    logger.info("user %s connected a Canvas", current_user.id)
    name = profile.get("name") or "your Canvas account"
    flash(f"Connected to Canvas as {name}. Your token is saved, encrypted.", "success")
    return redirect(url_for("settings.index"))


def _test(connection: CanvasConnection | None) -> Any:
    if not TestConnectionForm().validate_on_submit():
        flash(EXPIRED_FORM, "error")
        return redirect(url_for("settings.index"))
    try:
        profile = check_canvas_connection(current_user, connection)
    except (CanvasConnectionError, InvalidCanvasURL, InvalidCanvasToken) as exc:
        flash(as_sentence(str(exc)), "error")
    else:
        name = profile.get("name") or "your Canvas account"
        flash(f"The connection works: Canvas knows this token as {name}.", "success")
    return redirect(url_for("settings.index"))


@bp.route("/settings/test", methods=["POST"])
@login_required
def test_connection() -> Any:
    return _test(None)


@bp.post("/settings/connections/<int:connection_id>/test")
@login_required
def test_one(connection_id: int) -> Any:
    return _test(_owned(connection_id))


@bp.post("/settings/connections/<int:connection_id>/rename")
@login_required
def rename(connection_id: int) -> Any:
    connection = _owned(connection_id)
    form = RenameForm()
    if not form.validate_on_submit():
        flash(" ".join(sum(form.errors.values(), [])) or EXPIRED_FORM, "error")
        return redirect(url_for("settings.index"))
    rename_connection(connection, form.label.data or "")
    flash(f"Renamed to {connection.display_name}.", "success")
    return redirect(url_for("settings.index"))


@bp.post("/settings/time-zone")
@login_required
def time_zone() -> Any:
    """Show every date in the zone the student picks (Canvas's profile zone is the first)."""
    zone_form = TimeZoneForm()
    if not zone_form.validate_on_submit():
        flash("The form expired. Reload the page and try again.", "error")
        return redirect(url_for("settings.index"))
    try:
        zone = set_time_zone(current_user, zone_form.time_zone.data)
    except AccountError as exc:
        zone_form.time_zone.errors = [as_sentence(str(exc))]
        form = CanvasForm(formdata=None, url="")
        return _page(form, 400, zone_form=zone_form)
    flash(f"Dates are now shown in {zone} time.", "success")
    return redirect(url_for("settings.index"))


@bp.get("/settings/disconnect")
@login_required
def confirm_disconnect() -> Any:
    """Ask first, and say exactly what disconnecting does to the data."""
    if not current_user.canvas_connected:
        return redirect(url_for("settings.index"))
    return render_template(
        "settings/disconnect.html", disconnect_form=DisconnectForm(), connection=None
    )


@bp.post("/settings/disconnect")
@login_required
def disconnect() -> Any:
    if not DisconnectForm().validate_on_submit():
        flash(EXPIRED_FORM, "error")
        return redirect(url_for("settings.index"))
    disconnect_canvas(current_user)
    logger.info("user %s disconnected Canvas", current_user.id)
    flash("Canvas is disconnected and the token is deleted. Your synced grades are kept, "
          "read-only, on the dashboard.", "info")
    return redirect(url_for("settings.index"))


@bp.route("/settings/connections/<int:connection_id>/disconnect", methods=["GET", "POST"])
@login_required
def disconnect_one(connection_id: int) -> Any:
    connection = _owned(connection_id)
    form = DisconnectForm()
    if not form.is_submitted():
        return render_template(
            "settings/disconnect.html", disconnect_form=form, connection=connection
        )
    if not form.validate():
        flash(EXPIRED_FORM, "error")
        return redirect(url_for("settings.index"))
    disconnect_connection(connection)
    flash(f"{connection.display_name} is disconnected and its token is deleted. Its grades are "
          "kept, read-only, on the dashboard.", "info")
    return redirect(url_for("settings.index"))


@bp.route("/settings/connections/<int:connection_id>/remove", methods=["GET", "POST"])
@login_required
def remove(connection_id: int) -> Any:
    """Remove a connection *and* its synced grades (asked first; other Canvases stay)."""
    connection = _owned(connection_id)
    form = RemoveForm()
    if not form.is_submitted():
        return render_template("settings/remove.html", remove_form=form, connection=connection)
    if not form.validate():
        flash(EXPIRED_FORM, "error")
        return redirect(url_for("settings.index"))
    name = connection.display_name
    remove_connection(connection)
    logger.info("user %s removed Canvas connection %s", current_user.id, connection_id)
    flash(f"{name} and the grades synced from it are removed.", "info")
    return redirect(url_for("settings.index"))
