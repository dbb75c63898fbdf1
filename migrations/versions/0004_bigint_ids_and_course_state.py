"""64-bit Canvas ids and the course's ``missing_since`` (issue 12).

Canvas ids are global ids (``shard * 10**13 + local id``): every Canvas id column becomes
BIGINT. ``course.missing_since`` marks a course absent from every course list that Canvas has
not (yet) confirmed as gone. Data is kept: Postgres widens the columns in place, SQLite copies
each table (``batch_alter_table``).

Revision ID: 0004_bigint_ids_and_course_state
Revises: 0002_canvas_indexes
Create Date: 2026-11-29 20:30:00
"""

import sqlalchemy as sa
from alembic import context, op

# revision identifiers, used by Alembic.
revision = "0004_bigint_ids_and_course_state"
down_revision = "0003_sessions_and_login_guard"
branch_labels = None
depends_on = None

# (table, column, nullable)
ID_COLUMNS: tuple[tuple[str, str, bool], ...] = (
    ("users", "canvas_user_id", True),
    ("term", "canvas_term_id", False),
    ("course", "canvas_course_id", False),
    ("grade_category", "canvas_group_id", False),
    ("assignment", "canvas_assignment_id", False),
    ("assignment", "canvas_course_id", False),
)


def _retype(old: sa.types.TypeEngine, new: sa.types.TypeEngine) -> None:
    if context.is_offline_mode() and op.get_context().dialect.name == "sqlite":
        # `db upgrade --sql` cannot reflect a table to copy it; SQLite's INTEGER already holds
        # 64-bit values, so the offline script only adds the column.
        return
    tables: dict[str, list[tuple[str, bool]]] = {}
    for table, column, nullable in ID_COLUMNS:
        tables.setdefault(table, []).append((column, nullable))
    for table, columns in tables.items():
        with op.batch_alter_table(table) as batch:
            for column, nullable in columns:
                batch.alter_column(
                    column, existing_type=old, type_=new, existing_nullable=nullable
                )


def upgrade() -> None:
    _retype(sa.Integer(), sa.BigInteger())
    op.add_column("course", sa.Column("missing_since", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    if context.is_offline_mode() and op.get_context().dialect.name == "sqlite":
        op.drop_column("course", "missing_since")
    else:
        with op.batch_alter_table("course") as batch:
            batch.drop_column("missing_since")
    _retype(sa.BigInteger(), sa.Integer())
