"""The connection is the unit of sync state (issue 19).

``canvas_connection`` gains ``token_changed_at``, ``rejected_at``, ``baseline_at`` and
``baseline_run_id`` (beside its ``last_synced_at``); ``grade_event`` gains ``sync_run_id`` and
``connection_id``. ``users.canvas_token_changed_at`` moves onto each connection and is dropped:
nothing reads it any more.

Backfill, so an upgraded database behaves as before:

- every connection's ``token_changed_at`` is its user's old stamp;
- a connection that synced has a baseline (``baseline_at`` = its ``last_synced_at``, the run
  unknown);
- a token the scheduler was holding back stays held back: when a user's newest run failed
  because Canvas refused the token (or none was usable) and no token was saved since, its
  ``needs_reconnect`` connections are stamped rejected at that run's end (all its usable ones
  when none is marked, as for a token this key cannot decrypt);
- an event's ``connection_id`` is its course's. Runs were not recorded on events: older events
  keep a NULL ``sync_run_id`` (no finished run's alerts are chosen again).

No row is deleted.

Revision ID: 0021_connection_sync_state
Revises: 0023_api_tokens (main's head when this branch last merged it; numbered 0021 by the
lead, who re-chains at merge)
Create Date: 2026-12-05 10:40:00
"""

import sqlalchemy as sa
from alembic import context, op

UTC_DATETIME = sa.DateTime(timezone=True)
RECONNECT_KINDS = ("invalid_token", "not_connected")

# revision identifiers, used by Alembic.
revision = "0021_connection_sync_state"
down_revision = "0023_api_tokens"
branch_labels = None
depends_on = None

connection = sa.table(
    "canvas_connection",
    sa.column("id", sa.Integer), sa.column("user_id", sa.Integer),
    sa.column("base_url", sa.String), sa.column("access_token_encrypted", sa.LargeBinary),
    sa.column("status", sa.String), sa.column("last_synced_at", UTC_DATETIME),
    sa.column("token_changed_at", UTC_DATETIME), sa.column("rejected_at", UTC_DATETIME),
    sa.column("baseline_at", UTC_DATETIME),
)
users = sa.table("users", sa.column("id", sa.Integer),
                 sa.column("canvas_token_changed_at", UTC_DATETIME))
sync_run = sa.table(
    "sync_run", sa.column("id", sa.Integer), sa.column("user_id", sa.Integer),
    sa.column("status", sa.String), sa.column("created_at", UTC_DATETIME),
    sa.column("finished_at", UTC_DATETIME), sa.column("summary", sa.JSON),
)


def _offline_sqlite() -> bool:
    # `db upgrade --sql` cannot reflect a SQLite table to copy it.
    return context.is_offline_mode() and op.get_context().dialect.name == "sqlite"


def upgrade() -> None:
    for name in ("token_changed_at", "rejected_at", "baseline_at"):
        op.add_column("canvas_connection", sa.Column(name, UTC_DATETIME, nullable=True))
    op.add_column("canvas_connection", sa.Column("baseline_run_id", sa.Integer(), nullable=True))
    op.add_column("grade_event", sa.Column("sync_run_id", sa.Integer(), nullable=True))
    op.add_column("grade_event", sa.Column("connection_id", sa.Integer(), nullable=True))
    op.create_index("ix_grade_event_sync_run_id", "grade_event", ["sync_run_id"])
    _backfill()
    if _offline_sqlite():
        return
    with op.batch_alter_table("grade_event") as batch:
        batch.create_foreign_key(
            op.f("fk_grade_event_connection_id_canvas_connection"), "canvas_connection",
            ["connection_id"], ["id"], ondelete="SET NULL",
        )
    with op.batch_alter_table("users") as batch:
        batch.drop_column("canvas_token_changed_at")


def _backfill() -> None:
    """Plain statements (no reads in Python), so ``db upgrade --sql`` prints them too."""
    stamp = (sa.select(users.c.canvas_token_changed_at)
             .where(users.c.id == connection.c.user_id).scalar_subquery())
    op.execute(sa.update(connection).values(token_changed_at=stamp))
    op.execute(sa.update(connection).where(connection.c.last_synced_at.is_not(None))
               .values(baseline_at=connection.c.last_synced_at))
    op.execute(sa.text(
        "UPDATE grade_event SET connection_id = (SELECT course.connection_id FROM course "
        "WHERE course.id = grade_event.course_id) WHERE course_id IS NOT NULL"
    ))
    # The user's newest run, if it failed because the token was refused (or none was usable):
    # when it ended. Stamped on the user's needs_reconnect connections, or on all usable ones
    # when none is marked, unless a token was saved after it.
    runs = sync_run.alias("runs")
    newest = (sa.select(sa.func.max(runs.c.id))
              .where(runs.c.user_id == connection.c.user_id).scalar_subquery())
    failed_at = (
        sa.select(sa.func.coalesce(sync_run.c.finished_at, sync_run.c.created_at))
        .where(sync_run.c.id == newest, sync_run.c.status == "failed",
               sync_run.c.summary["error_kind"].as_string().in_(RECONNECT_KINDS))
        .scalar_subquery()
    )
    other = connection.alias("other")
    marked = sa.exists().where(
        other.c.user_id == connection.c.user_id, other.c.status == "needs_reconnect",
        other.c.base_url.is_not(None), other.c.access_token_encrypted.is_not(None),
    )
    op.execute(
        sa.update(connection)
        .where(
            connection.c.base_url.is_not(None),
            connection.c.access_token_encrypted.is_not(None),
            sa.or_(connection.c.status == "needs_reconnect", ~marked),
            failed_at.is_not(None),
            sa.or_(connection.c.token_changed_at.is_(None),
                   connection.c.token_changed_at <= failed_at),
        )
        .values(rejected_at=failed_at)
    )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("canvas_token_changed_at", UTC_DATETIME, nullable=True))
    newest = (sa.select(sa.func.max(connection.c.token_changed_at))
              .where(connection.c.user_id == users.c.id).scalar_subquery())
    op.get_bind().execute(sa.update(users).values(canvas_token_changed_at=newest))
    with op.batch_alter_table("grade_event") as batch:
        batch.drop_index("ix_grade_event_sync_run_id")
        batch.drop_constraint(op.f("fk_grade_event_connection_id_canvas_connection"),
                              type_="foreignkey")
        batch.drop_column("connection_id")
        batch.drop_column("sync_run_id")
    with op.batch_alter_table("canvas_connection") as batch:
        for name in ("baseline_run_id", "baseline_at", "rejected_at", "token_changed_at"):
            batch.drop_column(name)
