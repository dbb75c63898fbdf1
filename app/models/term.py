"""The ``term`` table: a Canvas enrollment term, per user."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime


class Term(Base):
    __tablename__ = "term"
    __table_args__ = (UniqueConstraint("connection_id", "canvas_term_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    # The Canvas instance the row came from: Canvas ids are unique per instance only.
    connection_id: Mapped[int] = mapped_column(
        ForeignKey("canvas_connection.id", ondelete="CASCADE"), nullable=False, index=True
    )
    canvas_term_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    start_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
