"""Canvas connections as their own records, and OAuth2 developer keys (issue 14).

Each user's single Canvas URL, token, Canvas name and last sync time move into a
``canvas_connection`` row, and every term and course is linked to it (``connection_id``); the
natural keys become (connection, Canvas id), so two Canvas instances with the same course ids
never collide. Every row is kept: a user who had disconnected but still has synced rows gets a
connection without an address (status ``disconnected``) that holds them.

Downgrade puts the first connection back on the user; it refuses when a user has more than one
connection (their rows could collide).

Revision ID: 0010_canvas_connections
Revises: 0009_alerts
Create Date: 2026-11-29 21:00:00
"""

import sqlalchemy as sa
from alembic import context, op

# revision identifiers, used by Alembic.
revision = "0010_canvas_connections"
down_revision = "0009_alerts"
branch_labels = None
depends_on = None

USER_COLUMNS = (
    "canvas_base_url",
    "canvas_token_encrypted",
    "canvas_user_id",
    "canvas_user_name",
    "last_canvas_sync_at",
)
# (table, the Canvas id column)
LINKED = (("term", "canvas_term_id"), ("course", "canvas_course_id"))


def _offline_sqlite() -> bool:
    # `db upgrade --sql` cannot reflect a SQLite table to copy it.
    return context.is_offline_mode() and op.get_context().dialect.name == "sqlite"


def upgrade() -> None:
    op.create_table(
        "canvas_connection",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=True),
        sa.Column("base_url", sa.String(length=255), nullable=True),
        sa.Column("auth_kind", sa.String(length=16), server_default="token", nullable=False),
        sa.Column("canvas_user_id", sa.BigInteger(), nullable=True),
        sa.Column("canvas_user_name", sa.String(length=255), nullable=True),
        sa.Column("access_token_encrypted", sa.LargeBinary(), nullable=True),
        sa.Column("refresh_token_encrypted", sa.LargeBinary(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=32), server_default="ok", nullable=False),
        sa.Column("last_synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"],
            name=op.f("fk_canvas_connection_user_id_users"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_canvas_connection")),
        sa.UniqueConstraint(
            "user_id", "base_url", name=op.f("uq_canvas_connection_user_id_base_url")
        ),
    )
    op.create_index(
        op.f("ix_canvas_connection_user_id"), "canvas_connection", ["user_id"], unique=False
    )
    op.create_table(
        "canvas_oauth_client",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("base_url", sa.String(length=255), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("client_secret_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_canvas_oauth_client")),
        sa.UniqueConstraint("base_url", name=op.f("uq_canvas_oauth_client_base_url")),
    )
    # One connection per user who has an address, a token or synced rows.
    op.execute(
        "INSERT INTO canvas_connection (user_id, base_url, auth_kind, canvas_user_id,"
        " canvas_user_name, access_token_encrypted, status, last_synced_at, created_at)"
        " SELECT id, canvas_base_url, 'token', canvas_user_id, canvas_user_name,"
        " canvas_token_encrypted,"
        " CASE WHEN canvas_base_url IS NOT NULL AND canvas_token_encrypted IS NOT NULL"
        " THEN 'ok' ELSE 'disconnected' END,"
        " last_canvas_sync_at, CURRENT_TIMESTAMP FROM users"
        " WHERE canvas_base_url IS NOT NULL OR canvas_token_encrypted IS NOT NULL"
        " OR EXISTS (SELECT 1 FROM term WHERE term.user_id = users.id)"
        " OR EXISTS (SELECT 1 FROM course WHERE course.user_id = users.id)"
    )
    for table, key in LINKED:
        op.add_column(table, sa.Column("connection_id", sa.Integer(), nullable=True))
        op.execute(
            f"UPDATE {table} SET connection_id = (SELECT c.id FROM canvas_connection c"  # noqa: S608
            f" WHERE c.user_id = {table}.user_id)"
        )
        if _offline_sqlite():
            continue
        with op.batch_alter_table(table) as batch:
            batch.alter_column("connection_id", existing_type=sa.Integer(), nullable=False)
            batch.create_foreign_key(
                op.f(f"fk_{table}_connection_id_canvas_connection"),
                "canvas_connection", ["connection_id"], ["id"], ondelete="CASCADE",
            )
            batch.drop_constraint(op.f(f"uq_{table}_user_id_{key}"), type_="unique")
            batch.create_unique_constraint(
                op.f(f"uq_{table}_connection_id_{key}"), ["connection_id", key]
            )
            batch.create_index(op.f(f"ix_{table}_connection_id"), ["connection_id"])
    if not _offline_sqlite():
        with op.batch_alter_table("users") as batch:
            for column in USER_COLUMNS:
                batch.drop_column(column)


def downgrade() -> None:
    bind = op.get_bind()
    if not context.is_offline_mode():
        crowded = bind.execute(
            sa.text(
                "SELECT user_id FROM canvas_connection GROUP BY user_id HAVING COUNT(*) > 1"
            )
        ).first()
        if crowded is not None:
            raise RuntimeError(
                f"user {crowded[0]} has several Canvas connections: remove all but one in "
                "Settings before downgrading below 0010_canvas_connections"
            )
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("canvas_base_url", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("canvas_token_encrypted", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("canvas_user_id", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("canvas_user_name", sa.String(length=255), nullable=True))
        batch.add_column(
            sa.Column("last_canvas_sync_at", sa.DateTime(timezone=True), nullable=True)
        )
    for column, source in (
        ("canvas_base_url", "base_url"),
        ("canvas_token_encrypted", "access_token_encrypted"),
        ("canvas_user_id", "canvas_user_id"),
        ("canvas_user_name", "canvas_user_name"),
        ("last_canvas_sync_at", "last_synced_at"),
    ):
        op.execute(
            f"UPDATE users SET {column} = (SELECT c.{source} FROM canvas_connection c"  # noqa: S608
            " WHERE c.user_id = users.id)"
        )
    for table, key in LINKED:
        with op.batch_alter_table(table) as batch:
            batch.drop_index(op.f(f"ix_{table}_connection_id"))
            batch.drop_constraint(op.f(f"uq_{table}_connection_id_{key}"), type_="unique")
            batch.create_unique_constraint(op.f(f"uq_{table}_user_id_{key}"), ["user_id", key])
            batch.drop_constraint(
                op.f(f"fk_{table}_connection_id_canvas_connection"), type_="foreignkey"
            )
            batch.drop_column("connection_id")
    op.drop_table("canvas_oauth_client")
    op.drop_index(op.f("ix_canvas_connection_user_id"), table_name="canvas_connection")
    op.drop_table("canvas_connection")
