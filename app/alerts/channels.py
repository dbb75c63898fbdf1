"""A student's notification channels (ntfy, Discord, Telegram, Matrix): saved encrypted,
listed masked, removed, sent to.

:func:`kind_of` recognises the kind from the address the student pasted (its scheme, and for
https whether it is a Discord webhook); each kind's module checks the rest with the outbound
guard and sends its one request through it. The address holds the channel's secret, so it is
kept only encrypted and only its masked form (``masked``) is ever shown.
"""

from __future__ import annotations

from flask import current_app
from sqlalchemy import delete, select

from app.alerts import discord, matrix, ntfy, telegram
from app.alerts.prefs import WebhookRefused
from app.extensions import db
from app.models import NotifyChannel
from app.outbound import OutboundPolicy
from app.security import TokenCipher

MAX_CHANNELS = 5
KINDS = {"ntfy": "ntfy", "discord": "Discord", "telegram": "Telegram", "matrix": "Matrix"}
UNKNOWN = ("Enter an address that starts with https:// (ntfy or a Discord webhook), ntfys://, "
           "tgram:// or matrixs://, as in the examples under the box.")


class TooManyChannels(ValueError):
    """The student already has :data:`MAX_CHANNELS` channels."""


def _cipher() -> TokenCipher:
    cipher: TokenCipher = current_app.extensions["token_cipher"]
    return cipher


def _telegram_api() -> str:
    return str(current_app.config["TELEGRAM_API_URL"])


def kind_of(address: str) -> str:
    """Which kind of channel ``address`` is (a key of :data:`KINDS`); else
    :class:`WebhookRefused` naming the forms that work."""
    scheme, sep, _ = address.strip().partition("://")
    scheme = scheme.lower() if sep else ""
    if scheme in ("ntfy", "ntfys"):
        return "ntfy"
    if scheme == "tgram":
        return "telegram"
    if scheme in ("matrix", "matrixs"):
        return "matrix"
    if scheme == "discord" or (scheme in ("https", "http") and discord.looks_like(address)):
        return "discord"
    if scheme in ("https", "http"):
        return "ntfy"
    raise WebhookRefused(UNKNOWN)


def check(kind: str, address: str, policy: OutboundPolicy) -> None:
    """Raise :class:`WebhookRefused` unless the ``kind`` address passes its checks and the guard."""
    try:
        if kind == "ntfy":
            ntfy.parse(address, policy)
        elif kind == "discord":
            discord.parse(address, policy)
        elif kind == "telegram":
            telegram.parse(address, policy, _telegram_api())
        else:
            matrix.parse(address, policy)
    except WebhookRefused:
        raise
    except ValueError:  # urlsplit's own refusals: a bad port, an unclosed [IPv6]
        raise WebhookRefused(f"The {KINDS[kind]} address is not valid: check its host and "
                             "port.") from None


def mask(kind: str, address: str) -> str:
    masks = {"ntfy": ntfy.mask, "discord": discord.mask, "telegram": telegram.mask,
             "matrix": matrix.mask}
    return masks[kind](address)


def add(user_id: int, address: str, policy: OutboundPolicy) -> NotifyChannel:
    """Check ``address`` with the guard (``WebhookRefused`` says why not), store it, commit."""
    kind = kind_of(address)
    check(kind, address, policy)
    if len(of(user_id)) >= MAX_CHANNELS:
        raise TooManyChannels(f"You can have at most {MAX_CHANNELS} channels: remove one first.")
    row = NotifyChannel(user_id=user_id, kind=kind, masked=mask(kind, address),
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
    """Send ``lines`` on the channel; raises ``requests.RequestException``, ``OutboundRefused``
    or :class:`WebhookRefused` (an address that no longer passes the guard)."""
    target = address(row)
    if row.kind == "ntfy":
        ntfy.post(target, lines, policy, title=title)
    elif row.kind == "discord":
        discord.post(target, lines, policy)
    elif row.kind == "telegram":
        telegram.post(target, lines, policy, api_url=_telegram_api())
    elif row.kind == "matrix":
        matrix.post(target, lines, policy)
    else:
        raise WebhookRefused(f"unknown channel kind {row.kind!r}")
