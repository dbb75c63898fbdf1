"""Phone and channel alerts (issue 22): Web Push subscriptions and ntfy channels.

Two new tables, ``push_subscription`` and ``notify_channel``; nothing existing is rewritten.

Revision ID: 0024_push_and_channels
Revises: 0020_operations
Create Date: 2026-12-05 10:50:00
"""

import sqlalchemy as sa
from alembic import op

UTC_DATETIME = sa.DateTime(timezone=True)

# revision identifiers, used by Alembic.
revision = "0024_push_and_channels"
down_revision = "0020_operations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "push_subscription",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("endpoint_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("endpoint_sha256", sa.String(length=64), nullable=False),
        sa.Column("endpoint_host", sa.String(length=255), nullable=False),
        sa.Column("p256dh", sa.String(length=128), nullable=False),
        sa.Column("auth", sa.String(length=32), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE",
                                name=op.f("fk_push_subscription_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_subscription")),
        sa.UniqueConstraint("user_id", "endpoint_sha256",
                            name=op.f("uq_push_subscription_user_id_endpoint_sha256")),
    )
    op.create_index(op.f("ix_push_subscription_user_id"), "push_subscription", ["user_id"])
    op.create_table(
        "notify_channel",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("url_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("masked", sa.String(length=300), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE",
                                name=op.f("fk_notify_channel_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_channel")),
    )
    op.create_index(op.f("ix_notify_channel_user_id"), "notify_channel", ["user_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_notify_channel_user_id"), table_name="notify_channel")
    op.drop_table("notify_channel")
    op.drop_index(op.f("ix_push_subscription_user_id"), table_name="push_subscription")
    op.drop_table("push_subscription")
