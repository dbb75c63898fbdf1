"""Every README command run wrongly once prints one ``Error: ...`` line naming the fix and
exits non-zero: before ``db upgrade`` (no tables), with a bad Canvas URL, and with a
``DATABASE_URL`` that is malformed, points at a missing folder or at a server that is down.

Run as a user runs them: ``flask --app app ...`` in a subprocess from the repository root, so
what reaches the terminal (a traceback or not) is what is asserted.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow

EMAIL = "a@example.edu"
URL = "https://canvas.example.edu"

# Each README command (README.md, "Command line"), as typed, against a database with no tables.
BEFORE_DB_UPGRADE = [
    ["user", "create", EMAIL, "--password", "correct horse battery"],
    ["canvas", "connect", EMAIL, "--url", URL, "--token", "t"],
    ["canvas", "connections", EMAIL, "--json"],
    ["canvas", "test", EMAIL],
    ["canvas", "disconnect", EMAIL],
    ["canvas", "sync", EMAIL, "--json"],
    ["canvas", "sync", "--all"],
    ["canvas", "oauth-client", "list"],
    ["canvas", "oauth-client", "remove", "--url", URL],
    ["scheduler", "run", "--once"],
    ["changes", EMAIL, "--json"],
    ["grades", EMAIL, "--json"],
]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _flask(tmp_path: Path, args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "GRADESYNC_INSTANCE_DIR": str(tmp_path / "instance"),
            "SECRET_KEY": "a-test-secret-key-long-enough-0123456789", **env}
    for name in ("CANVAS_ALLOW_PRIVATE_HOSTS", "CELERY_BROKER_URL"):
        full.pop(name, None)
    if "DATABASE_URL" not in env:
        full["DATABASE_URL"] = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", *args], cwd=ROOT, env=full,
        capture_output=True, text=True, timeout=120,
    )


def _one_line_error(result: subprocess.CompletedProcess[str], phrase: str) -> None:
    output = (result.stdout + result.stderr).strip()
    assert result.returncode != 0, output
    assert "Traceback" not in output, output
    assert len(output.splitlines()) == 1, output
    assert output.startswith("Error: ") and phrase in output, output


@pytest.mark.parametrize("args", BEFORE_DB_UPGRADE, ids=lambda a: " ".join(a[:2]))
def test_a_command_before_db_upgrade_says_to_run_it(tmp_path: Path, args: list[str]) -> None:
    _one_line_error(_flask(tmp_path, args), "flask --app app db upgrade")


@pytest.mark.parametrize(
    ("database_url", "phrase"),
    [
        ("mysql://user@db.example.edu/gradesync", "DATABASE_URL"),
        ("not a url", "DATABASE_URL"),
        ("sqlite:///instance/no-such-folder/demo.sqlite3", "DATABASE_URL"),
        ("postgresql://nobody@127.0.0.1:{port}/gradesync", "DATABASE_URL"),
    ],
    ids=["unknown scheme", "no scheme", "missing folder", "server down"],
)
@pytest.mark.parametrize(
    "args", [["db", "upgrade"], ["user", "create", EMAIL, "--password", "correct horse battery"],
             ["grades", EMAIL]],
    ids=["db upgrade", "user create", "grades"],
)
def test_a_bad_database_url_is_one_line(
    tmp_path: Path, database_url: str, phrase: str, args: list[str]
) -> None:
    url = database_url.replace("{port}", str(_closed_port()))
    _one_line_error(_flask(tmp_path, args, DATABASE_URL=url), phrase)


def test_the_readme_sqlite_form_is_read_from_the_repository_root(tmp_path: Path) -> None:
    """``DATABASE_URL=sqlite:///instance/NAME.sqlite3`` (the README's form) opens the file under
    the repository root, the one ``run.py --demo`` writes, whatever the instance folder."""
    name = f"test-cli-{os.getpid()}.sqlite3"
    target = ROOT / "instance" / name
    target.parent.mkdir(exist_ok=True)
    try:
        url = f"sqlite:///instance/{name}"
        assert _flask(tmp_path, ["db", "upgrade"], DATABASE_URL=url).returncode == 0
        created = _flask(tmp_path, ["user", "create", EMAIL, "--password",
                                    "correct horse battery"], DATABASE_URL=url)
        assert created.returncode == 0, created.stderr
        assert target.exists()
    finally:
        target.unlink(missing_ok=True)


def test_a_local_canvas_url_names_the_setting_that_allows_it(tmp_path: Path) -> None:
    database = {"DATABASE_URL": f"sqlite:///{tmp_path / 'ready.sqlite3'}"}
    assert _flask(tmp_path, ["db", "upgrade"], **database).returncode == 0
    assert _flask(tmp_path, ["user", "create", EMAIL, "--password", "correct horse battery"],
                  **database).returncode == 0
    result = _flask(tmp_path, ["canvas", "connect", EMAIL, "--url", "http://127.0.0.1:9",
                               "--token", "t"], **database)
    _one_line_error(result, "CANVAS_ALLOW_PRIVATE_HOSTS")


def test_run_py_with_a_bad_database_url_is_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "run.py", "--port", "0"], cwd=ROOT, capture_output=True, text=True,
        timeout=60, env={**os.environ, "GRADESYNC_INSTANCE_DIR": str(tmp_path / "instance"),
                         "DATABASE_URL": "mysql://db.example.edu/x"},
    )
    _one_line_error(result, "DATABASE_URL")
