"""Phone and channel alerts (issue 22): Web Push subscriptions and notification channels.

``push_subscription``: one row per browser a student allowed to show notifications. The
endpoint is a capability URL (whoever holds it can push to that browser), so it is stored
encrypted like a Canvas token, with its SHA-256 to find it again and its host to show.
``notify_channel``: a student's notification channel, ``kind`` ntfy, discord, telegram or
matrix (its address carries the channel's secret): stored encrypted, shown back only masked.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime, utcnow


class PushSubscription(Base):
    """A browser's Web Push subscription (RFC 8030 endpoint, RFC 8291 keys)."""

    __tablename__ = "push_subscription"
    __table_args__ = (UniqueConstraint("user_id", "endpoint_sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    endpoint_encrypted: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    endpoint_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    endpoint_host: Mapped[str] = mapped_column(String(255), nullable=False)
    p256dh: Mapped[str] = mapped_column(String(128), nullable=False)  # base64url, 65 bytes
    auth: Mapped[str] = mapped_column(String(32), nullable=False)  # base64url, 16 bytes
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class NotifyChannel(Base):
    """A notification channel (``kind``: ntfy, discord, telegram, matrix): its address
    encrypted, a masked form shown."""

    __tablename__ = "notify_channel"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    url_encrypted: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    masked: Mapped[str] = mapped_column(String(300), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
