"""Configuration read from the environment.

Every setting has a safe default so the demo runs with no set-up: SQLite under ``instance/``
and a secret key generated there on first run (0600). Booleans are parsed strictly.
"""

from __future__ import annotations

import os
import secrets
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


def normalize_database_url(url: str) -> str:
    """Map the plain ``postgres://`` / ``postgresql://`` forms to the psycopg 3 driver we ship."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def load_or_create_secret_key(instance_dir: Path = INSTANCE_DIR) -> str:
    """Return ``instance/secret_key``, creating it with 0600 permissions on first run."""
    path = instance_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # O_EXCL: two processes starting at once must not overwrite each other's key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


class Config:
    """Settings read from the environment when the app is created."""

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
        self.SECRET_KEY = env.get("SECRET_KEY") or load_or_create_secret_key()
        self.TOKEN_ENCRYPTION_KEY = env.get("TOKEN_ENCRYPTION_KEY") or None
        self.SQLALCHEMY_DATABASE_URI = normalize_database_url(
            env.get("DATABASE_URL") or f"sqlite:///{INSTANCE_DIR / 'gradesync.sqlite3'}"
        )
        self.CANVAS_ALLOW_PRIVATE_HOSTS = parse_bool(
            env.get("CANVAS_ALLOW_PRIVATE_HOSTS"), "CANVAS_ALLOW_PRIVATE_HOSTS"
        )
        allowed = env.get("CANVAS_ALLOWED_HOSTS", "")
        self.CANVAS_ALLOWED_HOSTS = [h.strip().lower() for h in allowed.split(",") if h.strip()]
        self.CELERY_BROKER_URL = env.get("CELERY_BROKER_URL") or None
        self.CELERY_RESULT_BACKEND = env.get("CELERY_RESULT_BACKEND") or self.CELERY_BROKER_URL
        self.SYNC_WORKERS = int(env.get("SYNC_WORKERS", "4"))
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
        self.DEMO_MODE = False

    def as_dict(self) -> dict[str, object]:
        return {k: v for k, v in vars(self).items() if k.isupper()}
