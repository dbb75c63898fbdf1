"""A student's notification channels (ntfy): saved encrypted, listed masked, removed."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import delete, select

from app.alerts import ntfy
from app.extensions import db
from app.models import NotifyChannel
from app.outbound import OutboundPolicy
from app.security import TokenCipher

MAX_CHANNELS = 5


class TooManyChannels(ValueError):
    """The student already has :data:`MAX_CHANNELS` channels."""


def _cipher() -> TokenCipher:
    cipher: TokenCipher = current_app.extensions["token_cipher"]
    return cipher


def add(user_id: int, address: str, policy: OutboundPolicy) -> NotifyChannel:
    """Check ``address`` with the guard (``WebhookRefused`` says why not), store it, commit."""
    ntfy.parse(address, policy)
    if len(of(user_id)) >= MAX_CHANNELS:
        raise TooManyChannels(f"You can have at most {MAX_CHANNELS} channels: remove one first.")
    row = NotifyChannel(user_id=user_id, kind="ntfy", masked=ntfy.mask(address),
                        url_encrypted=_cipher().encrypt(address.strip()))
    db.session.add(row)
    db.session.commit()
    return row


def of(user_id: int) -> list[NotifyChannel]:
    return list(db.session.scalars(
        select(NotifyChannel).where(NotifyChannel.user_id == user_id).order_by(NotifyChannel.id)))


def owned(user_id: int, channel_id: int) -> NotifyChannel | None:
    row = db.session.get(NotifyChannel, channel_id)
    return row if row is not None and row.user_id == user_id else None


def address(row: NotifyChannel) -> str:
    """The channel's address, decrypted: for sending only, never for a page or a log."""
    return _cipher().decrypt(row.url_encrypted)


def remove(user_id: int, channel_id: int) -> bool:
    done = db.session.execute(delete(NotifyChannel).where(
        NotifyChannel.user_id == user_id, NotifyChannel.id == channel_id))
    db.session.commit()
    return bool(getattr(done, "rowcount", 0))


def send(row: NotifyChannel, lines: list[str], policy: OutboundPolicy, *,
         title: str = "GradeSync") -> None:
    """Send ``lines`` on the channel (raises what :func:`app.alerts.ntfy.post` raises)."""
    ntfy.post(address(row), lines, policy, title=title)
