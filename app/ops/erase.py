"""A student's right to leave: revoke every Canvas grant, then delete every row of theirs.

Which rows are a user's is read from the schema itself, not from a hand-kept list: a row is the
user's when a foreign key leads from it to the ``users`` row, directly (``user_id``) or through
rows that are (``assignment`` → ``course`` → ``users``). A table added later is covered the day
it is added. The one table without a foreign key, ``login_guard``, may hold the email's keyed
hash (failed sign-ins typed before the account existed).

This is the only place that deletes a student's account, and only on their explicit request
(the Settings form with their password, or ``flask user delete EMAIL``).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import ColumnElement, Table, delete, false, or_, select

from app.connections import user_connections
from app.connections.tokens import log_out
from app.extensions import db
from app.models import Base, LoginGuard, SyncRun, User
from app.models.sync_run import ACTIVE_STATUSES

logger = logging.getLogger(__name__)


class DeletionRefused(Exception):
    """The account cannot be deleted right now; the message says why, in one line."""


@dataclass
class Deletion:
    """What was deleted: rows per table, and the Canvas grants logged out."""

    email: str
    rows: dict[str, int] = field(default_factory=dict)
    canvas_logouts: int = 0

    @property
    def total(self) -> int:
        return sum(self.rows.values())

    def lines(self) -> list[str]:
        said = [f"Deleted the account {self.email}: {self.total} row(s)."]
        said += [f"  {table}: {count}" for table, count in sorted(self.rows.items()) if count]
        said.append(f"  Canvas sign-ins revoked: {self.canvas_logouts}")
        return said


def owned_rows(table: Table, user_id: int, seen: frozenset[str] = frozenset()
               ) -> ColumnElement[bool]:
    """A condition true for exactly the rows of ``table`` that belong to ``user_id``."""
    if table.name == User.__tablename__:
        return table.c.id == user_id
    if table.name == LoginGuard.__tablename__:
        return table.c.key == guard_key(_email(user_id))
    conditions: list[ColumnElement[bool]] = []
    for fk in table.foreign_keys:
        parent = fk.column.table
        if not isinstance(parent, Table) or parent is table or parent.name in seen:
            continue
        parent_rows = owned_rows(parent, user_id, seen | {table.name})
        if parent.name == User.__tablename__:
            conditions.append(fk.parent == user_id)
        else:
            conditions.append(fk.parent.in_(select(fk.column).where(parent_rows)))
    return or_(false(), *conditions)


def guard_key(email: str) -> str:
    """The login guard's row for an email typed before the account existed: the same keyed
    hash as ``app.pages.auth.throttle._email_key`` (tests/pages/test_account_deletion.py makes the
    row through a real failed sign-in, so the two cannot drift apart unnoticed)."""
    secret = str(current_app.config["SECRET_KEY"]).encode()
    key = hmac.new(secret, b"gradesync login guard: typed emails", hashlib.sha256).digest()
    return "email:" + hmac.new(key, email.encode(), hashlib.sha256).hexdigest()


def _email(user_id: int) -> str:
    user = db.session.get(User, user_id)
    return user.email if user is not None else ""


def delete_account(user: User) -> Deletion:
    """Log out every Canvas connection at Canvas, then delete every row of ``user``; commits.

    Refused while a sync of theirs is queued or running (it would write rows back).
    """
    active = db.session.scalar(select(SyncRun.id).where(
        SyncRun.user_id == user.id, SyncRun.status.in_(ACTIVE_STATUSES)).limit(1))
    if active is not None:
        raise DeletionRefused("a sync of this account is running: wait until it ends, then "
                              "delete the account")
    report = Deletion(email=user.email)
    for connection in user_connections(user.id):
        if connection.auth_kind == "oauth" and connection.access_token_encrypted:
            log_out(connection)  # best effort, as when disconnecting: never blocks leaving
            report.canvas_logouts += 1
    user_id, key = user.id, guard_key(user.email)
    conditions = {t.name: owned_rows(t, user_id) for t in Base.metadata.sorted_tables}
    conditions[LoginGuard.__tablename__] = LoginGuard.__table__.c.key == key
    db.session.expunge_all()
    for table in reversed(Base.metadata.sorted_tables):  # children before their parents
        result = db.session.execute(delete(table).where(conditions[table.name]))
        report.rows[table.name] = int(getattr(result, "rowcount", 0) or 0)
    db.session.commit()
    logger.info("account %s deleted at its owner's request (%d rows)", user_id, report.total)
    return report
