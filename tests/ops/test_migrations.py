"""``flask --app app db upgrade`` builds exactly the models' schema, on SQLite and Postgres.

Each test gets its own empty database (see ``dbtools``) and drives the real CLI in a
subprocess, the way an operator would.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from app.models import Base
from app.models.indexes import CANVAS_INDEXES
from tests.dbtools import empty_database, engine_for, flask_db

APP_TABLES = {"users", "term", "course", "grade_category", "assignment", "sync_run"}


@pytest.fixture
def fresh_url(tmp_path: Path) -> Iterator[str]:
    with empty_database(tmp_path) as url:
        yield url


@pytest.fixture(scope="module")
def upgraded_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One database brought to head by `db upgrade`, shared by the tests that only read it."""
    tmp_path = tmp_path_factory.mktemp("upgraded")
    with empty_database(tmp_path) as url:
        flask_db(url, tmp_path, "upgrade")
        yield url


def schema_differences(url: str) -> list:
    """What Alembic's autogenerate would change to make the database match the models.

    Nothing is excluded: the partial unique index on sync_run, the naming convention's
    constraint names, the column types and the ten Canvas indexes are all compared.
    """
    engine = engine_for(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()


def canvas_indexes(url: str) -> dict[str, tuple[str, tuple[str, ...]]]:
    """The Canvas indexes present: name -> (table, columns)."""
    engine = engine_for(url)
    try:
        inspector = inspect(engine)
        found = {}
        for table in {spec.table for spec in CANVAS_INDEXES}:
            for index in inspector.get_indexes(table):
                if index["name"].startswith("idx_"):
                    found[index["name"]] = (table, tuple(index["column_names"]))
        return found
    finally:
        engine.dispose()


def revision(url: str) -> str:
    engine = engine_for(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    finally:
        engine.dispose()


def table_names(url: str) -> set[str]:
    engine = engine_for(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


EXPECTED_INDEXES = {spec.name: (spec.table, spec.columns) for spec in CANVAS_INDEXES}


def test_upgrade_builds_exactly_the_models(upgraded_url: str) -> None:
    assert APP_TABLES <= table_names(upgraded_url)
    assert schema_differences(upgraded_url) == []
    assert canvas_indexes(upgraded_url) == EXPECTED_INDEXES
    assert revision(upgraded_url) == "0025_gradebook_sizes"


@pytest.mark.slow
def test_db_check_finds_nothing_to_migrate(upgraded_url: str, tmp_path: Path) -> None:
    """`flask db check`, which developers run after editing models, agrees through env.py."""
    result = flask_db(upgraded_url, tmp_path, "check")
    assert "No new upgrade operations detected" in result.stdout + result.stderr


def test_migrated_schema_allows_one_active_sync_per_user(upgraded_url: str) -> None:
    """The partial unique index the job runner relies on exists and works after migrating."""
    engine = engine_for(upgraded_url)
    run = (
        "INSERT INTO sync_run (user_id, kind, status, created_at, courses_done, courses_total,"
        " requests) VALUES (:user, 'full', :status, CURRENT_TIMESTAMP, 0, 0, 0)"
    )
    try:
        with engine.begin() as conn:
            for user in (41, 42):
                conn.execute(
                    text(
                        "INSERT INTO users (id, email, password_hash, failed_logins, created_at)"
                        " VALUES (:id, :email, 'x', 0, CURRENT_TIMESTAMP)"
                    ),
                    {"id": user, "email": f"u{user}@example.edu"},
                )
            for status in ("succeeded", "failed", "running"):
                conn.execute(text(run), {"user": 41, "status": status})
            conn.execute(text(run), {"user": 42, "status": "queued"})  # another user: fine
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(text(run), {"user": 41, "status": "queued"})
    finally:
        engine.dispose()


@pytest.mark.slow
def test_the_comparison_notices_a_missing_index(fresh_url: str, tmp_path: Path) -> None:
    """Guards the test above: a schema that differs from the models is reported."""
    flask_db(fresh_url, tmp_path, "upgrade")
    engine = engine_for(fresh_url)
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX idx_course_last_synced"))
    engine.dispose()

    differences = schema_differences(fresh_url)
    assert [(d[0], d[1].name) for d in differences] == [("add_index", "idx_course_last_synced")]


@pytest.mark.slow
def test_downgrade_step_by_step_then_upgrade_again(fresh_url: str, tmp_path: Path) -> None:
    flask_db(fresh_url, tmp_path, "upgrade")
    assert {"grade_event", "alert_settings", "alert_delivery"} <= table_names(fresh_url)
    assert "service_heartbeat" in table_names(fresh_url)
    assert "api_token" in table_names(fresh_url)
    assert {"push_subscription", "notify_channel"} <= table_names(fresh_url)
    assert "progress_stream" not in table_names(fresh_url)  # progress is polled (0022)

    flask_db(fresh_url, tmp_path, "downgrade")
    assert revision(fresh_url) == "0022_progress_steps"
    engine = engine_for(fresh_url)
    assert "gradebook_size" not in {c["name"] for c in inspect(engine).get_columns("course")}
    engine.dispose()
    assert schema_differences(fresh_url) != []  # the models are ahead by the gradebook size

    flask_db(fresh_url, tmp_path, "downgrade")
    assert revision(fresh_url) == "0021_connection_sync_state"
    assert "progress_stream" in table_names(fresh_url)

    flask_db(fresh_url, tmp_path, "downgrade")
    assert revision(fresh_url) == "0023_api_tokens"
    engine = engine_for(fresh_url)
    assert "canvas_token_changed_at" in {c["name"] for c in inspect(engine).get_columns("users")}
    assert "rejected_at" not in {
        c["name"] for c in inspect(engine).get_columns("canvas_connection")}
    engine.dispose()

    flask_db(fresh_url, tmp_path, "downgrade")
    assert revision(fresh_url) == "0024_push_and_channels"
    assert "api_token" not in table_names(fresh_url)
    assert schema_differences(fresh_url) != []  # the models are ahead by the API tokens

    flask_db(fresh_url, tmp_path, "downgrade")
    assert revision(fresh_url) == "0020_operations"
    assert not {"push_subscription", "notify_channel"} & table_names(fresh_url)
    assert schema_differences(fresh_url) != []  # the models are ahead by the push tables

    flask_db(fresh_url, tmp_path, "downgrade")
    assert revision(fresh_url) == "0019_gradebook_response_digest"
    assert "service_heartbeat" not in table_names(fresh_url)
    engine = engine_for(fresh_url)
    assert "is_admin" not in {c["name"] for c in inspect(engine).get_columns("users")}
    engine.dispose()

    flask_db(fresh_url, tmp_path, "downgrade")
    assert revision(fresh_url) == "0018_gpa_and_planner"
    engine = engine_for(fresh_url)
    assert "response_digest" not in {c["name"] for c in inspect(engine).get_columns("course")}
    engine.dispose()
    assert schema_differences(fresh_url) != []  # the models are ahead by the byte digest

    flask_db(fresh_url, tmp_path, "downgrade")
    assert revision(fresh_url) == "0015_alert_links_and_keyed_guard"
    assert not {"gpa_settings", "gpa_connection", "gpa_course", "assignment_done"} \
        & table_names(fresh_url)
    assert schema_differences(fresh_url) != []  # the models are ahead by the GPA's tables

    flask_db(fresh_url, tmp_path, "downgrade")
    assert revision(fresh_url) == "0013_oauth_client_scopes"
    engine = engine_for(fresh_url)
    assert "changed_at" not in {c["name"] for c in inspect(engine).get_columns("alert_settings")}
    engine.dispose()
    assert schema_differences(fresh_url) != []  # the models are ahead by the links' stamp

    flask_db(fresh_url, tmp_path, "downgrade")
    assert revision(fresh_url) == "0012_counting_and_settling"
    engine = engine_for(fresh_url)
    assert "scopes" not in {c["name"] for c in inspect(engine).get_columns("canvas_oauth_client")}
    engine.dispose()
    assert schema_differences(fresh_url) != []  # the models are ahead by the key's scopes

    flask_db(fresh_url, tmp_path, "downgrade")
    assert revision(fresh_url) == "0011_period_details"
    engine = engine_for(fresh_url)
    assert "submission_types" not in {c["name"] for c in inspect(engine).get_columns("assignment")}
    assert "differs_since" not in {c["name"] for c in inspect(engine).get_columns("course")}
    engine.dispose()
    assert canvas_indexes(fresh_url) == EXPECTED_INDEXES  # the copied tables keep them
    assert schema_differences(fresh_url) != []  # the models are ahead by the counting rules

    flask_db(fresh_url, tmp_path, "downgrade")
    assert revision(fresh_url) == "0010_canvas_connections"
    assert schema_differences(fresh_url) != []  # the models are ahead by the period details

    flask_db(fresh_url, tmp_path, "downgrade")
    assert revision(fresh_url) == "0009_alerts"
    assert "canvas_connection" not in table_names(fresh_url)
    assert canvas_indexes(fresh_url) == EXPECTED_INDEXES

    flask_db(fresh_url, tmp_path, "downgrade")
    assert revision(fresh_url) == "0008_grading_periods"
    assert {"alert_settings", "alert_delivery"} & table_names(fresh_url) == set()
    assert "grade_event" in table_names(fresh_url)
    assert schema_differences(fresh_url) != []  # the models are ahead by the alerts

    flask_db(fresh_url, tmp_path, "downgrade")
    assert revision(fresh_url) == "0007_grade_events"
    assert "grading_period" not in table_names(fresh_url)
    assert canvas_indexes(fresh_url) == EXPECTED_INDEXES  # the copied tables keep them

    flask_db(fresh_url, tmp_path, "downgrade")
    assert revision(fresh_url) == "0006_user_time_zone"
    assert "grade_event" not in table_names(fresh_url)
    assert schema_differences(fresh_url) != []  # the models are ahead by the ledger

    flask_db(fresh_url, tmp_path, "downgrade")
    assert revision(fresh_url) == "0005_schedule_and_calendar"
    engine = engine_for(fresh_url)
    assert "time_zone" not in {c["name"] for c in inspect(engine).get_columns("users")}
    engine.dispose()

    flask_db(fresh_url, tmp_path, "downgrade")
    assert revision(fresh_url) == "0004_bigint_ids_and_course_state"
    assert canvas_indexes(fresh_url) == EXPECTED_INDEXES  # the copied users table keeps them

    flask_db(fresh_url, tmp_path, "downgrade")
    assert revision(fresh_url) == "0003_sessions_and_login_guard"
    assert canvas_indexes(fresh_url) == EXPECTED_INDEXES  # the copied tables keep them

    flask_db(fresh_url, tmp_path, "downgrade")
    assert revision(fresh_url) == "0002_canvas_indexes"
    assert {"login_guard", "progress_stream"} & table_names(fresh_url) == set()
    assert len(canvas_indexes(fresh_url)) == len(CANVAS_INDEXES)

    flask_db(fresh_url, tmp_path, "downgrade")
    assert canvas_indexes(fresh_url) == {}
    assert APP_TABLES <= table_names(fresh_url)
    assert revision(fresh_url) == "0001_initial"

    flask_db(fresh_url, tmp_path, "downgrade", "base")
    assert table_names(fresh_url) & APP_TABLES == set()

    flask_db(fresh_url, tmp_path, "upgrade")
    assert schema_differences(fresh_url) == []


@pytest.mark.slow
def test_index_migration_keeps_indexes_the_script_already_built(
    fresh_url: str, tmp_path: Path
) -> None:
    """A database indexed by add_canvas_indexes.py (here: 3 of the 10) upgrades cleanly."""
    flask_db(fresh_url, tmp_path, "upgrade", "0001_initial")
    engine = engine_for(fresh_url)
    with engine.begin() as conn:
        for spec in CANVAS_INDEXES[:3]:
            conn.execute(text(f"CREATE INDEX {spec.name} ON {spec.table} ({spec.columns[0]})"))
    engine.dispose()

    flask_db(fresh_url, tmp_path, "upgrade")

    assert canvas_indexes(fresh_url) == EXPECTED_INDEXES
    assert schema_differences(fresh_url) == []


@pytest.mark.slow
def test_upgrade_keeps_existing_rows(fresh_url: str, tmp_path: Path) -> None:
    flask_db(fresh_url, tmp_path, "upgrade", "0001_initial")
    engine = engine_for(fresh_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (id, email, password_hash, failed_logins, created_at)"
                " VALUES (1, 'a@example.edu', 'x', 0, CURRENT_TIMESTAMP)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO course (id, user_id, canvas_course_id, name, apply_group_weights,"
                " concluded) VALUES (7, 1, 4242, 'Économie 101', false, false)"
            )
        )
    flask_db(fresh_url, tmp_path, "upgrade")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, user_id, canvas_course_id, name FROM course"))
        assert rows.all() == [(7, 1, 4242, "Économie 101")]
        # 0008's new course flags are false on existing rows, its scores empty.
        flags = conn.execute(text("SELECT hide_final_grades, has_weighted_grading_periods,"
                                  " grading_scheme, our_current_score FROM course"))
        assert [tuple(row) for row in flags] == [(False, False, None, None)]
    engine.dispose()


@pytest.mark.slow
def test_upgrade_sql_prints_the_canvas_indexes(fresh_url: str, tmp_path: Path) -> None:
    """Offline mode (a DBA reviewing the DDL) emits all ten CREATE INDEX statements."""
    sql = flask_db(fresh_url, tmp_path, "upgrade", "--sql").stdout
    for spec in CANVAS_INDEXES:
        assert f"CREATE INDEX {spec.name} ON {spec.table}" in sql


@pytest.mark.postgres
@pytest.mark.parametrize("scheme", ["postgresql://", "postgres://"])
def test_plain_postgres_urls_work(fresh_url: str, tmp_path: Path, scheme: str) -> None:
    """Operators write DATABASE_URL without a driver; both spellings reach psycopg 3."""
    if not os.environ.get("TEST_DATABASE_URL"):
        pytest.skip("needs TEST_DATABASE_URL")
    assert fresh_url.startswith("postgresql://")
    url = scheme + fresh_url.split("://", 1)[1]

    flask_db(url, tmp_path, "upgrade")

    assert schema_differences(fresh_url) == []
    assert canvas_indexes(fresh_url) == EXPECTED_INDEXES


@pytest.mark.slow
def test_0015_drops_the_unsalted_email_hashes_and_keeps_the_rest(
    fresh_url: str, tmp_path: Path
) -> None:
    """The sign-in guard's rows for typed emails were unsalted SHA-256: 0015 deletes them."""
    flask_db(fresh_url, tmp_path, "upgrade", "0013_oauth_client_scopes")
    engine = engine_for(fresh_url)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO login_guard (key, failures) VALUES "
            "('email:' || :digest, 3), ('addr:10.0.0.1', 4)"), {"digest": "ab" * 32})
    flask_db(fresh_url, tmp_path, "upgrade")
    with engine.connect() as conn:
        keys = conn.execute(text("SELECT key, failures FROM login_guard ORDER BY key")).all()
    engine.dispose()
    assert [tuple(row) for row in keys] == [("addr:10.0.0.1", 4)]


def test_0021_moves_the_sync_state_onto_each_connection(fresh_url: str, tmp_path: Path) -> None:
    """An upgraded database behaves as before: the account's token stamp is each connection's,
    a token the scheduler held back stays held back (only the refused connection), a connection
    that synced has its baseline, an event names its course's connection; no row is lost."""
    flask_db(fresh_url, tmp_path, "upgrade", "0020_operations")
    engine = engine_for(fresh_url)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO users (id, email, password_hash, failed_logins, session_version, "
            "created_at, sync_interval_minutes, canvas_token_changed_at, is_admin) VALUES "
            "(1, 'a@example.edu', 'x', 0, 0, '2026-11-01 08:00:00', 60, "
            "'2026-11-01 09:00:00', false), "
            "(2, 'b@example.edu', 'x', 0, 0, '2026-11-01 08:00:00', 60, "
            "'2026-11-03 09:00:00', false)"))
        conn.execute(text(
            "INSERT INTO canvas_connection (id, user_id, base_url, auth_kind, "
            "access_token_encrypted, status, last_synced_at, created_at) VALUES "
            "(10, 1, 'https://a.example.edu', 'token', :t, 'needs_reconnect', NULL, "
            "'2026-11-01 08:00:00'), "
            "(11, 1, 'https://b.example.edu', 'token', :t, 'ok', '2026-11-01 10:00:00', "
            "'2026-11-01 08:00:00'), "
            "(20, 2, 'https://a.example.edu', 'token', :t, 'needs_reconnect', NULL, "
            "'2026-11-01 08:00:00')"), {"t": b"ciphertext"})
        conn.execute(text(
            "INSERT INTO course (id, user_id, connection_id, canvas_course_id, name, "
            "apply_group_weights, concluded, has_weighted_grading_periods, hide_final_grades, "
            "totals_for_all_periods) VALUES (5, 1, 11, 123, 'Biology', false, false, false, "
            "false, false)"))
        conn.execute(text(
            "INSERT INTO grade_event (user_id, course_id, canvas_course_id, kind, at) VALUES "
            "(1, 5, 123, 'grade_posted', '2026-11-01 10:00:00')"))
        # User 1's newest run failed on the token; user 2 saved a new token after theirs.
        conn.execute(text(
            "INSERT INTO sync_run (user_id, kind, status, created_at, finished_at, summary, "
            "courses_done, courses_total, requests) VALUES "
            "(1, 'full', 'succeeded', '2026-11-01 10:00:00', '2026-11-01 10:01:00', '{}', "
            "0, 0, 0), "
            "(1, 'incremental', 'failed', '2026-11-02 10:00:00', '2026-11-02 10:01:00', "
            "'{\"error_kind\": \"invalid_token\"}', 0, 0, 0), "
            "(2, 'incremental', 'failed', '2026-11-02 10:00:00', '2026-11-02 10:01:00', "
            "'{\"error_kind\": \"invalid_token\"}', 0, 0, 0)"))
    flask_db(fresh_url, tmp_path, "upgrade")
    with engine.connect() as conn:
        rows = {row.id: row for row in conn.execute(text(
            "SELECT id, token_changed_at, rejected_at, baseline_at, baseline_run_id "
            "FROM canvas_connection"))}
        event = conn.execute(text(
            "SELECT connection_id, sync_run_id FROM grade_event")).one()
        counts = conn.execute(text(
            "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM canvas_connection), "
            "(SELECT count(*) FROM course), (SELECT count(*) FROM grade_event)")).one()
    engine.dispose()
    assert tuple(counts) == (2, 3, 1, 1)
    assert str(rows[10].token_changed_at).startswith("2026-11-01 09:00:00")
    assert str(rows[10].rejected_at).startswith("2026-11-02 10:01:00")
    assert rows[11].rejected_at is None  # the healthy connection is not held back
    assert str(rows[11].baseline_at).startswith("2026-11-01 10:00:00")
    assert rows[11].baseline_run_id is None and rows[10].baseline_at is None
    assert rows[20].rejected_at is None  # a new token was saved after the refusal
    assert tuple(event) == (11, None)
