#!/usr/bin/env python3
"""Add the ten Canvas lookup indexes to an existing GradeSync database.

New databases get these indexes from the ``0002_canvas_indexes`` migration; this script is for
databases created before it. It reads ``DATABASE_URL`` (or ``--database-url``), looks at which
indexes already exist, creates only the missing ones and changes no data. Percent-escapes in the
URL are decoded the standard way, so a password written ``p%23ss`` reaches the server as ``p#ss``.

    python3 add_canvas_indexes.py                       # DATABASE_URL, else the demo SQLite file
    python3 add_canvas_indexes.py --dry-run             # only say what would be created
    python3 add_canvas_indexes.py --concurrently        # Postgres: build without blocking writes

Exit status: 0 when every index exists afterwards (or would, with ``--dry-run``); 1 when the
database cannot be reached, a table or column is missing, an index cannot be built, or an index
of the same name exists on other columns (it is left alone); 2 for a malformed URL or bad
options. Errors are one line, without a traceback.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import click
from sqlalchemy import Column, Index, Integer, MetaData, Table, create_engine, inspect, text
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.schema import CreateIndex, DropIndex

from app.models.indexes import CANVAS_INDEXES, CanvasIndex
from config import INSTANCE_DIR, normalize_database_url

logger = logging.getLogger(__name__)

DEFAULT_DATABASE_URL = f"sqlite:///{INSTANCE_DIR / 'gradesync.sqlite3'}"


class IndexScriptError(Exception):
    """An expected failure, reported as one line; ``exit_code`` is the script's exit status."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class Plan:
    """What the script found: indexes to build, and the ones it leaves alone."""

    to_create: list[CanvasIndex] = field(default_factory=list)
    # An index a failed CREATE INDEX CONCURRENTLY left behind: unusable, dropped and rebuilt.
    to_rebuild: list[CanvasIndex] = field(default_factory=list)
    skipped: list[tuple[CanvasIndex, str]] = field(default_factory=list)
    # Same name, other columns: not the contract's index, and not ours to drop.
    wrong_columns: list[tuple[CanvasIndex, tuple[str, ...]]] = field(default_factory=list)


def database_url(raw: str) -> URL:
    """Parse a database URL into SQLAlchemy's URL object, decoding ``%XX`` escapes.

    The URL object keeps the password as a separate, decoded field, so it is never re-parsed
    from a string (where ``#``, ``@`` or ``/`` in a password would break it).

    Raises:
        IndexScriptError: the text is not a database URL.
    """
    try:
        return make_url(normalize_database_url(raw.strip()))
    except (ArgumentError, ValueError) as exc:
        raise IndexScriptError(f"not a database URL: {exc}", exit_code=2) from None


def make_engine(url: URL) -> Engine:
    """An engine for ``url``; refuses to invent an empty SQLite file that is not there.

    Raises:
        IndexScriptError: the backend is not PostgreSQL or SQLite, or the SQLite file is absent.
    """
    backend = url.get_backend_name()
    if backend == "sqlite":
        path = url.database or ""
        if path not in ("", ":memory:") and not path.startswith("file:"):
            if not Path(path).is_file():
                raise IndexScriptError(f"cannot open database: SQLite file {path} does not exist")
        return create_engine(url)
    if backend == "postgresql":
        try:
            return create_engine(url, connect_args={"connect_timeout": 10})
        except (NoSuchModuleError, ImportError) as exc:
            raise IndexScriptError(f"cannot load the PostgreSQL driver: {exc}") from None
    raise IndexScriptError(
        f"unsupported database '{backend}': GradeSync runs on PostgreSQL or SQLite", exit_code=2
    )


def plan_indexes(conn: Connection) -> Plan:
    """Compare the database with :data:`CANVAS_INDEXES`.

    Raises:
        IndexScriptError: a table or column an index needs does not exist.
    """
    inspector = inspect(conn)
    existing: dict[str, dict[str, tuple[str, ...]]] = {}
    for table in dict.fromkeys(spec.table for spec in CANVAS_INDEXES):
        if not inspector.has_table(table):
            raise IndexScriptError(
                f"table '{table}' is missing; run `flask --app app db upgrade` first"
            )
        columns = {column["name"] for column in inspector.get_columns(table)}
        for spec in CANVAS_INDEXES:
            missing = [c for c in spec.columns if spec.table == table and c not in columns]
            if missing:
                raise IndexScriptError(
                    f"column '{table}.{missing[0]}' is missing; run `flask --app app db upgrade`"
                )
        existing[table] = {
            index["name"]: tuple(c for c in index["column_names"] if c)
            for index in inspector.get_indexes(table)
            if index["name"]
        }
    invalid = _invalid_postgres_indexes(conn)

    plan = Plan()
    for spec in CANVAS_INDEXES:
        found = existing[spec.table].get(spec.name)
        if found is None:
            plan.to_create.append(spec)
        elif spec.name in invalid:
            plan.to_rebuild.append(spec)
        elif found != spec.columns:
            plan.skipped.append((spec, f"exists on ({', '.join(found)}), not the expected columns"))
            plan.wrong_columns.append((spec, found))
        else:
            plan.skipped.append((spec, "already exists"))
    return plan


def _invalid_postgres_indexes(conn: Connection) -> set[str]:
    if conn.dialect.name != "postgresql":
        return set()
    rows = conn.execute(
        text(
            "SELECT c.relname FROM pg_index i"
            " JOIN pg_class c ON c.oid = i.indexrelid"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE NOT i.indisvalid AND n.nspname = current_schema()"
            " AND c.relname = ANY(:names)"
        ),
        {"names": [spec.name for spec in CANVAS_INDEXES]},
    )
    return set(rows.scalars())


def _index(spec: CanvasIndex, *, concurrently: bool) -> Index:
    # A throwaway Table: enough for SQLAlchemy to quote names and render CREATE INDEX.
    table = Table(spec.table, MetaData(), *(Column(name, Integer) for name in spec.columns))
    return Index(
        spec.name, *(table.c[name] for name in spec.columns), postgresql_concurrently=concurrently
    )


def build(engine: Engine, plan: Plan, *, concurrently: bool) -> None:
    """Create the planned indexes.

    Normally all of them in one transaction, so a failure leaves the database as it was. With
    ``concurrently`` (Postgres), each index is built with ``CREATE INDEX CONCURRENTLY``, which
    cannot run inside a transaction and does not block writes while it works.
    """
    if concurrently:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            _execute_plan(conn, plan, concurrently=True)
    else:
        with engine.begin() as conn:
            _execute_plan(conn, plan, concurrently=False)


def _execute_plan(conn: Connection, plan: Plan, *, concurrently: bool) -> None:
    for spec in plan.to_rebuild:
        conn.execute(DropIndex(_index(spec, concurrently=concurrently), if_exists=True))
    for spec in [*plan.to_rebuild, *plan.to_create]:
        logger.info("creating %s on %s(%s)", spec.name, spec.table, ", ".join(spec.columns))
        conn.execute(CreateIndex(_index(spec, concurrently=concurrently), if_not_exists=True))


def _describe(spec: CanvasIndex) -> str:
    return f"{spec.name} on {spec.table}({', '.join(spec.columns)})"


def run(raw_url: str, *, concurrently: bool, dry_run: bool) -> None:
    """Plan, report and build. Raises :class:`IndexScriptError` for expected failures."""
    url = database_url(raw_url)
    target = url.render_as_string(hide_password=True)
    engine = make_engine(url)
    try:
        try:
            with engine.connect() as conn:
                plan = plan_indexes(conn)
                backend = conn.dialect.name
        except DBAPIError as exc:
            raise IndexScriptError(f"cannot connect to {target}: {_first_line(exc)}") from None

        click.echo(f"Database: {target}")
        if concurrently and backend != "postgresql":
            click.echo("note: --concurrently applies to PostgreSQL only; building normally")
            concurrently = False
        for spec, reason in plan.skipped:
            click.echo(f"skipped  {_describe(spec)}: {reason}")
        verb = "would create" if dry_run else "created"
        if not dry_run and (plan.to_create or plan.to_rebuild):
            try:
                build(engine, plan, concurrently=concurrently)
            except SQLAlchemyError as exc:
                raise IndexScriptError(
                    f"could not create the indexes: {_first_line(exc)}"
                ) from None
        for spec in plan.to_rebuild:
            rebuilt = "would rebuild" if dry_run else "rebuilt"
            click.echo(f"{rebuilt}  {_describe(spec)} (it was invalid)")
        for spec in plan.to_create:
            click.echo(f"{verb}  {_describe(spec)}")
        built = len(plan.to_create) + len(plan.to_rebuild)
        click.echo(f"{verb} {built}, skipped {len(plan.skipped)} of {len(CANVAS_INDEXES)} indexes")
        if plan.wrong_columns:
            spec, found = plan.wrong_columns[0]
            raise IndexScriptError(
                f"{spec.name} exists on {spec.table}({', '.join(found)}), not on "
                f"({', '.join(spec.columns)}): drop it (DROP INDEX {spec.name}) and run again"
            )
    finally:
        engine.dispose()


def _first_line(exc: BaseException) -> str:
    """The driver's own message, first line only (SQLAlchemy appends SQL and a help link)."""
    origin = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(origin).splitlines() if line.strip()]
    return lines[0] if lines else type(origin).__name__


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--database-url",
    envvar="DATABASE_URL",
    default=DEFAULT_DATABASE_URL,
    show_default="$DATABASE_URL, else the demo SQLite file",
    help="Database to index, e.g. postgresql://user:p%23ss@host:5432/gradesync.",
)
@click.option(
    "--concurrently",
    is_flag=True,
    help="PostgreSQL: CREATE INDEX CONCURRENTLY, for a live database (slower, no write lock).",
)
@click.option("--dry-run", is_flag=True, help="Show what would be created; change nothing.")
def main(database_url: str, concurrently: bool, dry_run: bool) -> None:
    """Create the ten Canvas lookup indexes that the database does not have yet."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        run(database_url, concurrently=concurrently, dry_run=dry_run)
    except IndexScriptError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    # An empty DATABASE_URL means "not set", as it does for the app.
    if os.environ.get("DATABASE_URL") == "":
        del os.environ["DATABASE_URL"]
    main()
