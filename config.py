"""The settings, for scripts and tests outside the package: a re-export of :mod:`app.settings`.

Every setting is declared once, in ``app/settings.py`` (``SETTINGS``). :class:`Config` reads
them from an environment, as ``create_app`` does. Nothing here writes a file; the demo's
generated key lives in ``demo.py`` (``load_or_create_secret_key``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from app.settings import (
    BASE_DIR,
    DATABASE_SCHEMES,
    INSTANCE_DIR,
    MIN_SECRET_BITS,
    MIN_SECRET_LENGTH,
    SECRET_SETTINGS,
    SETTINGS,
    ConfigError,
    Setting,
    env_secret,
    load,
    normalize_database_url,
    parse_bool,
    secret_weakness,
    secrets_from,
    value,
)

__all__ = [
    "BASE_DIR", "DATABASE_SCHEMES", "INSTANCE_DIR", "MIN_SECRET_BITS", "MIN_SECRET_LENGTH",
    "SECRET_SETTINGS", "SETTINGS", "Config", "ConfigError", "Setting", "env_secret", "load",
    "normalize_database_url", "parse_bool", "secret_weakness", "secrets_from", "value",
]


class Config:
    """The Flask config read from ``environ`` (``os.environ`` by default), as attributes."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._values = load(os.environ if environ is None else environ)
        for key, setting in self._values.items():
            setattr(self, key, setting)

    def as_dict(self) -> dict[str, Any]:
        return dict(self._values)
