"""The size of each course's last gradebook, so the next sync can plan its requests (issue 20).

``course.gradebook_size``: how many assignments the last written gradebook held. A sync asks
for a big gradebook (``app.sync.fetch.SPLIT_AT`` or more) as concurrent pages instead of one
long response. NULL (every existing row, and a course not synced yet): one request, as before;
the next sync fills it in.

Revision ID: 0025_gradebook_sizes
Revises: 0022_progress_steps
Create Date: 2026-12-05 11:00:00
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0025_gradebook_sizes"
down_revision = "0022_progress_steps"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("course") as batch:
        batch.add_column(sa.Column("gradebook_size", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("course") as batch:
        batch.drop_column("gradebook_size")
