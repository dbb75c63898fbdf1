"""A throw-away GradeSync app for the operator scripts, and counters on its database.

Import this module only after :func:`use_temp_instance_dir` has run (the scripts do it first
thing): ``config`` reads ``GRADESYNC_INSTANCE_DIR`` when it is imported, and nothing the scripts
do may leave files in the repository.
"""

from __future__ import annotations

import os
import re
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
    """Point ``GRADESYNC_INSTANCE_DIR`` at a new temporary directory and return it.

    Also keeps loopback traffic to the simulator away from any configured proxy.
    """
    path = Path(tempfile.mkdtemp(prefix="gradesync-bench-"))
    os.environ["GRADESYNC_INSTANCE_DIR"] = str(path)
    for name in PROXY_VARS:
        os.environ.pop(name, None)
    os.environ["NO_PROXY"] = "127.0.0.1,localhost"
    return path


def default_database_url(instance_dir: Path) -> str:
    return f"sqlite:///{instance_dir / 'bench.sqlite3'}"


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

    Rows come from the driver's ``rowcount`` after each INSERT/UPDATE/DELETE on ``term``,
    ``course``, ``grade_category`` and ``assignment``; bookkeeping tables (users, sync_run) are
    counted as statements but not as rows, because they are not the student's data.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self.counts = DbCounts()
        self._active = False

    def _before(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if self._active:
            with self._lock:
                self.counts.statements += 1

    def _after(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not self._active:
            return
        match = _WRITE.match(statement)
        if not match or match.group(1).lower() not in GRADEBOOK_TABLES:
            return
        rows = cursor.rowcount if cursor.rowcount and cursor.rowcount > 0 else 0
        table = match.group(1).lower()
        with self._lock:
            self.counts.rows_written += rows
            self.counts.rows_by_table[table] = self.counts.rows_by_table.get(table, 0) + rows

    @contextmanager
    def counting(self) -> Iterator[DbCounts]:
        """Count everything executed inside the block; yields the (live) counts."""
        self.counts = DbCounts()
        event.listen(self._engine, "before_cursor_execute", self._before)
        event.listen(self._engine, "after_cursor_execute", self._after)
        self._active = True
        try:
            yield self.counts
        finally:
            self._active = False
            event.remove(self._engine, "before_cursor_execute", self._before)
            event.remove(self._engine, "after_cursor_execute", self._after)


def make_user(email: str, base_url: str, token: str) -> Any:
    """Create a user connected to ``base_url`` with ``token``; returns the user."""
    from app.accounts import create_user, set_canvas_credentials

    user = create_user(email, "benchmark-password-1")
    set_canvas_credentials(user, base_url, token)
    return user
