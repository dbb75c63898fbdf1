"""Per-connection SQLite settings: foreign keys on, WAL (synchronous=NORMAL), busy timeout."""

from __future__ import annotations

import sqlite3
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
