"""Per-connection SQLite settings: foreign keys on, WAL (synchronous=NORMAL), busy timeout.

A SQLite file's folder (the default database lives under ``instance/``) is made on the first
connection, not when the app is created: ``create_app`` writes no file.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine


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
    if name and name != ":memory:" and not name.startswith("file:"):
        Path(name).parent.mkdir(parents=True, exist_ok=True)
