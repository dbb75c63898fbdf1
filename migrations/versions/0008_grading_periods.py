"""Grading periods, grading schemes, late deductions and the grade check (issue 12).

A new ``grading_period`` table; on ``course`` the period and scheme flags, Canvas's current
period score and the grade check's results; on ``assignment`` the submission's grading period and
``entered_score``. Only adds: every existing row is kept (the next sync
fills the new columns, since the parser version changed).

Revision ID: 0008_grading_periods
Revises: 0007_grade_events
Create Date: 2026-11-29 21:00:00
"""

import sqlalchemy as sa
from alembic import context, op

# revision identifiers, used by Alembic.
revision = "0008_grading_periods"
# Written as 0005 after 0004; main gained 0005..0007 meanwhile, so this revision follows
# them (one head). ``assignment.points_deducted`` came with 0007.
down_revision = "0007_grade_events"
branch_labels = None
depends_on = None

COURSE_COLUMNS = (
    sa.Column("has_weighted_grading_periods", sa.Boolean(), nullable=False,
              server_default=sa.false()),
    sa.Column("hide_final_grades", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("grading_standard_id", sa.BigInteger(), nullable=True),
    sa.Column("grading_scheme", sa.JSON(), nullable=True),
    sa.Column("canvas_current_period_id", sa.BigInteger(), nullable=True),
    sa.Column("canvas_period_current_score", sa.Float(), nullable=True),
    sa.Column("our_current_score", sa.Float(), nullable=True),
    sa.Column("score_difference", sa.Float(), nullable=True),
    sa.Column("period_score_difference", sa.Float(), nullable=True),
)
ASSIGNMENT_COLUMNS = (
    sa.Column("entered_score", sa.Float(), nullable=True),
    sa.Column("grading_period_id", sa.BigInteger(), nullable=True),
)
# Server defaults fill existing rows; the models set the values themselves.
DEFAULTED = ("has_weighted_grading_periods", "hide_final_grades")


def upgrade() -> None:
    op.create_table(
        "grading_period",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("canvas_grading_period_id", sa.BigInteger(), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("weight", sa.Float(), nullable=True),
        sa.Column("start_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("close_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("is_closed", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["course_id"], ["course.id"],
            name=op.f("fk_grading_period_course_id_course"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grading_period")),
        sa.UniqueConstraint(
            "course_id", "canvas_grading_period_id",
            name=op.f("uq_grading_period_course_id_canvas_grading_period_id"),
        ),
    )
    for column in COURSE_COLUMNS:
        op.add_column("course", column.copy())
    for column in ASSIGNMENT_COLUMNS:
        op.add_column("assignment", column.copy())
    if context.is_offline_mode() and op.get_context().dialect.name == "sqlite":
        return  # SQLite keeps the server default; the schema check runs online
    with op.batch_alter_table("course") as batch:
        for name in DEFAULTED:
            batch.alter_column(name, server_default=None, existing_type=sa.Boolean(),
                               existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("assignment") as batch:
        for column in ASSIGNMENT_COLUMNS:
            batch.drop_column(column.name)
    with op.batch_alter_table("course") as batch:
        for column in COURSE_COLUMNS:
            batch.drop_column(column.name)
    op.drop_table("grading_period")
