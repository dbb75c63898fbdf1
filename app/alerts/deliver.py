"""Deliver alerts: after each run, on each channel, exactly once; held in quiet hours.

:func:`after_run` is what the jobs layer calls when a run ends. It chooses the run's alerts
(:mod:`app.alerts.choose`), claims each (alert, channel) by inserting its ``alert_delivery``
row - the unique key lets exactly one insert win, so a second sync, a retried job or a second
worker never sends it again - and then sends the claimed ones, one email and one webhook post
per run. In quiet hours, or when the student chose the daily digest, the rows are ``held``;
:func:`send_digest` sends them together later (after a run or on a scheduler tick).

Sending is synchronous with short timeouts, so a CLI sync has handed its email to the SMTP
server before ``canvas sync`` returns. A failure, whatever raised it, is one log line and a
``failed`` row (never a row left ``sending``); it never fails the sync.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests
from flask import current_app
from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.exc import IntegrityError

from app import metrics
from app.alerts import channels as notify_channels
from app.alerts import mail, push, webhook
from app.alerts.choose import Alert, due_soon, from_events, reconnect
from app.alerts.prefs import WebhookRefused, settings_for, webhook_url
from app.extensions import db
from app.models import (
    AlertDelivery,
    AlertSettings,
    Assignment,
    CanvasConnection,
    Course,
    GradeEvent,
    SyncRun,
    User,
    utcnow,
)
from app.outbound import OutboundPolicy, OutboundRefused
from app.safe_text import strip_control
from app.sync.result import SyncResult
from app.timezones import in_zone

logger = logging.getLogger(__name__)

DIGEST_HOUR = 18  # the daily digest goes out with the first run or tick after 18:00 local
SEND_ERRORS = (smtplib.SMTPException, OSError, requests.RequestException, OutboundRefused,
               WebhookRefused)


def after_run(user_id: int, sync_run_id: int, result: SyncResult) -> int:
    """Send (or hold) the alerts of a finished run; how many (alert, channel) pairs were new."""
    user = db.session.get(User, user_id)
    if user is None:
        return 0
    settings = settings_for(user_id)
    now = utcnow()
    alerts: list[Alert]
    if not channels(settings):
        alerts = []  # nowhere to send them: choosing them would only cost queries
    elif result.succeeded:
        run = db.session.get(SyncRun, sync_run_id)
        alerts = _run_alerts(user, settings, run, now) if run is not None else []
    else:
        alerts = _reconnect_alerts(settings, result)
    count = dispatch(user, settings, alerts, now) if alerts else 0
    send_digest(user_id, now, settings=settings)
    return count


@dataclass(frozen=True)
class RunAlertFacts:
    """What decides whether :func:`after_run` has anything to do for a run that recorded no
    ledger event, read with the run's user (:func:`run_alert_columns`, no statement of its
    own) so that the usual scheduled run sends no statement for its alerts at all."""

    on_due_soon: bool
    digest: bool
    quiet_start: int | None
    quiet_end: int | None
    held: bool  # the student has held alerts (quiet hours, the digest)
    time_zone: str | None  # the user's

    @classmethod
    def of(cls, row: Any, time_zone: str | None) -> RunAlertFacts:
        """From a row holding :func:`run_alert_columns` (no settings row: the defaults of
        :func:`~app.alerts.prefs.settings_for`)."""
        return cls(bool(row.alerts_on_due_soon), bool(row.alerts_digest),
                   row.alerts_quiet_start, row.alerts_quiet_end, bool(row.alerts_held),
                   time_zone)


def run_alert_columns(user_id: int) -> list[ColumnElement[Any]]:
    """The columns :meth:`RunAlertFacts.of` reads: the student's settings and whether alerts
    are held (each a scalar subquery: an index lookup)."""
    def setting(column: Any, name: str) -> ColumnElement[Any]:
        return (select(column).where(AlertSettings.user_id == user_id)
                .scalar_subquery().label(name))

    held = (select(AlertDelivery.id)
            .where(AlertDelivery.user_id == user_id, AlertDelivery.status == "held")
            .exists().label("alerts_held"))
    return [setting(AlertSettings.on_due_soon, "alerts_on_due_soon"),
            setting(AlertSettings.digest, "alerts_digest"),
            setting(AlertSettings.quiet_start, "alerts_quiet_start"),
            setting(AlertSettings.quiet_end, "alerts_quiet_end"), held]


def nothing_after(facts: RunAlertFacts, result: SyncResult, now: datetime | None = None) -> bool:
    """Whether :func:`after_run` would neither send, hold nor claim anything for this run: it
    succeeded without a ledger event (no event alert), due-soon alerts are off (they come from
    any run), and :func:`send_digest` has nothing to do (quiet hours; before the digest hour;
    no held alert). Held alerts are also sent by each scheduler tick (``send_due_digests``)."""
    if not result.succeeded or result.events or facts.on_due_soon:
        return False
    now = now or utcnow()
    if in_quiet_hours(facts, facts.time_zone, now):
        return True
    if facts.digest:
        return in_zone(now, facts.time_zone).hour < DIGEST_HOUR
    return not facts.held


def _run_alerts(user: User, settings: AlertSettings, run: SyncRun, now: datetime) -> list[Alert]:
    names = {
        cid: name for cid, name in db.session.execute(
            select(Course.canvas_course_id, Course.name).where(Course.user_id == user.id))
    }
    events = db.session.scalars(
        select(GradeEvent)
        .where(GradeEvent.sync_run_id == run.id, GradeEvent.user_id == user.id)
        .order_by(GradeEvent.at, GradeEvent.id)
    )
    alerts = from_events(settings, events, names)
    if settings.on_due_soon and not _first_sync(run):
        assignments = db.session.scalars(
            select(Assignment).join(Course, Assignment.course_id == Course.id)
            .where(Course.user_id == user.id, Assignment.due_at >= now)
        )
        alerts += due_soon(settings, assignments, names, now)
    return alerts


def _first_sync(run: SyncRun) -> bool:
    """No connection of the student had its baseline before this run: like the ledger, the
    baseline tells the student nothing yet (read from the connections' own fields)."""
    earlier = db.session.scalar(
        select(CanvasConnection.id).where(
            CanvasConnection.user_id == run.user_id,
            CanvasConnection.baseline_at.is_not(None),
            or_(CanvasConnection.baseline_run_id.is_(None),
                CanvasConnection.baseline_run_id != run.id),
        ).limit(1)
    )
    return earlier is None


def _reconnect_alerts(settings: AlertSettings, result: SyncResult) -> list[Alert]:
    """One "reconnect" alert when a connection's token was refused (or none is usable), keyed
    by when that connection's token was saved: a retried dead token alerts once."""
    ids = [o.connection_id for o in result.outcomes if o.needs_reconnect]
    if not ids:
        if result.outcomes or result.error_kind is None or not result.error_kind.needs_reconnect:
            return []
        return reconnect(settings, "never")  # no usable connection at all
    stamps = db.session.scalars(
        select(CanvasConnection.token_changed_at).where(CanvasConnection.id.in_(ids))
    ).all()
    newest = max((stamp for stamp in stamps if stamp is not None), default=None)
    return reconnect(settings, f"{newest:%Y%m%dT%H%M%S}" if newest else "never")


def channels(settings: AlertSettings) -> list[str]:
    """Where this student's alerts go now: email when mail is set up, a webhook if given,
    ``push`` to the browsers that subscribed, ``<kind>:<id>`` for each notification channel
    (``ntfy:3``, ``discord:4``, ``telegram:5``, ``matrix:6``)."""
    found = []
    if settings.email and mail.MailSettings.from_config(current_app.config).enabled:
        found.append("email")
    if settings.webhook_url_encrypted is not None:
        found.append("webhook")
    if push.enabled(current_app.config) and push.count(settings.user_id):
        found.append("push")
    found += [f"{row.kind}:{row.id}" for row in notify_channels.of(settings.user_id)]
    return found


def in_quiet_hours(settings: AlertSettings | RunAlertFacts, zone: str | None,
                   now: datetime) -> bool:
    start, end = settings.quiet_start, settings.quiet_end
    if start is None or end is None or start == end:
        return False
    hour = in_zone(now, zone).hour
    return start <= hour < end if start < end else hour >= start or hour < end


def dispatch(user: User, settings: AlertSettings, alerts: Sequence[Alert], now: datetime) -> int:
    """Claim each (alert, channel) once; send the claimed ones now unless they are held."""
    hold = settings.digest or in_quiet_hours(settings, user.time_zone, now)
    status = "held" if hold else "sending"
    claimed: dict[str, list[AlertDelivery]] = {}
    for channel in channels(settings):
        for alert in alerts:
            row = _claim(user.id, alert, channel, status)
            if row is not None:
                claimed.setdefault(channel, []).append(row)
    db.session.commit()
    if not hold:
        for channel, rows in claimed.items():
            _send(user, settings, channel, rows, digest=False)
    return sum(len(rows) for rows in claimed.values())


def _claim(user_id: int, alert: Alert, channel: str, status: str) -> AlertDelivery | None:
    """Insert the delivery row, or None when this alert already went out on this channel."""
    row = AlertDelivery(user_id=user_id, key=alert.key, channel=channel, status=status,
                        text=alert.text[:1000])
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:
        return None
    return row


def send_digest(user_id: int, now: datetime | None = None, *,
                settings: AlertSettings | None = None) -> int:
    """Send the student's held alerts if their time has come; how many were sent.

    Held for quiet hours: as soon as the quiet hours end. Held for the daily digest: once a
    day, from :data:`DIGEST_HOUR` local time on, outside quiet hours.
    """
    user = db.session.get(User, user_id)
    if user is None:
        return 0
    now = now or utcnow()
    settings = settings if settings is not None else settings_for(user_id)
    if in_quiet_hours(settings, user.time_zone, now):
        return 0
    local = in_zone(now, user.time_zone)
    if settings.digest:
        if local.hour < DIGEST_HOUR:
            return 0
        day = Alert(f"digest:{local:%Y-%m-%d}", "digest", "digest")
        if _claim(user_id, day, "digest", "sent") is None:
            db.session.rollback()
            return 0
    held = list(db.session.scalars(
        select(AlertDelivery).where(AlertDelivery.user_id == user_id,
                                    AlertDelivery.status == "held")
        .order_by(AlertDelivery.id).with_for_update(skip_locked=True)
    ))
    for row in held:
        row.status = "sending"
    db.session.commit()
    by_channel: dict[str, list[AlertDelivery]] = {}
    for row in held:
        by_channel.setdefault(row.channel, []).append(row)
    for channel, rows in by_channel.items():
        _send(user, settings, channel, rows, digest=True)
    return len(held)


def send_due_digests(now: datetime | None = None) -> int:
    """On a scheduler tick: send every student's held alerts whose time has come."""
    now = now or utcnow()
    user_ids = db.session.scalars(
        select(AlertDelivery.user_id).where(AlertDelivery.status == "held").distinct()
    ).all()
    return sum(send_digest(user_id, now) for user_id in user_ids)


def _send(
    user: User, settings: AlertSettings, channel: str, rows: list[AlertDelivery], *, digest: bool
) -> None:
    lines = [row.text for row in rows]
    try:
        if channel == "email":
            _email(user, lines, digest=digest)
        elif channel == "webhook" and (url := webhook_url(settings)):
            webhook.post(url, lines, OutboundPolicy.from_config(current_app.config))
        elif channel == "push":
            push.send(user.id, lines, digest=digest)
        elif channel.split(":", 1)[0] in notify_channels.KINDS:
            _notify_channel(user, channel, lines)
        status = "sent"
    except SEND_ERRORS as exc:
        # A webhook, push endpoint or channel address holds a secret and requests puts it in its
        # messages: for those, log only the kind of failure (and the status it answered).
        reason = (
            type(exc).__name__ + _status(exc) if channel != "email"
            else strip_control((str(exc).splitlines() or [type(exc).__name__])[0])[:200]
        )
        logger.warning("alert %s to user %s failed: %s", channel, user.id, reason)
        status = "failed"
    except Exception as exc:  # noqa: BLE001 - never leave the rows "sending" for good
        # Anything else (a message the email package refuses, a bug) fails these alerts, not
        # the run, and not every later alert: the rows are marked failed like a dead server.
        # Its kind only: a traceback could carry the webhook address (a secret).
        logger.warning("alert %s to user %s failed: %s", channel, user.id, type(exc).__name__)
        status = "failed"
    else:
        logger.info("alert %s to user %s sent (%d line(s))", channel, user.id, len(rows))
    metrics.alert_sent(channel.split(":", 1)[0], status == "sent")
    for row in rows:
        row.status = status
        row.sent_at = utcnow() if status == "sent" else None
    db.session.commit()


def _notify_channel(user: User, channel: str, lines: list[str]) -> None:
    kind, _, channel_id = channel.partition(":")
    row = notify_channels.owned(user.id, int(channel_id))
    if row is None or row.kind != kind:  # removed since the alert was claimed
        raise WebhookRefused("the channel was removed")
    notify_channels.send(row, lines, OutboundPolicy.from_config(current_app.config))


def _status(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    return f" (HTTP {response.status_code})" if response is not None else ""


def _email(user: User, lines: list[str], *, digest: bool) -> None:
    config = current_app.config
    settings = mail.MailSettings.from_config(config)
    if not settings.enabled:
        raise smtplib.SMTPException("mail is not configured (MAIL_SERVER, MAIL_DEFAULT_SENDER)")
    if digest:
        subject = f"GradeSync: {len(lines)} update{'s' if len(lines) != 1 else ''} for you"
    elif len(lines) == 1:
        subject = f"GradeSync: {lines[0]}"[:150]
    else:
        subject = f"GradeSync: {len(lines)} new updates"
    link = mail.unsubscribe_url(config.get("PUBLIC_URL") or "http://localhost:5000",
                                config["SECRET_KEY"], user.id, utcnow())
    mail.send(settings, mail.build_message(settings, user.email, subject, lines, link))
