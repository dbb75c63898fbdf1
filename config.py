"""Configuration read from the environment.

Every setting has a safe default so the demo runs with no set-up: SQLite under ``instance/``
and a secret key generated there on first run (0600). Booleans are parsed strictly.
"""

from __future__ import annotations

import base64
import math
import os
import secrets
import tempfile
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("GRADESYNC_INSTANCE_DIR", BASE_DIR / "instance"))

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def parse_bool(value: str | bool | None, name: str = "setting") -> bool:
    """Parse a boolean setting strictly: junk is an error, not silently false."""
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{name} must be one of 1/0, true/false, yes/no, on/off; got {value!r}")


DATABASE_SCHEMES = ("sqlite", "postgresql", "postgres")


def normalize_database_url(url: str) -> str:
    """Map the plain ``postgres://`` / ``postgresql://`` forms to the psycopg 3 driver we ship.

    A relative SQLite path (``sqlite:///instance/demo.sqlite3``, the README's form) is taken
    from the repository root, so the CLI and ``run.py`` open the same file. Any other scheme
    is a :class:`ConfigError` naming the forms that work.
    """
    url = url.strip()
    scheme = url.split(":", 1)[0].split("+", 1)[0].lower() if "://" in url else ""
    if scheme not in DATABASE_SCHEMES:
        raise ConfigError(
            f"DATABASE_URL {url.split('://', 1)[0] + '://…' if '://' in url else repr(url)} is "
            "not a database address: use sqlite:///instance/gradesync.sqlite3 or "
            "postgresql://USER@HOST/DATABASE"
        )
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        path = url[len("sqlite:///") :]
        if path and not path.startswith(":memory:") and not path.startswith("file:"):
            url = f"sqlite:///{BASE_DIR / path}"
    return url


MIN_SECRET_LENGTH = 16
MIN_SECRET_BITS = 36
GENERATED_SECRET_BYTES = 48


class ConfigError(ValueError):
    """A setting is unusable; the message is one line that says what to do."""


def secret_weakness(secret: str) -> str | None:
    """Why ``secret`` is too weak to sign sessions or derive keys from, or None if it is fine.

    Besides length: enough different characters, no character making up most of it
    ("xxxxxxxxxxxxxxxxabcdef"), at least :data:`MIN_SECRET_BITS` of character variety (the
    count-weighted Shannon entropy of its characters), and not one short piece repeated
    ("abcdefabcdefabcdef"). A generated key or a passphrase of words passes easily.
    """
    size = len(secret)
    if size < MIN_SECRET_LENGTH:
        return f"shorter than {MIN_SECRET_LENGTH} characters"
    counts = Counter(secret)
    if len(counts) < 6:  # "0000...", "abababab...": long but guessable
        return "made of too few different characters"
    bits = -sum(n * math.log2(n / size) for n in counts.values())
    if max(counts.values()) * 10 > size * 4 or bits < MIN_SECRET_BITS:
        return "too repetitive (mostly one character, or too little variety)"
    if (secret + secret).find(secret, 1) < size:
        return "one short piece repeated"
    return None


def _checked_file_key(path: Path, text: str) -> str:
    key = text.strip()
    reason = secret_weakness(key)
    if reason:
        raise ConfigError(
            f"{path} holds an unusable secret key ({reason}): delete the file to have a new "
            "one generated, or set SECRET_KEY"
        )
    return key


def load_or_create_secret_key(instance_dir: Path = INSTANCE_DIR) -> str:
    """Return ``instance/secret_key``, creating it with 0600 permissions on first run.

    Processes that start together must all end up with the same complete key, so the key is
    written to a private temporary file first and then published with ``os.link``, which
    fails if the name exists: exactly one process wins, and nobody can read the name before
    the key is in it (no empty or half-written key is ever visible).
    """
    path = instance_dir / "secret_key"
    try:
        return _checked_file_key(path, path.read_text())
    except FileNotFoundError:
        pass
    instance_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(GENERATED_SECRET_BYTES)
    fd, temp = tempfile.mkstemp(prefix=".secret_key.", dir=instance_dir)  # mode 0600
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(key)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(temp, path)
        except FileExistsError:
            return _checked_file_key(path, path.read_text())  # another process won
    finally:
        os.unlink(temp)
    return key


VAPID_KEY_FILE = "vapid_private_key"


def _checked_vapid_key(path: Path | str, text: str) -> str:
    """``text`` if it is a Web Push (VAPID) private key: the base64url of a P-256 scalar."""
    key = text.strip()
    try:
        raw = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
    except ValueError:
        raw = b""
    if len(raw) != 32 or not 0 < int.from_bytes(raw, "big") < _P256_ORDER:
        raise ConfigError(
            f"{path} is not a VAPID private key (the base64url of 32 bytes): delete the file to "
            "have a new one generated, or set VAPID_PRIVATE_KEY"
            if isinstance(path, Path) else
            "VAPID_PRIVATE_KEY is not a VAPID private key (the base64url of 32 bytes): generate "
            "one with vapid --gen, or leave it unset to have one made in instance/"
        )
    return key


_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def load_or_create_vapid_key(instance_dir: Path = INSTANCE_DIR) -> str:
    """Return ``instance/vapid_private_key``, creating it (0600) on first run.

    Kept like the secret key: generated once, published atomically with ``os.link`` so
    processes that start together agree on one key. Every browser's push subscription is
    tied to the matching public key, so a new key means every student subscribes again.
    """
    path = instance_dir / VAPID_KEY_FILE
    try:
        return _checked_vapid_key(path, path.read_text())
    except FileNotFoundError:
        pass
    from cryptography.hazmat.primitives.asymmetric import ec

    instance_dir.mkdir(parents=True, exist_ok=True)
    scalar = ec.generate_private_key(ec.SECP256R1()).private_numbers().private_value
    key = base64.urlsafe_b64encode(scalar.to_bytes(32, "big")).decode().rstrip("=")
    fd, temp = tempfile.mkstemp(prefix=".vapid_key.", dir=instance_dir)  # mode 0600
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(key)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(temp, path)
        except FileExistsError:
            return _checked_vapid_key(path, path.read_text())  # another process won
    finally:
        os.unlink(temp)
    return key


# Each of these may instead be given as NAME_FILE: the path of a file holding the value (a
# Docker or Kubernetes secret). Both at once is an error at start-up.
SECRET_SETTINGS = (
    "SECRET_KEY",
    "TOKEN_ENCRYPTION_KEY",
    "DATABASE_URL",
    "MAIL_PASSWORD",
    "CELERY_BROKER_URL",
    "CELERY_RESULT_BACKEND",
    "GRADESYNC_CANVAS_CLIENT_SECRET",
    "METRICS_TOKEN",
    "VAPID_PRIVATE_KEY",
)


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


def _secret_key(env: Mapping[str, str]) -> str:
    given = env_secret(env, "SECRET_KEY")
    if not given:
        return load_or_create_secret_key()
    reason = secret_weakness(given)
    if reason:
        raise ConfigError(f"SECRET_KEY is {reason}: use e.g. python -c 'import secrets; "
                          "print(secrets.token_urlsafe(48))'")
    return given


def _non_negative_int(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit():
        raise ConfigError(f"{name} must be a whole number (0 or more); got {text!r}")
    return int(text)


class Config:
    """Settings read from the environment when the app is created."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        secret = secrets_from(env)
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
        self.SECRET_KEY = _secret_key(env)
        self.TOKEN_ENCRYPTION_KEY = secret["TOKEN_ENCRYPTION_KEY"]
        self.SQLALCHEMY_DATABASE_URI = normalize_database_url(
            secret["DATABASE_URL"] or f"sqlite:///{INSTANCE_DIR / 'gradesync.sqlite3'}"
        )
        self.CANVAS_ALLOW_PRIVATE_HOSTS = parse_bool(
            env.get("CANVAS_ALLOW_PRIVATE_HOSTS"), "CANVAS_ALLOW_PRIVATE_HOSTS"
        )
        allowed = env.get("CANVAS_ALLOWED_HOSTS", "")
        self.CANVAS_ALLOWED_HOSTS = [h.strip().lower() for h in allowed.split(",") if h.strip()]
        self.CELERY_BROKER_URL = secret["CELERY_BROKER_URL"]
        self.CELERY_RESULT_BACKEND = secret["CELERY_RESULT_BACKEND"] or self.CELERY_BROKER_URL
        # How long Redis waits before handing a dead worker's unacknowledged sync to another.
        self.CELERY_VISIBILITY_TIMEOUT_S = _non_negative_int(env, "CELERY_VISIBILITY_TIMEOUT_S",
                                                             3600)
        self.SYNC_WORKERS = int(env.get("SYNC_WORKERS", "4"))
        # Seconds one Canvas request of a sync may take in all, body included.
        self.CANVAS_DEADLINE_S = float(env.get("CANVAS_DEADLINE_S", "90"))
        # Automatic syncs: the in-process scheduler (no broker) and its tick; with a broker,
        # Celery beat ticks instead (README, "Automatic syncs").
        self.SCHEDULER_ENABLED = parse_bool(
            env.get("SCHEDULER_ENABLED", "1"), "SCHEDULER_ENABLED"
        )
        self.SCHEDULER_TICK_S = float(env.get("SCHEDULER_TICK_S", "30"))
        # Each student's newest scheduled runs kept in the sync history (older ones pruned).
        self.SCHEDULED_RUNS_KEPT = max(1, _non_negative_int(env, "SCHEDULED_RUNS_KEPT", 168))
        # Alert email (app/alerts): off until MAIL_SERVER and MAIL_DEFAULT_SENDER are set.
        self.MAIL_SERVER = env.get("MAIL_SERVER") or None
        self.MAIL_PORT = _non_negative_int(env, "MAIL_PORT", 25)
        self.MAIL_USE_TLS = parse_bool(env.get("MAIL_USE_TLS"), "MAIL_USE_TLS")
        self.MAIL_USERNAME = env.get("MAIL_USERNAME") or None
        self.MAIL_PASSWORD = secret["MAIL_PASSWORD"]
        self.MAIL_DEFAULT_SENDER = env.get("MAIL_DEFAULT_SENDER") or None
        # Where students reach this site: the base of the links in alert emails.
        self.PUBLIC_URL = (env.get("PUBLIC_URL") or "http://localhost:5000").rstrip("/")
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.REMEMBER_COOKIE_HTTPONLY = True
        self.REMEMBER_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = parse_bool(
            env.get("SESSION_COOKIE_SECURE"), "SESSION_COOKIE_SECURE"
        )
        # Request bodies: 2 MiB in all (the what-if JSON endpoint is the largest user)...
        self.MAX_CONTENT_LENGTH = 2 * 1024 * 1024
        # ...but a form post (urlencoded or multipart) may be at most 64 KiB, checked by the app
        # itself (app/web.py, before any view or the CSRF check reads the form). No form here
        # comes near it: the longest fields are a 512-character token, a 255-character URL, a
        # 256-character password and a 254-character email, even percent-encoded well under 8 KiB.
        self.MAX_FORM_BODY_SIZE = 64 * 1024
        # And the form parser's own per-field cap, set explicitly rather than left to
        # Flask/Werkzeug defaults, which have changed between releases.
        self.MAX_FORM_MEMORY_SIZE = 64 * 1024
        # Behind N reverse proxies, trust the last N X-Forwarded-For/-Proto hops (werkzeug's
        # ProxyFix): the login limits then see the real client address. 0: ignore the headers.
        self.TRUSTED_PROXIES = _non_negative_int(env, "TRUSTED_PROXIES", 0)
        self.REGISTRATIONS_PER_HOUR = _non_negative_int(env, "REGISTRATIONS_PER_HOUR", 5)
        self.DEMO_MODE = False
        # Operating it (README, "Operating GradeSync"): logs, metrics, retention.
        self.LOG_FORMAT = (env.get("LOG_FORMAT") or "text").strip().lower()
        if self.LOG_FORMAT not in ("text", "json"):
            raise ConfigError(f"LOG_FORMAT must be text or json; got {self.LOG_FORMAT!r}")
        self.METRICS_ENABLED = parse_bool(env.get("METRICS_ENABLED"), "METRICS_ENABLED")
        self.METRICS_PORT = _non_negative_int(env, "METRICS_PORT", 0)
        self.METRICS_TOKEN = secret["METRICS_TOKEN"]
        if self.METRICS_ENABLED and not (self.METRICS_PORT or self.METRICS_TOKEN):
            raise ConfigError("METRICS_ENABLED needs METRICS_TOKEN (to serve /metrics behind it) "
                              "or METRICS_PORT (to serve metrics on a port of their own)")
        # Days of grade changes (the ledger) and of sync history kept; 0 keeps them forever.
        self.GRADE_EVENTS_KEPT_DAYS = _non_negative_int(env, "GRADE_EVENTS_KEPT_DAYS", 0)
        self.RUN_HISTORY_KEPT_DAYS = _non_negative_int(env, "RUN_HISTORY_KEPT_DAYS", 0)
        # Web Push (README, "Phone app and push"): on by default. The VAPID private key is
        # VAPID_PRIVATE_KEY (or _FILE), else instance/vapid_private_key, made on first use
        # (app.alerts.push.vapid_key); VAPID_SUBJECT is the contact push services see.
        self.WEB_PUSH_ENABLED = parse_bool(env.get("WEB_PUSH_ENABLED", "1"), "WEB_PUSH_ENABLED")
        self.VAPID_PRIVATE_KEY = (
            _checked_vapid_key("VAPID_PRIVATE_KEY", secret["VAPID_PRIVATE_KEY"])
            if secret["VAPID_PRIVATE_KEY"] else None
        )
        self.VAPID_SUBJECT = (env.get("VAPID_SUBJECT") or "").strip() or None
        if self.VAPID_SUBJECT and not self.VAPID_SUBJECT.startswith(("mailto:", "https://")):
            raise ConfigError("VAPID_SUBJECT must be a mailto: or https:// address; got "
                              f"{self.VAPID_SUBJECT!r}")

    def as_dict(self) -> dict[str, object]:
        return {k: v for k, v in vars(self).items() if k.isupper()}
