"""A no-change sync without a parse: the digest of each gradebook's raw response (issue 20).

``course.response_digest``: SHA-256 of the raw bytes of the gradebook request the stored rows
were parsed from; ``course.gradebook_hash``: the hash of those parsed rows alone (without the
grading periods that ``content_hash`` mixes in). When a sync receives the same bytes again it
skips the parse, the compare and the grade check (``app.sync.digest``). NULL (every existing
row): the next sync parses as before and fills them in.

Revision ID: 0019_gradebook_response_digest
Revises: 0018_gpa_and_planner
Create Date: 2026-12-05 09:10:00
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0019_gradebook_response_digest"
down_revision = "0018_gpa_and_planner"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("course") as batch:
        batch.add_column(sa.Column("response_digest", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("gradebook_hash", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("course") as batch:
        batch.drop_column("gradebook_hash")
        batch.drop_column("response_digest")
