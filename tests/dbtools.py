"""Throwaway databases for tests that build their own schema (migrations, the index script).

The shared session database of ``conftest`` already has the models' schema; these tests need an
empty database instead: a SQLite file, or a new database on the ``TEST_DATABASE_URL`` server.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from config import normalize_database_url

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def empty_database(tmp_path: Path) -> Iterator[str]:
    """Yield the URL of a new, empty database; Postgres ones are dropped afterwards.

    Postgres URLs are yielded in the plain ``postgresql://`` form an operator would write.
    """
    server = os.environ.get("TEST_DATABASE_URL")
    if not server:
        yield f"sqlite:///{tmp_path / f'{uuid.uuid4().hex[:8]}.sqlite3'}"
        return
    url = make_url(server)
    name = f"gradesync_mig_{uuid.uuid4().hex[:10]}"
    admin = create_engine(normalize_database_url(server), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def engine_for(url: str) -> Engine:
    """An engine on ``url`` (plain form accepted), for inspecting what a test built."""
    return create_engine(normalize_database_url(url))


def run_python(args: list[str], database_url: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """Run ``python ARGS`` from the repository root with ``DATABASE_URL`` set, as a user would."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "TEST_DATABASE_URL")
    }
    env.update(
        DATABASE_URL=database_url,
        SECRET_KEY="test-secret-key-not-for-production",
        GRADESYNC_INSTANCE_DIR=str(tmp_path / "instance"),
    )
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def flask_db(database_url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """``flask --app app db ARGS`` on ``database_url``; a failure fails the test, with output."""
    result = run_python(["-m", "flask", "--app", "app", "db", *args], database_url, tmp_path)
    assert result.returncode == 0, f"flask db {' '.join(args)} failed:\n{result.stderr}"
    return result
