"""Alerts: tell a student what a sync found, by email and webhook, once per event.

``choose`` (pure: which events and assignments a student's settings turn into alerts),
``prefs`` (the settings, the webhook check), ``mail`` (SMTP and the signed unsubscribe link),
``webhook`` (the Discord/Slack JSON POST through :mod:`app.outbound`), ``push`` (Web Push),
``channels`` (a student's ntfy, Discord, Telegram and Matrix channels: ``ntfy``, ``discord``,
``telegram``, ``matrix``, each one request through ``guarded_send``), ``deliver`` (the one
entry point after a run, quiet hours and the daily digest), ``outbox`` (the bounded queue and
threads of their own that the jobs layer hands the alerts to: never sent by a sync worker).
"""

from app.alerts.deliver import (
    RunAlertFacts,
    after_run,
    run_alert_columns,
    send_digest,
    send_due_digests,
)
from app.alerts.mail import read_unsubscribe_token, unsubscribe_token
from app.alerts.outbox import outbox, queue_after_run, queue_due_digests
from app.alerts.prefs import WebhookRefused, check_webhook_url, save_settings, settings_for

__all__ = [
    "RunAlertFacts",
    "WebhookRefused",
    "after_run",
    "check_webhook_url",
    "outbox",
    "queue_after_run",
    "queue_due_digests",
    "read_unsubscribe_token",
    "run_alert_columns",
    "save_settings",
    "send_digest",
    "send_due_digests",
    "settings_for",
    "unsubscribe_token",
]
