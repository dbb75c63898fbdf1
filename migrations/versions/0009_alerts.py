"""Alerts (issue 15): ``alert_settings`` (a student's choices) and ``alert_delivery``.

``alert_delivery``'s unique (user_id, key, channel) is what keeps an alert from being sent
twice. Nothing existing is rewritten.

Revision ID: 0009_alerts
Revises: 0008_grading_periods
Create Date: 2026-11-29 21:20:00
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0009_alerts"
# Written as 0008 after 0007; main gained 0008_grading_periods meanwhile, so this follows it.
down_revision = "0008_grading_periods"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "alert_settings",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("on_grade", sa.Boolean(), nullable=False),
        sa.Column("on_course_grade", sa.Boolean(), nullable=False),
        sa.Column("grade_threshold", sa.Float(), nullable=True),
        sa.Column("on_missing", sa.Boolean(), nullable=False),
        sa.Column("on_due_soon", sa.Boolean(), nullable=False),
        sa.Column("on_reconnect", sa.Boolean(), nullable=False),
        sa.Column("email", sa.Boolean(), nullable=False),
        sa.Column("webhook_url_encrypted", sa.LargeBinary(), nullable=True),
        sa.Column("webhook_host", sa.String(length=255), nullable=True),
        sa.Column("quiet_start", sa.Integer(), nullable=True),
        sa.Column("quiet_end", sa.Integer(), nullable=True),
        sa.Column("digest", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_alert_settings_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_alert_settings")),
    )
    op.create_table(
        "alert_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=96), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("text", sa.String(length=1000), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("sent_at", UTC_DATETIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_alert_delivery_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_delivery")),
        sa.UniqueConstraint(
            "user_id", "key", "channel", name=op.f("uq_alert_delivery_user_id_key_channel")
        ),
    )
    op.create_index("ix_alert_delivery_user_id_status", "alert_delivery", ["user_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_alert_delivery_user_id_status", table_name="alert_delivery")
    op.drop_table("alert_delivery")
    op.drop_table("alert_settings")
