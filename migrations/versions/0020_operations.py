"""Running it for a school (issue 23): admin accounts, the scheduler's heartbeat, request ids.

``users.is_admin`` (false for every existing account), ``service_heartbeat`` (one row per
background service, read by ``/readyz``) and ``sync_run.request_id`` (the id that follows a
Sync click through the logs). Nothing existing is rewritten.

Revision ID: 0020_operations
Revises: 0019_gradebook_response_digest
Create Date: 2026-12-05 08:30:00
"""

import sqlalchemy as sa
from alembic import op

UTC_DATETIME = sa.DateTime(timezone=True)

# revision identifiers, used by Alembic.
revision = "0020_operations"
down_revision = "0019_gradebook_response_digest"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (SQLite supports it with a constant default): no table copy.
    op.add_column("users", sa.Column("is_admin", sa.Boolean(), server_default=sa.false(),
                                     nullable=False))
    op.add_column("sync_run", sa.Column("request_id", sa.String(length=64), nullable=True))
    op.create_table(
        "service_heartbeat",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("beat_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_service_heartbeat")),
    )


def downgrade() -> None:
    op.drop_table("service_heartbeat")
    with op.batch_alter_table("sync_run") as batch:
        batch.drop_column("request_id")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("is_admin")
