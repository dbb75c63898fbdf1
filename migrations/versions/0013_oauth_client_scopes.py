"""The scopes each developer key asks Canvas for (issue 18): ``canvas_oauth_client.scopes``.

NULL (every existing key) asks for GradeSync's own list (``app/connections/scopes.py``); an
operator sets a key's own list with ``flask canvas oauth-client add --scope ...``. Nothing
existing is rewritten.

Revision ID: 0013_oauth_client_scopes
Revises: 0012_counting_and_settling
Create Date: 2026-12-05 08:00:00
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0013_oauth_client_scopes"
down_revision = "0012_counting_and_settling"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("canvas_oauth_client") as batch:
        batch.add_column(sa.Column("scopes", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("canvas_oauth_client") as batch:
        batch.drop_column("scopes")
