"""Per-connection SQLite settings: foreign keys on, WAL (synchronous=NORMAL), busy timeout.

The default database's folder (``instance/``) is made on its first connection, not when the app
is created: ``create_app`` writes no file. Any other missing folder stays an error (a typo in
``DATABASE_URL`` is not silently created).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from app.settings import INSTANCE_DIR


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        if cursor.execute("PRAGMA database_list").fetchone()[2]:  # not :memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            # In WAL mode NORMAL skips an fsync per commit but stays atomic: a power cut can
            # lose the last commits, never half of one (a course stays fully old or fully new).
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


@event.listens_for(Engine, "do_connect")
def _sqlite_folder(dialect: Any, _record: Any, cargs: Any, _cparams: Any) -> None:
    if dialect.name != "sqlite" or not cargs:
        return
    name = str(cargs[0])
    if name and name != ":memory:" and not name.startswith("file:") \
            and Path(name).parent == INSTANCE_DIR:
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
