"""add_canvas_indexes.py: builds the ten indexes once, keeps data, fails in one clear line.

The script runs in a subprocess, as an operator would run it, against a database that has the
tables but not the indexes (one created before the 0002 migration existed).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, inspect, select, text
from sqlalchemy.engine import Engine

import add_canvas_indexes
from app.models import Base
from app.models.indexes import CANVAS_INDEXES, CanvasIndex
from tests.dbtools import empty_database, engine_for, run_python

EXPECTED = {spec.name: (spec.table, spec.columns) for spec in CANVAS_INDEXES}
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)

postgres_only = pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL"), reason="needs TEST_DATABASE_URL (PostgreSQL)"
)


def script(database_url: str, tmp_path: Path, *args: str):
    return run_python(["add_canvas_indexes.py", *args], database_url, tmp_path)


def fill(engine: Engine, *, courses: int = 12, assignments_per_course: int = 20) -> None:
    """Two users' terms, courses, assignment groups and assignments."""
    tables = Base.metadata.tables
    users = [
        {
            "id": u,
            "email": f"s{u}@example.edu",
            "password_hash": "x",
            "failed_logins": 0,
            "created_at": NOW,
        }
        for u in (1, 2)
    ]
    terms = [
        {
            "id": t,
            "user_id": 1 + t % 2,
            "connection_id": 1 + t % 2,
            "canvas_term_id": 100 + t,
            "name": f"Term {t}",
        }
        for t in range(1, 5)
    ]
    course_rows, groups, assignments = [], [], []
    for c in range(1, courses + 1):
        course_rows.append(
            {
                "id": c,
                "user_id": 1 + c % 2,
                "connection_id": 1 + c % 2,
                "term_id": 1 + c % 4,
                "canvas_course_id": 5000 + c,
                "name": f"Course {c} – Économie",
                "apply_group_weights": c % 3 == 0,
                "concluded": False,
                "last_synced_canvas": NOW - timedelta(hours=c),
            }
        )
        for g in range(4):
            groups.append(
                {
                    "id": c * 10 + g,
                    "course_id": c,
                    "canvas_group_id": 900 + c * 10 + g,
                    "name": f"Group {g}",
                    "drop_lowest": 0,
                    "drop_highest": 0,
                    "never_drop": [],
                }
            )
        for a in range(assignments_per_course):
            assignments.append(
                {
                    "course_id": c,
                    "grade_category_id": c * 10 + a % 4,
                    "canvas_assignment_id": 70000 + c * 1000 + a,
                    "canvas_course_id": 5000 + c,
                    "name": f"HW {a}",
                    "omit_from_final_grade": False,
                    "score": float(a % 10),
                    "is_excused": False,
                    "is_missing": a % 7 == 0,
                    "is_late": False,
                    "last_synced_canvas": NOW - timedelta(minutes=a),
                }
            )
    with engine.begin() as conn:
        conn.execute(insert(tables["users"]), users)
        conn.execute(
            insert(tables["canvas_connection"]),
            [{"id": u, "user_id": u, "base_url": f"https://canvas{u}.example.edu",
              "created_at": NOW} for u in (1, 2)],
        )
        conn.execute(insert(tables["term"]), terms)
        conn.execute(insert(tables["course"]), course_rows)
        conn.execute(insert(tables["grade_category"]), groups)
        conn.execute(insert(tables["assignment"]), assignments)


def snapshot(engine: Engine) -> dict[str, list[tuple]]:
    """Every row of every table, in primary-key order."""
    with engine.connect() as conn:
        return {
            table.name: [
                tuple(row)
                for row in conn.execute(select(table).order_by(*table.primary_key.columns))
            ]
            for table in Base.metadata.sorted_tables
        }


def canvas_indexes(engine: Engine) -> dict[str, tuple[str, tuple[str, ...]]]:
    inspector = inspect(engine)
    return {
        index["name"]: (table, tuple(index["column_names"]))
        for table in {spec.table for spec in CANVAS_INDEXES}
        for index in inspector.get_indexes(table)
        if index["name"].startswith("idx_")
    }


@pytest.fixture
def unindexed_url(tmp_path: Path) -> Iterator[str]:
    """A database with the tables and some rows, but none of the ten indexes."""
    with empty_database(tmp_path) as url:
        engine = engine_for(url)
        Base.metadata.create_all(engine)
        with engine.begin() as conn:
            for spec in CANVAS_INDEXES:
                conn.execute(text(f"DROP INDEX {spec.name}"))
        fill(engine)
        engine.dispose()
        yield url


def test_creates_the_ten_indexes_then_skips_them(unindexed_url: str, tmp_path: Path) -> None:
    engine = engine_for(unindexed_url)
    before = snapshot(engine)

    first = script(unindexed_url, tmp_path)
    assert first.returncode == 0, first.stderr
    assert canvas_indexes(engine) == EXPECTED
    for spec in CANVAS_INDEXES:
        assert f"created  {spec.name} on {spec.table}({', '.join(spec.columns)})" in first.stdout
    assert "created 10, skipped 0 of 10 indexes" in first.stdout

    second = script(unindexed_url, tmp_path)
    assert second.returncode == 0, second.stderr
    assert second.stdout.count("already exists") == 10
    assert "created 0, skipped 10 of 10 indexes" in second.stdout

    assert snapshot(engine) == before
    assert len(before["assignment"]) == 240
    engine.dispose()


def test_only_the_missing_ones_are_created(unindexed_url: str, tmp_path: Path) -> None:
    engine = engine_for(unindexed_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE INDEX idx_term_user_id ON term (user_id)"))

    result = script(unindexed_url, tmp_path)

    assert result.returncode == 0, result.stderr
    assert "skipped  idx_term_user_id on term(user_id): already exists" in result.stdout
    assert "created 9, skipped 1 of 10 indexes" in result.stdout
    assert canvas_indexes(engine) == EXPECTED
    engine.dispose()


def test_same_name_on_other_columns_is_reported_not_dropped(
    unindexed_url: str, tmp_path: Path
) -> None:
    engine = engine_for(unindexed_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE INDEX idx_term_user_id ON term (canvas_term_id)"))

    result = script(unindexed_url, tmp_path)

    assert_one_line_error(result, "idx_term_user_id exists on term(canvas_term_id)", "DROP INDEX")
    assert result.returncode == 1
    assert "created 9, skipped 1 of 10 indexes" in result.stdout
    found = canvas_indexes(engine)
    assert found["idx_term_user_id"] == ("term", ("canvas_term_id",))
    assert len(found) == 10
    engine.dispose()


def test_dry_run_changes_nothing(unindexed_url: str, tmp_path: Path) -> None:
    result = script(unindexed_url, tmp_path, "--dry-run")

    assert result.returncode == 0, result.stderr
    assert result.stdout.count("would create  idx_") == 10
    engine = engine_for(unindexed_url)
    assert canvas_indexes(engine) == {}
    engine.dispose()


def test_database_url_option_wins_over_the_environment(unindexed_url: str, tmp_path: Path) -> None:
    elsewhere = f"sqlite:///{tmp_path / 'absent.sqlite3'}"
    result = script(elsewhere, tmp_path, "--database-url", unindexed_url)

    assert result.returncode == 0, result.stderr
    engine = engine_for(unindexed_url)
    assert canvas_indexes(engine) == EXPECTED
    engine.dispose()


def assert_one_line_error(result, *fragments: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0]


def test_missing_table_is_one_line(tmp_path: Path) -> None:
    with empty_database(tmp_path) as url:
        engine = engine_for(url)
        with engine.begin() as conn:  # an unrelated table, so the database file exists
            conn.execute(text("CREATE TABLE unrelated (id INTEGER PRIMARY KEY)"))
        engine.dispose()

        result = script(url, tmp_path)

    assert_one_line_error(result, "table 'assignment' is missing", "db upgrade")
    assert result.returncode == 1


def test_unreachable_database_is_one_line(tmp_path: Path) -> None:
    # Port 9 (discard) on loopback: nothing listens there, so the connection is refused.
    result = script("postgresql://gradesync:p%23ss@127.0.0.1:9/gradesync", tmp_path)

    assert_one_line_error(result, "cannot connect to", "127.0.0.1:9")
    assert result.returncode == 1
    assert "p#ss" not in result.stderr and "p%23ss" not in result.stderr


def test_missing_sqlite_file_is_reported_not_created(tmp_path: Path) -> None:
    path = tmp_path / "no-such.sqlite3"

    result = script(f"sqlite:///{path}", tmp_path)

    assert_one_line_error(result, "does not exist")
    assert not path.exists()


def test_malformed_url_is_one_line(tmp_path: Path) -> None:
    result = script("not a url", tmp_path)

    assert_one_line_error(result, "not a database URL")
    assert result.returncode == 2


def test_password_escapes_are_decoded() -> None:
    url = add_canvas_indexes.database_url("postgres://grader:p%23ss%40w0rd@db.internal:5432/gs")

    assert url.password == "p#ss@w0rd"
    assert url.username == "grader"
    assert url.host == "db.internal"
    assert url.database == "gs"
    assert url.drivername == "postgresql+psycopg"


@pytest.mark.postgres
@postgres_only
def test_decoded_password_is_what_reaches_postgres(tmp_path: Path) -> None:
    """The driver receives '#', not '%23' (the server trusts loopback, so we ask the driver)."""
    with empty_database(tmp_path) as plain_url:
        with_password = plain_url.replace("://root@", "://root:p%23ss@", 1)
        assert with_password != plain_url, "TEST_DATABASE_URL is expected to use the root role"
        engine = add_canvas_indexes.make_engine(add_canvas_indexes.database_url(with_password))
        with engine.connect() as conn:
            assert conn.connection.dbapi_connection.info.password == "p#ss"
        engine.dispose()


@pytest.mark.postgres
@postgres_only
def test_concurrently_builds_valid_indexes(unindexed_url: str, tmp_path: Path) -> None:
    result = script(unindexed_url, tmp_path, "--concurrently")

    assert result.returncode == 0, result.stderr
    assert "created 10, skipped 0 of 10 indexes" in result.stdout
    engine = engine_for(unindexed_url)
    assert canvas_indexes(engine) == EXPECTED
    with engine.connect() as conn:
        invalid = conn.execute(
            text(
                "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
                " WHERE c.relname LIKE 'idx\\_%' AND NOT i.indisvalid"
            )
        ).scalar_one()
    assert invalid == 0
    engine.dispose()


@pytest.mark.postgres
@postgres_only
def test_an_invalid_index_is_rebuilt(unindexed_url: str, tmp_path: Path) -> None:
    """What a failed CREATE INDEX CONCURRENTLY leaves behind is rebuilt, not skipped."""
    assert script(unindexed_url, tmp_path).returncode == 0
    engine = engine_for(unindexed_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE pg_index SET indisvalid = false"
                " WHERE indexrelid = 'idx_term_user_id'::regclass"
            )
        )

    result = script(unindexed_url, tmp_path, "--concurrently")

    assert result.returncode == 0, result.stderr
    assert "rebuilt  idx_term_user_id on term(user_id)" in result.stdout
    with engine.connect() as conn:
        valid = conn.execute(
            text("SELECT indisvalid FROM pg_index WHERE indexrelid = 'idx_term_user_id'::regclass")
        ).scalar_one()
    assert valid is True
    engine.dispose()


# --- Each index serves its query (EXPLAIN on Postgres) ------------------------------------

# The lookup each index exists for, as the sync and the dashboard issue it.
QUERIES: dict[str, str] = {
    "idx_assignment_canvas_id": "SELECT id FROM assignment WHERE canvas_assignment_id = 71005",
    "idx_assignment_canvas_course_id": "SELECT id FROM assignment WHERE canvas_course_id = 5003",
    "idx_course_canvas_id": "SELECT id FROM course WHERE canvas_course_id = 5003",
    "idx_term_user_id": "SELECT id FROM term WHERE user_id = 2",
    "idx_assignment_canvas_lookup": (
        "SELECT id FROM assignment WHERE canvas_assignment_id = 71005 AND course_id = 1"
    ),
    "idx_assignment_course_id": "SELECT id FROM assignment WHERE course_id = 3",
    "idx_course_canvas_lookup": (
        "SELECT id FROM course WHERE canvas_course_id = 5003 AND term_id = 4"
    ),
    "idx_grade_category_name_lookup": (
        "SELECT id FROM grade_category WHERE course_id = 3 AND name = 'Group 2'"
    ),
    "idx_assignment_last_synced": (
        "SELECT id FROM assignment WHERE last_synced_canvas < '2026-11-01T11:55:00+00:00'"
    ),
    "idx_course_last_synced": (
        "SELECT id FROM course WHERE last_synced_canvas < '2026-11-01T02:00:00+00:00'"
    ),
}


def test_every_index_has_a_query() -> None:
    assert set(QUERIES) == set(EXPECTED)


@pytest.fixture(scope="module")
def analyzed_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A Postgres database with every index, a few thousand rows, and fresh statistics."""
    if not os.environ.get("TEST_DATABASE_URL"):
        pytest.skip("needs TEST_DATABASE_URL (PostgreSQL)")
    with empty_database(tmp_path_factory.mktemp("explain")) as url:
        engine = engine_for(url)
        Base.metadata.create_all(engine)
        fill(engine, courses=60, assignments_per_course=50)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
        yield engine
        engine.dispose()


def _other_indexes(engine: Engine, spec: CanvasIndex) -> tuple[list[str], list[str]]:
    """Secondary indexes and unique constraints on the table, apart from ``spec`` itself."""
    inspector = inspect(engine)
    indexes = [i["name"] for i in inspector.get_indexes(spec.table) if i["name"] != spec.name]
    uniques = [u["name"] for u in inspector.get_unique_constraints(spec.table)]
    # A unique constraint's own index is reported by some versions as an index too.
    return [name for name in indexes if name not in uniques], uniques


@pytest.mark.postgres
@pytest.mark.parametrize("spec", CANVAS_INDEXES, ids=[spec.name for spec in CANVAS_INDEXES])
def test_explain_uses_the_index(analyzed_postgres: Engine, spec: CanvasIndex) -> None:
    """The planner picks the index for its query.

    Some indexes of the contract overlap (idx_assignment_canvas_id is a prefix of
    idx_assignment_canvas_lookup, and the unique (course_id, canvas_assignment_id) constraint
    covers idx_assignment_course_id), so with all of them present the planner may pick a
    sibling. To show that *this* index serves *its* query, the table's other secondary indexes
    are dropped inside a transaction that is rolled back. ``enable_seqscan = off`` keeps the
    small test tables from being read sequentially whatever the indexes are.
    """
    indexes, uniques = _other_indexes(analyzed_postgres, spec)
    with analyzed_postgres.connect() as conn:
        with conn.begin() as transaction:
            for name in indexes:
                conn.execute(text(f'DROP INDEX "{name}"'))
            for name in uniques:
                conn.execute(text(f'ALTER TABLE "{spec.table}" DROP CONSTRAINT "{name}"'))
            conn.execute(text("SET LOCAL enable_seqscan = off"))
            plan = "\n".join(conn.execute(text("EXPLAIN " + QUERIES[spec.name])).scalars())
            transaction.rollback()

    assert spec.name in plan, plan
    assert "Seq Scan" not in plan, plan


@pytest.mark.postgres
def test_explain_without_the_index_does_not_use_it(analyzed_postgres: Engine) -> None:
    """Guards the test above: with the index gone, the plan cannot name it."""
    spec = CANVAS_INDEXES[-1]  # idx_course_last_synced: no other index covers that column
    with analyzed_postgres.connect() as conn:
        with conn.begin() as transaction:
            conn.execute(text(f"DROP INDEX {spec.name}"))
            conn.execute(text("SET LOCAL enable_seqscan = off"))
            plan = "\n".join(conn.execute(text("EXPLAIN " + QUERIES[spec.name])).scalars())
            transaction.rollback()

    assert spec.name not in plan
    assert "Seq Scan" in plan
