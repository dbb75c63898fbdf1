"""Sessions that end, login protection shared by processes, open progress streams.

- ``users.session_version``: part of every session and remember cookie; logout raises it.
- ``login_guard``: failure counters per unknown email (hashed), per client address and for
  registrations per address.
- ``progress_stream``: the progress streams open now, for the per-user cap.

Revision ID: 0003_sessions_and_login_guard
Revises: 0002_canvas_indexes
Create Date: 2026-12-02 10:00:00
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0003_sessions_and_login_guard"
down_revision = "0002_canvas_indexes"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("session_version", sa.Integer(), server_default="0", nullable=False)
        )
    op.create_table(
        "login_guard",
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_failure_at", UTC_DATETIME, nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_guard")),
    )
    op.create_table(
        "progress_stream",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("opened_at", UTC_DATETIME, nullable=False),
        sa.Column("seen_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_progress_stream_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_progress_stream")),
    )
    op.create_index(
        op.f("ix_progress_stream_user_id"), "progress_stream", ["user_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_progress_stream_user_id"), table_name="progress_stream")
    op.drop_table("progress_stream")
    op.drop_table("login_guard")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("session_version")
