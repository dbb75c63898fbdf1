"""The student's GPA entries and the planner's "done" marks (issue 22).

New tables only; no existing row is changed. ``gpa_settings`` (the scale per student),
``gpa_connection`` (default credits per Canvas instance), ``gpa_course`` (a course's credits,
left out of the GPA, or a retake replacing an earlier attempt) and ``assignment_done`` (the
planner's local checkbox, never sent to Canvas). Downgrading drops them, and with them what
the student typed.

Revision ID: 0018_gpa_and_planner
Revises: 0015_alert_links_and_keyed_guard
Create Date: 2026-12-05 08:40:00
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0018_gpa_and_planner"
down_revision = "0015_alert_links_and_keyed_guard"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gpa_settings",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("scale", sa.String(length=16), nullable=False),
        sa.Column("custom_scale", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE",
                                name=op.f("fk_gpa_settings_user_id_users")),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_gpa_settings")),
    )
    op.create_table(
        "gpa_connection",
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("default_credits", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["connection_id"], ["canvas_connection.id"], ondelete="CASCADE",
                                name=op.f("fk_gpa_connection_connection_id_canvas_connection")),
        sa.PrimaryKeyConstraint("connection_id", name=op.f("pk_gpa_connection")),
    )
    op.create_table(
        "gpa_course",
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("credits", sa.Float(), nullable=True),
        sa.Column("excluded", sa.Boolean(), nullable=False),
        sa.Column("replaces_course_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["course_id"], ["course.id"], ondelete="CASCADE",
                                name=op.f("fk_gpa_course_course_id_course")),
        sa.ForeignKeyConstraint(["replaces_course_id"], ["course.id"], ondelete="SET NULL",
                                name=op.f("fk_gpa_course_replaces_course_id_course")),
        sa.PrimaryKeyConstraint("course_id", name=op.f("pk_gpa_course")),
    )
    op.create_table(
        "assignment_done",
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["assignment_id"], ["assignment.id"], ondelete="CASCADE",
                                name=op.f("fk_assignment_done_assignment_id_assignment")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE",
                                name=op.f("fk_assignment_done_user_id_users")),
        sa.PrimaryKeyConstraint("assignment_id", name=op.f("pk_assignment_done")),
    )
    op.create_index(op.f("ix_assignment_done_user_id"), "assignment_done", ["user_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_assignment_done_user_id"), table_name="assignment_done")
    op.drop_table("assignment_done")
    op.drop_table("gpa_course")
    op.drop_table("gpa_connection")
    op.drop_table("gpa_settings")
