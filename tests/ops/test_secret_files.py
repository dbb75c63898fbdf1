"""Secrets from files (issue 23): every secret setting may be given as ``NAME_FILE`` (a Docker or
Kubernetes secret); both ``NAME`` and ``NAME_FILE`` is an error at start-up."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from config import SECRET_SETTINGS, ConfigError, env_secret
from config import Config as _Config

ROOT = Path(__file__).resolve().parents[2]
STRONG = "file-secret-Value-0123456789-abcdef"

# Where each secret ends up in the app's configuration.
CONFIG_KEY = {
    "SECRET_KEY": "SECRET_KEY",
    "TOKEN_ENCRYPTION_KEY": "TOKEN_ENCRYPTION_KEY",
    "MAIL_PASSWORD": "MAIL_PASSWORD",
    "CELERY_BROKER_URL": "CELERY_BROKER_URL",
    "CELERY_RESULT_BACKEND": "CELERY_RESULT_BACKEND",
    "METRICS_TOKEN": "METRICS_TOKEN",
}


def Config(env: dict[str, str]) -> _Config:  # noqa: N802 - stands in for the class
    """The settings read from ``env``, with a SECRET_KEY unless ``env`` gives one (it is
    required outside the demo)."""
    if "SECRET_KEY" in env or "SECRET_KEY_FILE" in env:
        return _Config(env)
    return _Config({"SECRET_KEY": "the-tests-own-secret-key-0123456789", **env})


def secret_file(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name.lower()
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("name", sorted(CONFIG_KEY))
def test_each_secret_is_read_from_its_file(tmp_path: Path, name: str) -> None:
    config = Config({f"{name}_FILE": secret_file(tmp_path, name, STRONG + "\n")})
    assert getattr(config, CONFIG_KEY[name]) == STRONG  # the trailing newline is not part of it


def test_database_url_from_a_file(tmp_path: Path) -> None:
    path = secret_file(tmp_path, "db", "postgresql://app:pw-from-file@db.example/gradesync\n")
    config = Config({"DATABASE_URL_FILE": path})
    assert config.SQLALCHEMY_DATABASE_URI == (
        "postgresql+psycopg://app:pw-from-file@db.example/gradesync")


def test_the_oauth_client_secret_from_a_file(tmp_path: Path) -> None:
    path = secret_file(tmp_path, "client", "client-secret-from-file\n")
    assert env_secret({"GRADESYNC_CANVAS_CLIENT_SECRET_FILE": path},
                      "GRADESYNC_CANVAS_CLIENT_SECRET") == "client-secret-from-file"


def test_every_secret_setting_is_covered() -> None:
    # VAPID_PRIVATE_KEY must be a real key, not STRONG: tests/alerts/test_push.py reads its file.
    assert set(SECRET_SETTINGS) == set(CONFIG_KEY) | {"DATABASE_URL",
                                                       "GRADESYNC_CANVAS_CLIENT_SECRET",
                                                       "VAPID_PRIVATE_KEY"}


@pytest.mark.parametrize("name", SECRET_SETTINGS)
def test_both_name_and_file_is_an_error(tmp_path: Path, name: str) -> None:
    env = {name: STRONG, f"{name}_FILE": secret_file(tmp_path, name, STRONG)}
    with pytest.raises(ConfigError, match=f"both {name} and {name}_FILE are set"):
        Config(env)


def test_a_missing_or_empty_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="MAIL_PASSWORD_FILE: cannot read .*nope"):
        Config({"MAIL_PASSWORD_FILE": str(tmp_path / "nope")})
    with pytest.raises(ConfigError, match="MAIL_PASSWORD_FILE: .* is empty"):
        Config({"MAIL_PASSWORD_FILE": secret_file(tmp_path, "empty", "\n")})


def test_a_weak_key_from_a_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY is shorter"):
        Config({"SECRET_KEY_FILE": secret_file(tmp_path, "short", "short\n")})


def test_start_up_refuses_both(tmp_path: Path, database_url: Any) -> None:
    """The real start-up (``flask --app app ...``) stops with the one-line reason."""
    env = {k: v for k, v in os.environ.items() if k not in SECRET_SETTINGS
           and not k.endswith("_FILE")}
    env.update({"SECRET_KEY": STRONG,
                "SECRET_KEY_FILE": secret_file(tmp_path, "SECRET_KEY", STRONG)})
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "user", "--help"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "both SECRET_KEY and SECRET_KEY_FILE are set: keep one of them" in result.stderr
    assert STRONG not in result.stderr + result.stdout
