"""The grade ledger (issue 15): ``grade_event`` and the assignment's late deduction.

``grade_event`` keeps one row per change a sync saw, indexed for "this user's latest" and for a
course's own history. ``assignment.points_deducted`` is Canvas's late-policy deduction, which
the ledger reports as ``late_penalty``. Nothing existing is rewritten.

Revision ID: 0007_grade_events
Revises: 0006_user_time_zone
Create Date: 2026-11-29 21:00:00
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0007_grade_events"
down_revision = "0006_user_time_zone"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "grade_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=True),
        sa.Column("canvas_course_id", sa.BigInteger(), nullable=False),
        sa.Column("canvas_assignment_id", sa.BigInteger(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_grade_event_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["course_id"], ["course.id"], name=op.f("fk_grade_event_course_id_course"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grade_event")),
    )
    op.create_index("ix_grade_event_user_id_at", "grade_event", ["user_id", "at"])
    op.create_index("ix_grade_event_course_id_at", "grade_event", ["course_id", "at"])
    with op.batch_alter_table("assignment") as batch:
        batch.add_column(sa.Column("points_deducted", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("assignment") as batch:
        batch.drop_column("points_deducted")
    op.drop_index("ix_grade_event_course_id_at", table_name="grade_event")
    op.drop_index("ix_grade_event_user_id_at", table_name="grade_event")
    op.drop_table("grade_event")
