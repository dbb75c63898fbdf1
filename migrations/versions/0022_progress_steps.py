"""Progress as data (issue 19): the page polls the run's status, so open streams are not counted.

Drops ``progress_stream`` (the rows that capped Server-Sent Events streams per user): the
progress page now polls ``status.json`` with an ETag and holds no thread between polls. Its
rows only ever described streams open at that moment, so nothing of a student's is lost.
Course steps are JSON inside ``sync_run.summary`` already: no column changes.

Revision ID: 0022_progress_steps
Revises: 0021_connection_sync_state
Create Date: 2026-12-05 11:00:00
"""

import sqlalchemy as sa
from alembic import op

UTC_DATETIME = sa.DateTime(timezone=True)

# revision identifiers, used by Alembic.
revision = "0022_progress_steps"
down_revision = "0021_connection_sync_state"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index(op.f("ix_progress_stream_user_id"), table_name="progress_stream")
    op.drop_table("progress_stream")


def downgrade() -> None:
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
