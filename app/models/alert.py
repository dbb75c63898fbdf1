"""Alerts (issue 15): the student's choices (``alert_settings``) and what was sent.

``alert_delivery`` is the memory that keeps an alert from repeating: one row per (user, event
key, channel), claimed by an insert that the unique key lets succeed once. ``status`` says where
it is: ``held`` (quiet hours or the daily digest: the digest sends it), ``sending`` (claimed,
being handed over), ``sent`` or ``failed`` (logged; not retried, so never sent twice).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime, utcnow


class AlertSettings(Base):
    """What one student wants to hear about, and where. No row: the defaults below."""

    __tablename__ = "alert_settings"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    # What: every new or changed grade (on by default), the course grade, missing work, due
    # soon, a connection that needs reconnecting.
    on_grade: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    on_course_grade: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    # Alert when a course grade falls below this percentage (None: letter changes only).
    grade_threshold: Mapped[float | None] = mapped_column(Float)
    on_missing: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    on_due_soon: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    on_reconnect: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    # Where: email (to the account's address) and/or a Discord/Slack-style webhook. A webhook
    # address carries its own secret, so it is stored like a Canvas token (Fernet, see
    # app.security) and only its host is shown back.
    email: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    webhook_url_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    webhook_host: Mapped[str | None] = mapped_column(String(255))
    # Quiet hours in the student's zone (hours 0-23, start inclusive, end exclusive; None: off)
    # and the daily digest (everything in one email, at the end of the quiet hours or 18:00).
    quiet_start: Mapped[int | None] = mapped_column(Integer)
    quiet_end: Mapped[int | None] = mapped_column(Integer)
    digest: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    # When the student last changed these choices (Settings or an unsubscribe link): an
    # unsubscribe link issued before it does nothing (app.alerts.mail). None: never recorded.
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AlertDelivery(Base):
    """One alert on one channel: inserted once per event, never sent twice."""

    __tablename__ = "alert_delivery"
    __table_args__ = (
        UniqueConstraint("user_id", "key", "channel"),
        Index("ix_alert_delivery_user_id_status", "user_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    # "event:<grade_event id>", "due:<assignment>:<due date>", "reconnect:<sync_run id>"
    key: Mapped[str] = mapped_column(String(96), nullable=False)
    channel: Mapped[str] = mapped_column(String(16), nullable=False)  # email | webhook
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # see the module docstring
    text: Mapped[str] = mapped_column(String(1000), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
