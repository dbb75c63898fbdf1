"""The background services' heartbeats: each scheduler tick records when it ran.

``/readyz`` (:mod:`app.ops.health`) reads them: a scheduler that has not ticked for three
ticks is stalled, not quiet.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from app.extensions import db
from app.models import ServiceHeartbeat, utcnow

logger = logging.getLogger(__name__)

SCHEDULER = "scheduler"


def beat(name: str = SCHEDULER, at: datetime | None = None) -> None:
    """Record that ``name`` did its work now; commits. Never raises (a beat is best effort)."""
    moment = at or utcnow()
    try:
        done = db.session.execute(
            update(ServiceHeartbeat).where(ServiceHeartbeat.name == name).values(beat_at=moment)
        )
        if not getattr(done, "rowcount", 0):
            db.session.add(ServiceHeartbeat(name=name, beat_at=moment))
        db.session.commit()
    except IntegrityError:  # another process inserted the row first: theirs is as good
        db.session.rollback()
    except SQLAlchemyError as exc:
        db.session.rollback()
        logger.warning("could not record the %s heartbeat (%s)", name, type(exc).__name__)


def last_beat(name: str = SCHEDULER) -> datetime | None:
    """When ``name`` last beat, or None if it never did."""
    row = db.session.get(ServiceHeartbeat, name)
    return row.beat_at if row is not None else None
