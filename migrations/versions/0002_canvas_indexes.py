"""The ten Canvas lookup indexes of the original design (issue #6).

add_canvas_indexes.py builds the same indexes on databases that predate this revision, so each
index is created only if the database does not have it yet: the script and this migration can
run in either order. Definitions live in app.models.indexes (one place for both).

Revision ID: 0002_canvas_indexes
Revises: 0001_initial
Create Date: 2026-11-29 01:50:00
"""

import sqlalchemy as sa
from alembic import context, op

from app.models.indexes import CANVAS_INDEX_NAMES, CANVAS_INDEXES

# revision identifiers, used by Alembic.
revision = "0002_canvas_indexes"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def _existing_index_names() -> set[str]:
    inspector = sa.inspect(op.get_bind())
    tables = {spec.table for spec in CANVAS_INDEXES}
    return {index["name"] for table in tables for index in inspector.get_indexes(table)}


def upgrade() -> None:
    # Offline (`db upgrade --sql`) there is no database to look at: emit every CREATE INDEX.
    existing = set() if context.is_offline_mode() else _existing_index_names()
    for spec in CANVAS_INDEXES:
        if spec.name not in existing:
            op.create_index(spec.name, spec.table, list(spec.columns), unique=False)


def downgrade() -> None:
    existing = CANVAS_INDEX_NAMES if context.is_offline_mode() else _existing_index_names()
    for spec in reversed(CANVAS_INDEXES):
        if spec.name in existing:
            op.drop_index(spec.name, table_name=spec.table)
