"""Automatic syncs and the calendar feed (issue 15).

``users.sync_interval_minutes`` (60 = hourly, 0 = off) and ``users.canvas_token_changed_at``
drive the scheduler (app.jobs.schedule); ``users.calendar_token_hash`` holds the SHA-256 of
the calendar feed's secret. Only columns and an index are added: no data is touched.

Revision ID: 0005_schedule_and_calendar
Revises: 0004_bigint_ids_and_course_state
Create Date: 2026-11-29 21:00:00
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0005_schedule_and_calendar"
down_revision = "0004_bigint_ids_and_course_state"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "users",
        sa.Column("sync_interval_minutes", sa.Integer(), server_default="60", nullable=False),
    )
    op.add_column(
        "users", sa.Column("canvas_token_changed_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("users", sa.Column("calendar_token_hash", sa.String(length=64), nullable=True))
    op.create_index(
        op.f("ix_users_calendar_token_hash"), "users", ["calendar_token_hash"], unique=True
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_users_calendar_token_hash"), table_name="users")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("calendar_token_hash")
        batch.drop_column("canvas_token_changed_at")
        batch.drop_column("sync_interval_minutes")
