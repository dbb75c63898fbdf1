"""Bulk upserts and deletes for the sync, on Postgres and SQLite alike.

``INSERT ... ON CONFLICT (natural key) DO UPDATE SET ... WHERE <something changed>``: one
statement per chunk of rows, keyed on the tables' UNIQUE constraints. The ``WHERE`` clause
compares every updated column with ``IS DISTINCT FROM`` (SQLite spells it ``IS NOT``), so a row
whose data did not change is not updated at all: no write, no WAL traffic, no trigger, and it is
not counted. Rows inserted or updated come back through ``RETURNING``, which is how the callers
count ``rows_written`` the same way on both databases (``rowcount`` of an upsert differs).

These functions execute statements and never commit: the transaction boundary (one per course)
belongs to the sync service.
"""

from __future__ import annotations

import functools
import logging
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Table,
    Text,
    and_,
    bindparam,
    cast,
    column,
    delete,
    func,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult, Row

from app.extensions import SessionLike
from app.models import Assignment, CanvasConnection, Course, GradeCategory, GradingPeriod, Term

logger = logging.getLogger(__name__)

DEFAULT_CHUNK = 500
# Stay well under SQLite's 32766 bound parameters per statement (Postgres allows 65535).
MAX_PARAMS = 30_000


@dataclass
class UpsertResult:
    """What an upsert did: the rows it inserted or changed (their ``returning`` columns)."""

    rows: list[Row[Any]] = field(default_factory=list)
    statements: int = 0

    @property
    def rows_written(self) -> int:
        return len(self.rows)


def dedupe(rows: Iterable[Mapping[str, Any]], key: Sequence[str]) -> list[dict[str, Any]]:
    """Rows with unique keys, the last occurrence winning, in first-seen order.

    Postgres refuses a statement that would update the same row twice ("ON CONFLICT DO UPDATE
    command cannot affect row a second time"), so duplicates never reach it.
    """
    unique: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        unique[tuple(row[k] for k in key)] = dict(row)
    return list(unique.values())


def _changed(
    table: Table, excluded: Any, columns: Sequence[str], dialect: str
) -> ColumnElement[bool]:
    """``OR`` of "this column changed", NULL-safe."""
    tests = []
    for name in columns:
        current: Any = table.c[name]
        incoming: Any = excluded[name]
        if isinstance(current.type, JSON):
            # Postgres's json type has no equality operator: compare as jsonb (or as text).
            as_type = postgresql.JSONB() if dialect == "postgresql" else Text()
            current, incoming = cast(current, as_type), cast(incoming, as_type)
        tests.append(current.is_distinct_from(incoming))
    return or_(*tests)


@functools.lru_cache(maxsize=64)
def _statement(
    dialect: str,
    table: Table,
    columns: tuple[str, ...],
    key: tuple[str, ...],
    compare: tuple[str, ...],
    extra: tuple[str, ...],
    returning: tuple[str, ...],
) -> Any:
    """The upsert statement for one table and column set, built once.

    Statements are immutable and reusable; building ``excluded`` and the WHERE clause anew for
    every course cost more than executing the statement.
    """
    stmt = _postgres_insert(table, columns) if dialect == "postgresql" else sqlite.insert(table)
    set_ = {name: stmt.excluded[name] for name in (*compare, *extra)}
    return stmt.on_conflict_do_update(
        index_elements=list(key),
        set_=set_,
        where=_changed(table, stmt.excluded, compare, dialect) if compare else None,
    ).returning(*(table.c[name] for name in returning))


def _postgres_insert(table: Table, columns: Sequence[str]) -> postgresql.Insert:
    """``INSERT INTO t (cols) SELECT cols FROM jsonb_to_recordset(:rows) AS r(col type, ...)``.

    The whole chunk travels as ONE jsonb parameter, so the SQL text never changes with the
    number of rows: the driver converts it once (psycopg re-parses every distinct query text,
    which for a 500-row VALUES list costs more than running it) and Postgres can prepare it.
    """
    records = (
        func.jsonb_to_recordset(bindparam("rows", type_=postgresql.JSONB()))
        .table_valued(*(column(name, table.c[name].type) for name in columns))
        .render_derived(name="r", with_types=True)
    )
    source = select(*(records.c[name] for name in columns))
    return postgresql.insert(table).from_select(list(columns), source)


def _jsonable(row: Mapping[str, Any]) -> dict[str, Any]:
    """Datetimes as ISO-8601 with their offset, which ``timestamptz`` reads back exactly."""
    out = dict(row)
    for name, value in row.items():
        if isinstance(value, datetime):
            if value.tzinfo is None:  # the same guard as UTCDateTime on the ORM path
                raise ValueError(f"naive datetime for {name}; attach a timezone")
            out[name] = value.isoformat()
    return out


def upsert(
    session: SessionLike,
    table: Table,
    rows: Iterable[Mapping[str, Any]],
    *,
    key: Sequence[str],
    compare: Sequence[str] | None = None,
    also_set: Mapping[str, Any] | None = None,
    returning: Sequence[str] = ("id",),
    chunk_size: int = DEFAULT_CHUNK,
) -> UpsertResult:
    """Insert ``rows`` or update the existing rows with the same ``key``, if anything differs.

    :param key: the columns of the UNIQUE constraint used as the conflict target.
    :param compare: the columns to update (and compare); default: every non-key column given.
    :param also_set: extra values written on insert and on a real update, but never compared
        (e.g. ``last_synced_canvas``), so they do not turn a no-op into a write.
    :param returning: columns returned for every inserted or updated row.
    """
    rows = dedupe(rows, key)
    result = UpsertResult()
    if not rows:
        return result
    extra = dict(also_set or {})
    if compare is None:
        compare = [c for c in rows[0] if c not in key]
    dialect = session.get_bind().dialect.name
    columns = (*rows[0], *(name for name in extra if name not in rows[0]))
    stmt = _statement(
        dialect, table, columns, tuple(key), tuple(compare), tuple(extra), tuple(returning)
    )
    width = len(columns)
    size = max(1, min(chunk_size, MAX_PARAMS // max(1, width)))
    for start in range(0, len(rows), size):
        chunk = [{**row, **extra} for row in rows[start : start + size]]
        if dialect == "postgresql":
            params: Any = {"rows": [_jsonable(row) for row in chunk]}
        else:
            # A list of parameter sets: SQLAlchemy's "insertmanyvalues" sends the chunk as ONE
            # multi-row INSERT from a statement compiled once and cached.
            params = chunk
        result.rows.extend(session.execute(stmt, params).all())
        result.statements += 1
    return result


def delete_absent(
    session: SessionLike,
    table: Table,
    *,
    scope: Mapping[str, Any],
    key: str,
    keep: Iterable[Any],
) -> int:
    """Delete the rows in ``scope`` whose ``key`` is not in ``keep``; returns how many."""
    where = [table.c[name] == value for name, value in scope.items()]
    keep_list = sorted(set(keep))
    if keep_list:
        where.append(table.c[key].not_in(keep_list))
    result = typing.cast("CursorResult[Any]", session.execute(delete(table).where(and_(*where))))
    return max(0, result.rowcount or 0)


# --- the four tables ---------------------------------------------------------------------------

# ``__table__`` is typed as a FromClause; for a mapped class it is always the Table.
TERM = typing.cast(Table, Term.__table__)
COURSE = typing.cast(Table, Course.__table__)
GROUP = typing.cast(Table, GradeCategory.__table__)
ASSIGNMENT = typing.cast(Table, Assignment.__table__)
CONNECTION = typing.cast(Table, CanvasConnection.__table__)
PERIOD = typing.cast(Table, GradingPeriod.__table__)

def upsert_terms(session: SessionLike, rows: Iterable[Mapping[str, Any]]) -> UpsertResult:
    """Rows with user_id, connection_id, canvas_term_id, name, start_at, end_at; keyed on
    (connection_id, canvas_term_id); returns (id, canvas_term_id)."""
    return upsert(
        session,
        TERM,
        rows,
        key=("connection_id", "canvas_term_id"),
        returning=("id", "canvas_term_id"),
    )


def upsert_courses(
    session: SessionLike, rows: Iterable[Mapping[str, Any]], *, also_set: Mapping[str, Any]
) -> UpsertResult:
    """Course rows keyed on (connection_id, canvas_course_id); returns (id, canvas_course_id)."""
    return upsert(
        session,
        COURSE,
        rows,
        key=("connection_id", "canvas_course_id"),
        also_set=also_set,
        returning=("id", "canvas_course_id"),
    )


def upsert_groups(session: SessionLike, rows: Iterable[Mapping[str, Any]]) -> UpsertResult:
    """grade_category rows keyed on (course_id, canvas_group_id); returns (id, canvas_group_id)."""
    return upsert(
        session,
        GROUP,
        rows,
        key=("course_id", "canvas_group_id"),
        returning=("id", "canvas_group_id"),
    )


def upsert_assignments(
    session: SessionLike, rows: Iterable[Mapping[str, Any]], *, also_set: Mapping[str, Any]
) -> UpsertResult:
    """Assignment rows keyed on (course_id, canvas_assignment_id)."""
    return upsert(
        session,
        ASSIGNMENT,
        rows,
        key=("course_id", "canvas_assignment_id"),
        also_set=also_set,
        returning=("canvas_assignment_id",),
    )
