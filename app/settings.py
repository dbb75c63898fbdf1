"""Every setting GradeSync reads, declared once: its variable, default, parser and meaning.

:data:`SETTINGS` is the one list. :func:`load` turns an environment (plus a test's or the
demo's overrides) into the Flask config; each value goes through a strict parser, and bad
input is a :class:`ConfigError` whose one-line message names the variable to fix. The README's
settings table is checked against this list by ``tests/ops/test_config_declared.py``.

**Adding a setting** (e.g. a VAPID key for Web Push): append one :class:`Setting` to
:data:`SETTINGS` with its default and a parser from :mod:`app.setting_parsers` (or a new one
there: strict, one-line :class:`ConfigError` naming the variable), ``secret=True`` if it may
come from ``NAME_FILE`` (keys, passwords); add its row to the README's settings table (Default
cell starting with :attr:`Setting.shown_default`); read it in code as
``current_app.config["NAME"]``, never with ``os.environ`` nor a ``config.get(NAME, fallback)``
of its own. ``tests/ops/test_config_declared.py`` fails until all three agree. Process settings
that gunicorn or the CLI read before any app exists (``scope="process"``) are read with
:func:`value`.

No file is written here: ``SECRET_KEY`` must be given (the demo and the tests give their own);
the only files read are the ``NAME_FILE`` secrets an operator points at.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from app.setting_parsers import (
    BASE_DIR,
    DATABASE_SCHEMES,
    MIN_SECRET_BITS,
    MIN_SECRET_LENGTH,
    ConfigError,
    normalize_database_url,
    parse_bool,
    parse_count,
    parse_hosts,
    parse_kept,
    parse_log_format,
    parse_positive,
    parse_seconds,
    parse_secret,
    parse_secret_key,
    parse_text,
    parse_url,
    parse_vapid_key,
    parse_vapid_subject,
    secret_weakness,
)

__all__ = [  # the parsers' names too: scripts and tests take them from here
    "BASE_DIR", "BY_NAME", "DATABASE_SCHEMES", "FIXED", "INSTANCE_DIR", "MIN_SECRET_BITS",
    "MIN_SECRET_LENGTH", "SECRET_SETTINGS", "SETTINGS", "ConfigError", "Setting", "default",
    "env_secret", "load", "normalize_database_url", "parse_bool", "secret_weakness",
    "secrets_from", "value",
]

# GRADESYNC_INSTANCE_DIR (declared below) is read once, at import: every path under it follows.
DEFAULT_INSTANCE_DIR = BASE_DIR / "instance"
INSTANCE_DIR = Path(os.environ.get("GRADESYNC_INSTANCE_DIR") or DEFAULT_INSTANCE_DIR)


# --- The declarations -------------------------------------------------------------------------

Scope = Literal["app", "process"]


@dataclass(frozen=True)
class Setting:
    """One environment variable: where it lands in the Flask config and how it is read.

    ``default`` is the value when the variable is unset or empty; ``shown`` is how the README
    shows it when that differs from ``repr``-like text. ``scope="process"`` settings are read
    by gunicorn, the CLI or a library before (or outside) any app, with :func:`value`.
    """

    name: str
    default: Any
    parse: Callable[[str, str], Any]
    help: str
    key: str = ""  # the Flask config key, when not the variable's own name
    secret: bool = False  # may be given as NAME_FILE instead
    scope: Scope = "app"
    shown: str | None = None

    @property
    def config_key(self) -> str:
        return self.key or self.name

    @property
    def shown_default(self) -> str:
        if self.shown is not None:
            return self.shown
        if self.default is None or self.default == []:
            return "unset"
        if isinstance(self.default, bool):
            return "on" if self.default else "off"
        if isinstance(self.default, float) and self.default.is_integer():
            return str(int(self.default))
        return str(self.default)


S = Setting
SETTINGS: tuple[Setting, ...] = (
    # Keys and storage.
    S("SECRET_KEY", None, parse_secret_key, "Signs sessions; required outside the demo and the "
      "tests.", secret=True, shown="required"),
    S("TOKEN_ENCRYPTION_KEY", None, parse_secret, "Key that encrypts Canvas tokens at rest.",
      secret=True, shown="derived from SECRET_KEY"),
    S("DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'gradesync.sqlite3'}", normalize_database_url,
      "The database.", key="SQLALCHEMY_DATABASE_URI", secret=True,
      shown="sqlite:///instance/gradesync.sqlite3"),
    S("GRADESYNC_INSTANCE_DIR", str(DEFAULT_INSTANCE_DIR), parse_text,
      "Where the demo's files and the default SQLite database live.", scope="process",
      shown="instance/"),
    # Canvas.
    S("CANVAS_ALLOW_PRIVATE_HOSTS", False, parse_bool,
      "Allow Canvas addresses on private or loopback networks."),
    S("CANVAS_ALLOWED_HOSTS", [], parse_hosts, "Comma-separated Canvas hosts allowed."),
    S("CANVAS_DEADLINE_S", 90.0, parse_seconds,
      "Seconds one Canvas request of a sync may take in all."),
    S("CONNECTION_CHECKS_PER_PROCESS", 3, parse_positive,
      "Connection checks (Settings, connect) running at once per process."),
    # Syncs and their workers.
    S("CELERY_BROKER_URL", None, parse_secret, "Redis URL: syncs run on Celery workers.",
      secret=True, shown="unset (syncs run in the web process)"),
    S("CELERY_RESULT_BACKEND", None, parse_secret, "Celery's result backend.", secret=True,
      shown="CELERY_BROKER_URL"),
    S("CELERY_QUEUE", "gradesync", parse_text, "The Celery queue's name."),
    S("CELERY_VISIBILITY_TIMEOUT_S", 3600, parse_count,
      "Seconds before a dead worker's unacknowledged sync goes to another worker."),
    S("SYNC_WORKERS", 4, parse_positive, "Sync threads in the web process (no broker)."),
    S("SYNC_WORKERS_PER_HOST", 0, parse_count,
      "Of those, at most this many on one Canvas host (0: no cap of its own)."),
    S("SYNC_SOFT_LIMIT_S", 900.0, parse_seconds, "Seconds a Celery sync task may run."),
    S("SYNC_STALE_AFTER_S", 900.0, parse_seconds,
      "Seconds of silence after which a running sync is taken for dead."),
    S("SYNC_INTERRUPT_ON_WORKER_START", True, parse_bool,
      "A starting Celery worker marks runs left by a dead worker as interrupted."),
    S("SCHEDULER_ENABLED", True, parse_bool, "The in-process scheduler of automatic syncs."),
    S("SCHEDULER_TICK_S", 30.0, parse_seconds, "Seconds between scheduler ticks."),
    S("SCHEDULED_RUNS_KEPT", 168, parse_kept,
      "Each student's newest scheduled runs kept in the history."),
    # The progress page's polls of status.json.
    S("SYNC_POLL_SECONDS", 1.0, parse_seconds,
      "Seconds between the progress page's polls of a run."),
    S("SYNC_POLL_FAST_SECONDS", 0.2, parse_seconds,
      "Seconds between polls in the page's first 5 s and once the last course is written."),
    # Alert email.
    S("MAIL_SERVER", None, parse_text, "SMTP server for alert email (off when unset)."),
    S("MAIL_PORT", 25, parse_count, "SMTP port."),
    S("MAIL_USE_TLS", False, parse_bool, "STARTTLS to the SMTP server."),
    S("MAIL_USERNAME", None, parse_text, "SMTP user."),
    S("MAIL_PASSWORD", None, parse_secret, "SMTP password.", secret=True),
    S("MAIL_DEFAULT_SENDER", None, parse_text, "The From address of alert email."),
    S("ALERT_WORKERS", 2, parse_positive, "Threads sending alert email."),
    S("ALERT_QUEUE_MAX", 200, parse_positive, "Alert emails waiting to be sent, at most."),
    # Web Push (app/alerts/push.py).
    S("WEB_PUSH_ENABLED", True, parse_bool, "Web Push alerts to the students' browsers."),
    S("VAPID_PRIVATE_KEY", None, parse_vapid_key, "The server's Web Push key.", secret=True,
      shown="generated into instance/vapid_private_key"),
    S("VAPID_SUBJECT", None, parse_vapid_subject, "The contact push services see.",
      shown="mailto: + MAIL_DEFAULT_SENDER, else PUBLIC_URL"),
    # Notification channels (app/alerts/telegram.py).
    S("TELEGRAM_API_URL", "https://api.telegram.org", parse_url,
      "The Telegram Bot API that Telegram channels post to (tests: a loopback server)."),
    S("PUBLIC_URL", "http://localhost:5000", parse_url,
      "Where students reach this site (links in alert email)."),
    # The web.
    S("SESSION_COOKIE_SECURE", False, parse_bool, "Send the session cookie over HTTPS only."),
    S("TRUSTED_PROXIES", 0, parse_count, "Reverse proxies in front (X-Forwarded-For hops)."),
    S("REGISTRATIONS_PER_HOUR", 5, parse_count, "New accounts per address per hour."),
    S("API_RATE_LIMIT", 120, parse_positive,
      "Requests per minute one API token may make (/api/v1/)."),
    S("GRADESYNC_BIND", "0.0.0.0:8000", parse_text, "gunicorn's listening address.",
      scope="process"),
    S("WEB_CONCURRENCY", 2, parse_positive, "gunicorn worker processes.", scope="process"),
    S("GUNICORN_THREADS", 8, parse_positive, "Threads per gunicorn worker.", scope="process"),
    # Operating it.
    S("LOG_FORMAT", "text", parse_log_format, "text or json (one object per line)."),
    S("GRADESYNC_LOG_LEVEL", None, parse_text, "The flask CLI's log level.", scope="process",
      shown="ERROR (INFO with --verbose)"),
    S("METRICS_ENABLED", False, parse_bool, "Prometheus metrics."),
    S("METRICS_PORT", 0, parse_count, "Serve metrics on a port of their own (0: no)."),
    S("METRICS_ADDR", "0.0.0.0", parse_text, "The address of METRICS_PORT.",  # noqa: S104
      scope="process"),
    S("METRICS_TOKEN", None, parse_secret, "Bearer token for /metrics on the web port.",
      secret=True),
    S("PROMETHEUS_MULTIPROC_DIR", None, parse_text,
      "prometheus-client's multiprocess directory.", scope="process",
      shown="instance/prometheus under gunicorn"),
    S("GRADE_EVENTS_KEPT_DAYS", 0, parse_count, "Days of grade changes kept (0: forever)."),
    S("RUN_HISTORY_KEPT_DAYS", 0, parse_count, "Days of sync history kept (0: forever)."),
    S("GRADESYNC_CANVAS_CLIENT_SECRET", None, parse_secret,
      "The client secret for flask canvas oauth-client add.", secret=True, scope="process"),
)
del S

BY_NAME = {setting.name: setting for setting in SETTINGS}

# Each of these may instead be given as NAME_FILE: the path of a file holding the value (a
# Docker or Kubernetes secret). Both at once is an error at start-up.
SECRET_SETTINGS = tuple(setting.name for setting in SETTINGS if setting.secret)

# Fixed Flask settings: not read from the environment, the same for every deployment.
FIXED: dict[str, Any] = {
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    # Request bodies: 2 MiB in all (the what-if JSON endpoint is the largest user)...
    "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,
    # ...but a form post may be at most 64 KiB, checked by the app itself (app/pages/common.py,
    # before any view or the CSRF check reads the form). The longest fields here (a token, a
    # URL, a password, an email) stay well under 8 KiB even percent-encoded.
    "MAX_FORM_BODY_SIZE": 64 * 1024,
    # And the form parser's own per-field cap, set explicitly rather than left to
    # Flask/Werkzeug defaults, which have changed between releases.
    "MAX_FORM_MEMORY_SIZE": 64 * 1024,
    "REMEMBER_COOKIE_DURATION": timedelta(days=30),
    # run.py --demo sets it (and DEMO_CANVAS_URL, DEMO_CANVAS_TOKEN, DEMO_SIMULATE_WEEK).
    "DEMO_MODE": False,
    # The read-only API's rate-limit window (app/pages/api): API_RATE_LIMIT requests in it.
    "API_RATE_WINDOW_S": 60,
}


# --- Reading ----------------------------------------------------------------------------------

def env_secret(env: Mapping[str, str], name: str) -> str | None:
    """The value of secret ``name``: from ``name`` itself or read from the file ``name_FILE``.

    The file's content is used as it is, but for one trailing newline (``echo`` adds one).
    """
    value = env.get(name) or None
    path = (env.get(f"{name}_FILE") or "").strip()
    if not path:
        return value
    if value is not None:
        raise ConfigError(f"both {name} and {name}_FILE are set: keep one of them")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{name}_FILE: cannot read {path} ({exc.strerror or type(exc).__name__})"
            if isinstance(exc, OSError) else f"{name}_FILE: {path} is not UTF-8 text"
        ) from None
    if text.endswith("\n"):
        text = text[:-1]
        if text.endswith("\r"):
            text = text[:-1]
    if not text:
        raise ConfigError(f"{name}_FILE: {path} is empty")
    return text


def secrets_from(env: Mapping[str, str]) -> dict[str, str | None]:
    """Every secret setting read (from NAME or NAME_FILE); a conflict or unreadable file is a
    :class:`ConfigError`, so a process refuses to start rather than run half-configured."""
    return {name: env_secret(env, name) for name in SECRET_SETTINGS}


def default(name: str) -> Any:
    """The declared default of setting ``name`` (for a module's own documented constant)."""
    return copy.copy(BY_NAME[name].default)


def value(name: str, env: Mapping[str, str] | None = None) -> Any:
    """One declared setting, parsed from ``env`` (``os.environ`` by default)."""
    setting = BY_NAME[name]
    source = os.environ if env is None else env
    text = env_secret(source, name) if setting.secret else source.get(name)
    if text is None or (not text.strip() and not setting.secret):
        return copy.copy(setting.default)  # a fresh list per app
    parsed = setting.parse(text, name)
    return copy.copy(setting.default) if parsed is None else parsed


MISSING_KEY_MESSAGE = ("SECRET_KEY is not set: set SECRET_KEY (or SECRET_KEY_FILE, a file holding "
                       "it), the same on every web and worker process; make one with python -c "
                       "'import secrets; print(secrets.token_urlsafe(48))'")


def load(env: Mapping[str, str] | None = None,
         overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The Flask config: every app setting from ``env``, then ``overrides`` on top.

    ``overrides`` (a test's config, the demo's) are taken as given; a setting they give is not
    read from ``env`` at all. Without ``SECRET_KEY`` from either, this is a :class:`ConfigError`.
    """
    source = os.environ if env is None else env
    secrets_from(source)  # NAME and NAME_FILE together stops any start, whatever reads NAME
    given = dict(overrides or {})
    config: dict[str, Any] = dict(FIXED)
    for setting in SETTINGS:
        if setting.scope == "app" and setting.config_key not in given:
            config[setting.config_key] = value(setting.name, source)
    if "CELERY_RESULT_BACKEND" not in given and not config["CELERY_RESULT_BACKEND"]:
        config["CELERY_RESULT_BACKEND"] = value("CELERY_BROKER_URL", source)
    if config.get("METRICS_ENABLED") and not (config.get("METRICS_PORT")
                                              or config.get("METRICS_TOKEN")):
        raise ConfigError("METRICS_ENABLED needs METRICS_TOKEN (to serve /metrics behind it) "
                          "or METRICS_PORT (to serve metrics on a port of their own)")
    config.update(given)
    if not config.get("SECRET_KEY"):
        raise ConfigError(MISSING_KEY_MESSAGE)
    return config
