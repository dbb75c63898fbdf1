"""A user's Canvas connections as records: add, update, check, rename, disconnect, remove.

The web pages and CLI commands call these; nothing here renders or logs a token. Each
function that changes a connection commits.

Token lifecycle: a personal token's expiry is recorded (Canvas does not report it, so the
student gives it); from :data:`WARN_DAYS` before it the connection shows as ``expiring``. A
token Canvas refuses marks the connection ``needs_reconnect``; no synced row is ever deleted
for that.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Row, delete, select, update
from sqlalchemy.orm import lazyload

from app.extensions import db
from app.models import CanvasConnection, Course, Term, User, utcnow
from app.security import clean_token
from app.timezones import valid_zone

from .changes import note_token_change
from .tokens import log_out
from .verify import (
    CanvasConnectionError,
    canvas_name,
    check_canvas_url,
    one_check,
    token_cipher,
    verify_canvas_token,
)

logger = logging.getLogger(__name__)

WARN_DAYS = 14
MAX_LABEL = 100


def user_connections(user_id: int) -> list[CanvasConnection]:
    """The user's connections, oldest first."""
    return list(
        db.session.scalars(
            select(CanvasConnection)
            .where(CanvasConnection.user_id == user_id)
            .order_by(CanvasConnection.id)
        )
    )


def get_connection(user_id: int, connection_id: int) -> CanvasConnection | None:
    """The connection if it exists *and* belongs to this user."""
    return db.session.scalar(
        select(CanvasConnection).where(
            CanvasConnection.id == connection_id, CanvasConnection.user_id == user_id
        )
    )


def connection_for_url(user_id: int, base_url: str) -> CanvasConnection | None:
    return db.session.scalar(
        select(CanvasConnection).where(
            CanvasConnection.user_id == user_id, CanvasConnection.base_url == base_url
        )
    )


def _slot_for(user: User, url: str) -> CanvasConnection:
    """The connection to (re)use for ``url``: the one with that address, else one carried over
    without an address (its rows come back to life), else a new one."""
    connection = connection_for_url(user.id, url)
    if connection is None:
        connection = db.session.scalar(
            select(CanvasConnection).where(
                CanvasConnection.user_id == user.id, CanvasConnection.base_url.is_(None)
            )
        )
    if connection is None:
        connection = CanvasConnection(user_id=user.id, auth_kind="token", status="ok")
        db.session.add(connection)
    connection.base_url = url
    return connection


def set_canvas_credentials(
    user: User, base_url: str, token: str, *, expires_at: datetime | None = None
) -> CanvasConnection:
    """Store a (validated) URL and the encrypted token as the user's connection for that URL,
    without asking Canvas; commits."""
    connection = _slot_for(user, check_canvas_url(base_url))
    _store_token(connection, clean_token(token), expires_at)
    db.session.commit()
    return connection


def _store_token(connection: CanvasConnection, token: str, expires_at: datetime | None) -> None:
    note_token_change(connection)
    connection.auth_kind = "token"
    connection.access_token_encrypted = token_cipher().encrypt(token)
    connection.refresh_token_encrypted = None
    connection.expires_at = expires_at
    # A new token starts afresh: a "disconnected" or "needs_reconnect" of the old one is over.
    connection.status = "ok"
    connection.status = lifecycle_status(connection)


def get_canvas_token(owner: User | CanvasConnection) -> str | None:
    """The decrypted access token of a connection (or of a user's first connection)."""
    connection = owner if isinstance(owner, CanvasConnection) else default_connection(owner)
    if connection is None or not connection.access_token_encrypted:
        return None
    return token_cipher().decrypt(connection.access_token_encrypted)


def usable_connections(user_id: int) -> list[CanvasConnection]:
    """The user's connections a sync can try (``CanvasConnection.usable``), oldest first: the
    one answer to "which connections are usable?"."""
    return list(
        db.session.scalars(
            select(CanvasConnection)
            .where(CanvasConnection.user_id == user_id, CanvasConnection.usable)
            .order_by(CanvasConnection.id)
        )
    )


def user_for_sync(
    user_id: int, *extra: ColumnElement[Any]
) -> tuple[User | None, list[CanvasConnection], Row[Any] | None]:
    """The user, its usable connections (as :func:`usable_connections`) and the ``extra``
    columns (about the user: each row repeats them), in ONE read: a scheduled run's first.
    ``(None, [], None)`` when the user does not exist."""
    rows = db.session.execute(
        select(User, CanvasConnection, *extra)
        .outerjoin(CanvasConnection,
                   (CanvasConnection.user_id == User.id) & CanvasConnection.usable)
        .where(User.id == user_id)
        .order_by(CanvasConnection.id)
        .options(lazyload(User.connections))  # every connection: not needed here
    ).all()
    if not rows:
        return None, [], None
    return rows[0][0], [row[1] for row in rows if row[1] is not None], rows[0]


def default_connection(user: User) -> CanvasConnection | None:
    """The user's first usable connection, else the first at all (None: none)."""
    chosen = usable_connections(user.id) or user_connections(user.id)
    return chosen[0] if chosen else None


def connect_canvas(
    user: User,
    base_url: str,
    token: str,
    *,
    label: str | None = None,
    expires_at: datetime | None = None,
) -> dict[str, Any]:
    """Validate the URL and the token, confirm them with Canvas, then store them as the
    connection for that URL (added, or updated if the user has one); commits.

    Nothing is stored unless Canvas accepts the token. Returns Canvas's profile. Raises
    ``InvalidCanvasURL``, ``InvalidCanvasToken`` or ``CanvasConnectionError``.
    """
    url = check_canvas_url(base_url)
    token = clean_token(token)
    with one_check(user.id):  # one check at a time per user, a few per process
        profile = verify_canvas_token(url, token)
    connection = _slot_for(user, url)
    _store_token(connection, token, expires_at)
    connection.canvas_user_id = profile["id"]
    connection.canvas_user_name = canvas_name(profile)
    if label is not None:
        connection.label = clean_label(label)
    user.time_zone = valid_zone(profile.get("time_zone")) or user.time_zone
    db.session.commit()
    return profile


def check_canvas_connection(
    user: User, connection: CanvasConnection | None = None
) -> dict[str, Any]:
    """Re-check a connection (default: the user's first) with Canvas; refreshes the stored
    Canvas name, and the status (``needs_reconnect`` when Canvas refuses the token).

    Raises ``CanvasConnectionError`` (kind ``not_connected`` when nothing is saved),
    ``InvalidCanvasURL`` or ``InvalidCanvasToken``.
    """
    connection = connection or default_connection(user)
    token = get_canvas_token(connection) if connection is not None and connection.usable else None
    if connection is None or not connection.base_url or not token:
        raise CanvasConnectionError(
            "Canvas is not connected yet: save a URL and token first", "not_connected"
        )
    url = check_canvas_url(connection.base_url)
    try:
        with one_check(user.id):
            profile = verify_canvas_token(url, token)
    except CanvasConnectionError as exc:
        if exc.kind == "rejected":
            mark_rejected(connection.id)
        raise
    connection.canvas_user_id = profile["id"]
    connection.canvas_user_name = canvas_name(profile)
    connection.status = lifecycle_status(connection)
    # A zone the student chose in Settings stays; a first one comes from Canvas.
    user.time_zone = user.time_zone or valid_zone(profile.get("time_zone"))
    db.session.commit()
    return profile


def clean_label(label: str) -> str | None:
    """A label as stored: trimmed, one line, at most 100 characters (empty = none)."""
    text = " ".join(label.split())
    if len(text) > MAX_LABEL:
        raise ValueError(f"the name is too long: use at most {MAX_LABEL} characters")
    return text or None


def rename_connection(connection: CanvasConnection, label: str) -> None:
    connection.label = clean_label(label)
    db.session.commit()


def disconnect_connection(connection: CanvasConnection) -> None:
    """Forget the credentials (synced grades stay, shown under this connection); commits.

    An OAuth2 connection is logged out at Canvas first (its tokens stop working there too).
    """
    log_out(connection)
    connection.access_token_encrypted = None
    connection.refresh_token_encrypted = None
    connection.expires_at = None
    connection.status = "disconnected"
    db.session.commit()


def disconnect_canvas(user: User, base_url: str | None = None) -> int:
    """Disconnect the connection for ``base_url``, or every connection; returns how many."""
    targets = [
        c
        for c in user_connections(user.id)
        if c.access_token_encrypted and (base_url is None or c.base_url == base_url)
    ]
    for connection in targets:
        disconnect_connection(connection)
    return len(targets)


def remove_connection(connection: CanvasConnection) -> None:
    """Delete the connection *and* the terms and courses synced through it (the student asked
    for exactly that); other connections' rows are untouched; commits."""
    log_out(connection)
    db.session.execute(delete(Course).where(Course.connection_id == connection.id))
    db.session.execute(delete(Term).where(Term.connection_id == connection.id))
    db.session.delete(connection)
    db.session.commit()


def mark_rejected(connection_id: int, *, token_refused: bool = True) -> None:
    """A sync could not use the credentials: stamp ``rejected_at`` (scheduled syncs wait for a
    new token); when Canvas itself refused the token the connection also shows as needing
    reconnecting. Data stays; commits."""
    values: dict[str, Any] = {"rejected_at": utcnow()}
    if token_refused:
        values["status"] = "needs_reconnect"
    db.session.execute(
        update(CanvasConnection).where(CanvasConnection.id == connection_id).values(**values)
    )
    db.session.commit()


def mark_synced(connection_id: int, seen: SyncedState | None = None) -> None:
    """A sync of this connection succeeded (the engine recorded when and, the first time, its
    baseline): the token works, a refusal is over. ``seen``: the connection as read before its
    sync; when that says nothing would change (the usual scheduled run), no statement at all."""
    if seen is not None and not seen.changes_when_synced():
        return
    connection = db.session.get(CanvasConnection, connection_id)
    if connection is None:
        return
    connection.rejected_at = None
    if connection.status in SYNCED_STATUSES:
        connection.status = _synced_status(connection.auth_kind, connection.expires_at)
    db.session.commit()


SYNCED_STATUSES = ("ok", "expiring", "needs_reconnect")  # the ones a successful sync resets


@dataclass(frozen=True)
class SyncedState:
    """What :func:`mark_synced` changes on a connection, read before its sync (the sync's
    commits expire the object: afterwards each read is a SELECT)."""

    rejected: bool  # rejected_at is set
    status: str
    auth_kind: str
    expires_at: datetime | None

    @classmethod
    def of(cls, connection: CanvasConnection) -> SyncedState:
        return cls(connection.rejected_at is not None, connection.status, connection.auth_kind,
                   connection.expires_at)

    def changes_when_synced(self, now: datetime | None = None) -> bool:
        """Whether :func:`mark_synced` would write anything to this connection now."""
        return self.rejected or (
            self.status in SYNCED_STATUSES
            and _synced_status(self.auth_kind, self.expires_at, now) != self.status
        )


def _synced_status(auth_kind: str, expires_at: datetime | None,
                   now: datetime | None = None) -> str:
    """The status of a connection whose sync just worked: ``ok``, or what its personal token's
    expiry says (:func:`lifecycle_status` from ``ok``)."""
    return _lifecycle("ok", auth_kind, expires_at, now)


def days_left(connection: CanvasConnection, now: datetime | None = None) -> int | None:
    """Whole days until the token expires (0 on its last day, negative after); None if
    unknown."""
    if connection.expires_at is None:
        return None
    return (connection.expires_at - (now or utcnow())).days


def lifecycle_status(connection: CanvasConnection, now: datetime | None = None) -> str:
    """``expiring`` inside a personal token's warning window, else the stored status (``ok``
    by default). An OAuth2 access token's hour is no warning: it is refreshed."""
    return _lifecycle(connection.status, connection.auth_kind, connection.expires_at, now)


def _lifecycle(status: str, auth_kind: str, expires_at: datetime | None,
               now: datetime | None = None) -> str:
    if status in ("needs_reconnect", "disconnected"):
        return status
    if auth_kind == "oauth" or expires_at is None:
        return "ok"
    left = (expires_at - (now or utcnow())).days  # days_left
    if left < WARN_DAYS:
        return "expiring" if left >= 0 else "needs_reconnect"
    return "ok"


@dataclass(frozen=True)
class ConnectionView:
    """What a page or ``canvas connections --json`` shows of a connection (no credentials)."""

    id: int
    label: str
    url: str | None
    kind: str
    status: str
    canvas_user_name: str | None
    expires_at: datetime | None
    days_left: int | None
    last_synced_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "url": self.url,
            "kind": self.kind,
            "status": self.status,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "days_left": self.days_left,
            "last_synced_at": self.last_synced_at.isoformat() if self.last_synced_at else None,
        }


def connection_views(user_id: int, now: datetime | None = None) -> list[ConnectionView]:
    now = now or utcnow()
    return [
        ConnectionView(
            id=c.id,
            label=c.display_name,
            url=c.base_url,
            kind=c.auth_kind,
            status=lifecycle_status(c, now),
            canvas_user_name=c.canvas_user_name,
            expires_at=c.expires_at,
            days_left=days_left(c, now),
            last_synced_at=c.last_synced_at,
        )
        for c in user_connections(user_id)
    ]


def expiry_from_days(days: int | None) -> datetime | None:
    """The expiry of a token that lasts ``days`` more days (the form asks for it): the end of
    that day (UTC), so right after saving it still reads ``days`` days left, not one fewer."""
    if days is None:
        return None
    return (utcnow() + timedelta(days=days)).replace(hour=23, minute=59, second=59, microsecond=0)
