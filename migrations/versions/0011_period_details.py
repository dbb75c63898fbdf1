"""Grading periods read from ``GET /courses/:id/grading_periods``, and Canvas's own letters.

On ``course``: ``periods_digest`` (what the course list said about the periods when their
weights, close dates and closed flags were last read: read again only when it changes),
``totals_for_all_periods`` (Canvas's "Display Totals for 'All Grading Periods'"; False hides
the all-periods total) and ``canvas_period_current_grade`` (Canvas's letter for the current
period). Only adds: every existing row is kept.

Revision ID: 0011_period_details
Revises: 0010_canvas_connections
Create Date: 2026-12-05 12:00:00
"""

import sqlalchemy as sa
from alembic import context, op

# revision identifiers, used by Alembic.
revision = "0011_period_details"
down_revision = "0010_canvas_connections"
branch_labels = None
depends_on = None

COURSE_COLUMNS = (
    sa.Column("periods_digest", sa.String(length=64), nullable=True),
    sa.Column("totals_for_all_periods", sa.Boolean(), nullable=False,
              server_default=sa.true()),
    sa.Column("canvas_period_current_grade", sa.String(length=32), nullable=True),
)


def upgrade() -> None:
    for column in COURSE_COLUMNS:
        op.add_column("course", column.copy())
    if context.is_offline_mode() and op.get_context().dialect.name == "sqlite":
        return  # SQLite keeps the server default; the schema check runs online
    with op.batch_alter_table("course") as batch:
        batch.alter_column("totals_for_all_periods", server_default=None,
                           existing_type=sa.Boolean(), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("course") as batch:
        for column in COURSE_COLUMNS:
            batch.drop_column(column.name)
