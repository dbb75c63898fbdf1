"""Unsubscribe links that a later change outdates, and no unsalted email hashes (issue 21).

``alert_settings.changed_at``: when the student last changed their alert choices (Settings or
an unsubscribe link). A link issued before it does nothing, so an old email cannot turn
alerts off again after the student turned them back on. NULL (every existing row): no change
recorded yet, so only the link's own expiry applies.

``login_guard`` rows keyed ``email:<SHA-256 of the typed email>`` are deleted: the sign-in
guard now keys an email without an account by an HMAC keyed from the app's secret (still
``email:<hex>``; at upgrade time every such row is an old one).
They only slowed guesses at addresses that have no account, for at most 15 minutes, so
nothing a student relies on is lost; an account's own counter lives on ``users``.

Revision ID: 0015_alert_links_and_keyed_guard
Revises: 0013_oauth_client_scopes
Create Date: 2026-12-05 09:00:00
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0015_alert_links_and_keyed_guard"
down_revision = "0013_oauth_client_scopes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alert_settings") as batch:
        batch.add_column(sa.Column("changed_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(sa.text("DELETE FROM login_guard WHERE key LIKE 'email:%'"))


def downgrade() -> None:
    with op.batch_alter_table("alert_settings") as batch:
        batch.drop_column("changed_at")
