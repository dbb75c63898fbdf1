"""A throw-away GradeSync app for the operator scripts, and counters on its database.

Import this module only after :func:`use_temp_instance_dir` has run (the scripts do it first
thing): ``config`` reads ``GRADESYNC_INSTANCE_DIR`` when it is imported, and nothing the scripts
do may leave files in the repository.
"""

from __future__ import annotations

import atexit
import functools
import os
import re
import secrets
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

GRADEBOOK_TABLES = ("term", "course", "grade_category", "assignment")
_WRITE = re.compile(r"^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+\"?(\w+)\"?", re.IGNORECASE)
PROXY_VARS = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy")


def use_temp_instance_dir() -> Path:
    """Point ``GRADESYNC_INSTANCE_DIR`` at a new temporary directory (removed at exit).

    Also keeps loopback traffic to the simulator away from any configured proxy, and gives
    this process and its children (``flask db upgrade``...) a throw-away ``SECRET_KEY`` when
    none is set: the benchmark's databases are scratch ones, dropped at exit.
    """
    path = Path(tempfile.mkdtemp(prefix="gradesync-bench-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    os.environ["GRADESYNC_INSTANCE_DIR"] = str(path)
    for name in PROXY_VARS:
        os.environ.pop(name, None)
    os.environ["NO_PROXY"] = "127.0.0.1,localhost"
    if not (os.environ.get("SECRET_KEY") or os.environ.get("SECRET_KEY_FILE")):
        os.environ["SECRET_KEY"] = secrets.token_urlsafe(48)
    return path


def default_database_url(instance_dir: Path) -> str:
    """Where users run it: a new scratch database on the PostgreSQL server that
    ``TEST_DATABASE_URL`` or ``DATABASE_URL`` names (never that database itself: it is created
    now and dropped at exit), else a temporary SQLite file."""
    for name in ("TEST_DATABASE_URL", "DATABASE_URL"):
        url = os.environ.get(name, "")
        if url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
            return scratch_postgres(url)
    return f"sqlite:///{instance_dir / 'bench.sqlite3'}"


def scratch_postgres(url: str) -> str:
    """A new empty database on ``url``'s server, dropped when the process exits."""
    import uuid

    import psycopg
    from sqlalchemy.engine import make_url

    server = make_url(url).set(drivername="postgresql")
    name = f"gradesync_bench_{uuid.uuid4().hex[:12]}"
    admin = server.render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]

    atexit.register(drop)
    return server.set(database=name).render_as_string(hide_password=False)


def make_app(database_url: str) -> Any:
    """A GradeSync app on ``database_url`` that may talk to a Canvas on localhost."""
    from app import create_app
    from config import normalize_database_url

    return create_app({
        "SQLALCHEMY_DATABASE_URI": normalize_database_url(database_url),
        "CANVAS_ALLOW_PRIVATE_HOSTS": True,
        "CELERY_BROKER_URL": None,
        "WTF_CSRF_ENABLED": False,
    })


def reset_schema() -> None:
    """Drop and create every table: each contender starts from an empty database."""
    from app.extensions import db

    db.session.remove()
    db.drop_all()
    db.create_all()


@dataclass
class DbCounts:
    """What the database saw while a :class:`DbCounter` was counting."""

    statements: int = 0
    rows_written: int = 0  # rows inserted, updated or deleted in the gradebook tables
    rows_by_table: dict[str, int] = field(default_factory=dict)


class DbCounter:
    """Counts statements (``before_cursor_execute``) and gradebook rows written on an engine.

    Rows are those inserted, updated or deleted by statements on ``term``, ``course``,
    ``grade_category`` and ``assignment``; bookkeeping tables (users, sync_run) are counted as
    statements but not as rows, because they are not the student's data. On Postgres the count
    is the driver's ``rowcount``. On SQLite it is the connection's ``total_changes`` counter:
    sqlite3 reports ``rowcount`` -1 for ``INSERT ... RETURNING`` (which the ORM issues for every
    row) and applies the change only once the returned rows are read, so each statement's
    changes are settled when the connection's next statement or commit comes.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self.counts = DbCounts()
        self._active = False
        # SQLite connection -> (total_changes before its last statement, that statement's table)
        self._pending: dict[int, tuple[sqlite3.Connection, int, str | None]] = {}

    def _add_rows(self, table: str | None, rows: int) -> None:
        if table is None or rows <= 0:
            return
        with self._lock:
            self.counts.rows_written += rows
            self.counts.rows_by_table[table] = self.counts.rows_by_table.get(table, 0) + rows

    def _settle(self, raw: sqlite3.Connection) -> None:
        pending = self._pending.pop(id(raw), None)
        if pending is not None:
            self._add_rows(pending[2], raw.total_changes - pending[1])

    def _before(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not self._active:
            return
        with self._lock:
            self.counts.statements += 1
        raw = _sqlite_connection(conn)
        if raw is not None:
            self._settle(raw)
            self._pending[id(raw)] = (raw, raw.total_changes, _gradebook_table(statement))

    def _after(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if self._active and _sqlite_connection(conn) is None:
            rows = cursor.rowcount if cursor.rowcount and cursor.rowcount > 0 else 0
            self._add_rows(_gradebook_table(statement), rows)

    def _end_transaction(self, conn: Any) -> None:
        raw = _sqlite_connection(conn)
        if raw is not None:
            self._settle(raw)

    @contextmanager
    def counting(self) -> Iterator[DbCounts]:
        """Count everything executed inside the block; yields the (live) counts."""
        self.counts = DbCounts()
        self._pending = {}
        hooks = (("before_cursor_execute", self._before), ("after_cursor_execute", self._after),
                 ("commit", self._end_transaction), ("rollback", self._end_transaction))
        for name, fn in hooks:
            event.listen(self._engine, name, fn)
        self._active = True
        try:
            yield self.counts
        finally:
            for raw, _, _ in list(self._pending.values()):
                self._settle(raw)
            self._active = False
            for name, fn in hooks:
                event.remove(self._engine, name, fn)


def _gradebook_table(statement: str) -> str | None:
    match = _WRITE.match(statement)
    if match and match.group(1).lower() in GRADEBOOK_TABLES:
        return match.group(1).lower()
    return None


def _sqlite_connection(conn: Any) -> sqlite3.Connection | None:
    raw = getattr(conn.connection, "dbapi_connection", None)
    return raw if isinstance(raw, sqlite3.Connection) else None


@functools.cache
def _password_hash() -> str:
    from werkzeug.security import generate_password_hash

    return generate_password_hash("benchmark-password-1")


def make_user(email: str, base_url: str, token: str) -> Any:
    """Create a user connected to ``base_url`` with ``token``; returns the user.

    The password hash is computed once per process: scrypt takes ~0.1-0.5 s, it is not what is
    being measured, and the benchmark creates a dozen users.
    """
    from app.accounts import normalize_email
    from app.connections import connect_canvas
    from app.extensions import db
    from app.models import User

    user = User(email=normalize_email(email), password_hash=_password_hash())
    db.session.add(user)
    db.session.commit()
    connect_canvas(user, base_url, token)  # as a student connects: Canvas checks the token
    return user
