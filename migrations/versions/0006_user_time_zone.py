"""The student's time zone on ``users`` (issue 12): dates are shown in it, never as UTC dates.

An IANA name from the student's Canvas profile (``time_zone``), changeable in Settings; NULL
until the next connect or connection test reads it. A nullable column: no data to move.

Revision ID: 0006_user_time_zone
Revises: 0005_schedule_and_calendar
Create Date: 2026-11-29 21:00:00
"""

import sqlalchemy as sa
from alembic import context, op

# revision identifiers, used by Alembic.
revision = "0006_user_time_zone"
down_revision = "0005_schedule_and_calendar"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("time_zone", sa.String(length=64), nullable=True))


def downgrade() -> None:
    if context.is_offline_mode() and op.get_context().dialect.name == "sqlite":
        op.drop_column("users", "time_zone")  # `--sql` cannot reflect a table to copy it
    else:
        with op.batch_alter_table("users") as batch:
            batch.drop_column("time_zone")
