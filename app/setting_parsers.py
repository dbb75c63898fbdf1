"""The strict parsers of the settings (:mod:`app.settings`): text in, a value or a one-line
:class:`ConfigError` naming the variable out. Junk is an error, never a silent default."""

from __future__ import annotations

import base64
import math
from collections import Counter
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


class ConfigError(ValueError):
    """A setting is unusable; the message is one line that says what to do."""


# --- Strict parsers: (text, variable name) -> value ------------------------------------------

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
    raise ConfigError(f"{name} must be one of 1/0, true/false, yes/no, on/off; got {value!r}")


def parse_count(text: str, name: str) -> int:
    """A whole number, 0 or more."""
    text = text.strip()
    if not text.isdigit():
        raise ConfigError(f"{name} must be a whole number (0 or more); got {text!r}")
    return int(text)


def parse_positive(text: str, name: str) -> int:
    """A whole number, 1 or more."""
    number = parse_count(text, name)
    if number < 1:
        raise ConfigError(f"{name} must be a whole number of 1 or more; got {text.strip()!r}")
    return number


def parse_kept(text: str, name: str) -> int:
    """A whole number 0 or more, where 0 means the least useful value, 1."""
    return max(1, parse_count(text, name))


def parse_seconds(text: str, name: str) -> float:
    """A number of seconds above 0."""
    try:
        seconds = float(text.strip())
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise ConfigError(f"{name} must be a number of seconds above 0; got {text.strip()!r}")
    return seconds


def parse_text(text: str, _name: str) -> str | None:
    """Free text; empty means unset."""
    return text.strip() or None


def parse_secret(text: str, _name: str) -> str | None:
    """A secret is taken exactly as given (no stripping); empty means unset."""
    return text or None


def parse_hosts(text: str, _name: str) -> list[str]:
    """A comma-separated host list, lower-cased."""
    return [host.strip().lower() for host in text.split(",") if host.strip()]


def parse_url(text: str, _name: str) -> str:
    return text.strip().rstrip("/")


def parse_log_format(text: str, name: str) -> str:
    choice = text.strip().lower() or "text"
    if choice not in ("text", "json"):
        raise ConfigError(f"{name} must be text or json; got {choice!r}")
    return choice


DATABASE_SCHEMES = ("sqlite", "postgresql", "postgres")


def normalize_database_url(url: str, _name: str = "DATABASE_URL") -> str:
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


def parse_secret_key(text: str, name: str) -> str | None:
    if not text:
        return None
    reason = secret_weakness(text)
    if reason:
        raise ConfigError(f"{name} is {reason}: use e.g. python -c 'import secrets; "
                          "print(secrets.token_urlsafe(48))'")
    return text


_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def checked_vapid_key(path: Path | str, text: str) -> str:
    """``text`` if it is a Web Push (VAPID) private key: the base64url of a P-256 scalar.

    ``path`` is the key file it came from, or the setting's name."""
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
            f"{path} is not a VAPID private key (the base64url of 32 bytes): generate "
            "one with vapid --gen, or leave it unset to have one made in instance/"
        )
    return key


def parse_vapid_key(text: str, name: str) -> str | None:
    return checked_vapid_key(name, text) if text.strip() else None


def parse_vapid_subject(text: str, name: str) -> str | None:
    subject = text.strip() or None
    if subject and not subject.startswith(("mailto:", "https://")):
        raise ConfigError(f"{name} must be a mailto: or https:// address; got {subject!r}")
    return subject
