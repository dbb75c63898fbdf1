"""Settings, "Phone and channel alerts": Web Push on this device and notification channels
(ntfy, Discord, Telegram, Matrix: one address box, the kind recognised from the address).

The browser subscribes with ``fetch`` (JSON, the CSRF token in ``X-CSRFToken``): ``/push/key``
gives the VAPID public key, ``/push/subscribe`` and ``/push/unsubscribe`` store and forget the
subscription. Each channel, and push, has a "Send a test" button that sends right away through
the outbound guard and says in plain words what happened. A channel's address is never shown
again: only its masked form.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import abort, current_app, flash, jsonify, redirect, request, url_for
from flask_login import current_user, login_required

from app.alerts import channels, push
from app.alerts.deliver import SEND_ERRORS
from app.alerts.prefs import WebhookRefused
from app.outbound import OutboundPolicy
from app.pages.settings.views import bp

logger = logging.getLogger(__name__)

TEST_TEXT = "GradeSync test: your alerts will arrive here."
MAX_ADDRESS = 2048


@bp.context_processor
def _channels_context() -> dict[str, Any]:
    """What ``settings/_channels.html`` shows, computed only when the template asks."""

    def view() -> dict[str, Any]:
        config = current_app.config
        return {
            "push_enabled": push.enabled(config),
            "push_devices": push.count(current_user.id),
            "channels": channels.of(current_user.id),
            "kind_names": channels.KINDS,
        }

    return {"channels_view": view}


def _policy() -> OutboundPolicy:
    return OutboundPolicy.from_config(current_app.config)


def _back() -> Any:
    return redirect(url_for("settings.index") + "#channels-title")


@bp.get("/push/key")
@login_required
def push_key() -> Any:
    config = current_app.config
    if not push.enabled(config):
        return jsonify(enabled=False)
    return jsonify(enabled=True, publicKey=push.public_key(config))


@bp.post("/push/subscribe")
@login_required
def push_subscribe() -> Any:
    if not push.enabled(current_app.config):
        return jsonify(error="Push notifications are turned off on this server."), 404
    try:
        sub = push.parse(request.get_json(silent=True), _policy())
    except push.PushRefused as exc:
        return jsonify(error=str(exc)), 400
    push.save(current_user.id, sub)
    logger.info("user %s subscribed a browser to push", current_user.id)
    return jsonify(ok=True, devices=push.count(current_user.id)), 201


@bp.post("/push/unsubscribe")
@login_required
def push_unsubscribe() -> Any:
    data = request.get_json(silent=True)
    endpoint = data.get("endpoint") if isinstance(data, dict) else None
    if not isinstance(endpoint, str) or len(endpoint) > MAX_ADDRESS:
        return jsonify(error="Send the endpoint to forget."), 400
    push.forget(current_user.id, endpoint)
    return jsonify(ok=True, devices=push.count(current_user.id))


@bp.post("/settings/push/test")
@login_required
def push_test() -> Any:
    try:
        sent = push.send(current_user.id, [TEST_TEXT])
    except push.NoDevice:
        sent = 0
    except SEND_ERRORS as exc:
        logger.info("test push to user %s failed: %s", current_user.id, type(exc).__name__)
        flash("The test notification could not be sent: the push service did not take it. "
              "Turn notifications off and on again on that device.", "error")
        return _back()
    if sent:
        flash(f"Test notification sent to {sent} device{'s' if sent != 1 else ''}.", "success")
    else:
        flash("No device gets notifications yet: press \u201cTurn on notifications on this "
              "device\u201d first.", "warning")
    return _back()


@bp.post("/settings/channels")
@login_required
def add_channel() -> Any:
    address = (request.form.get("address") or "").strip()
    if not address:
        flash("Enter a channel address, e.g. https://ntfy.sh/your-topic (more examples under "
              "the box).", "error")
        return _back()
    if len(address) > MAX_ADDRESS:
        flash(f"The channel address is longer than {MAX_ADDRESS} characters.", "error")
        return _back()
    try:
        row = channels.add(current_user.id, address, _policy())
    except (WebhookRefused, channels.TooManyChannels) as exc:
        flash(str(exc), "error")  # never the address itself: it may hold a token
        return _back()
    flash(f"Channel {row.masked} saved, encrypted. Send a test to check it.", "success")
    return _back()


@bp.post("/settings/channels/<int:channel_id>/test")
@login_required
def test_channel(channel_id: int) -> Any:
    row = channels.owned(current_user.id, channel_id)
    if row is None:
        abort(404)  # another student's channel looks like one that does not exist
    try:
        channels.send(row, [TEST_TEXT], _policy(), title="GradeSync test")
    except SEND_ERRORS as exc:
        logger.info("test to channel %s of user %s failed: %s", row.id, current_user.id,
                    type(exc).__name__)
        flash(f"The test to {row.masked} failed ({_why(exc)}). Check the address and its "
              "token, and that the bot or account may post there.", "error")
        return _back()
    flash(f"Test sent to {row.masked}.", "success")
    return _back()


def _why(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if response is not None:
        return f"it answered {response.status_code}"
    if isinstance(exc, WebhookRefused):
        return str(exc).rstrip(".")
    return "it could not be reached"


@bp.post("/settings/channels/<int:channel_id>/remove")
@login_required
def remove_channel(channel_id: int) -> Any:
    if not channels.remove(current_user.id, channel_id):
        abort(404)
    flash("Channel removed.", "success")
    return _back()
