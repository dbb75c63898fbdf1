"""Canvas's counting rules and a grade check that waits for Canvas (issue 18).

``assignment.submission_types``: Canvas's own list, comma-joined as Canvas stores it; Canvas's
grade calculator leaves out an assignment whose only type is ``not_graded`` or ``wiki_page``
(canvas-lms ``Assignment.gradeable``). NULL on rows synced before: the next sync fills it
(the parser version moved, so every course is rewritten once).

``course.differs_since`` / ``course.difference_status``: Canvas recomputes a student's totals
in a background job after a grade changes, so a difference seen right after a change may be
Canvas catching up. The sync records when it first saw the current difference and whether it
outlived Canvas's recompute (``settling``, ``persisted``, ``aged``). Nullable columns: no data
to move.

Revision ID: 0012_counting_and_settling
Revises: 0011_period_details
Create Date: 2026-12-05 08:00:00
"""

import sqlalchemy as sa
from alembic import context, op

# revision identifiers, used by Alembic.
revision = "0012_counting_and_settling"
down_revision = "0011_period_details"
branch_labels = None
depends_on = None

COLUMNS = (
    ("assignment", "submission_types", sa.String(length=255)),
    ("course", "differs_since", sa.DateTime(timezone=True)),
    ("course", "difference_status", sa.String(length=16)),
)


def upgrade() -> None:
    for table, name, kind in COLUMNS:
        op.add_column(table, sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    offline_sqlite = context.is_offline_mode() and op.get_context().dialect.name == "sqlite"
    for table, name, _kind in reversed(COLUMNS):
        if offline_sqlite:
            op.drop_column(table, name)  # `--sql` cannot reflect a table to copy it
        else:
            with op.batch_alter_table(table) as batch:
                batch.drop_column(name)
