"""Settling courses absent from every course list, within one Canvas connection.

The rules are :mod:`app.sync.courses`'s (a course goes only on Canvas's proof, see
:func:`~app.sync.courses.confirm_gone`); the rows they touch are the connection's only:
Canvas ids are unique per instance, so another instance's course 123 is another course.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from datetime import datetime
from typing import Any, cast

from sqlalchemy import and_, delete, update
from sqlalchemy.engine import CursorResult

from app.extensions import SessionLike
from app.models import utcnow
from app.sync.courses import confirm_gone
from app.sync.upserts import COURSE

logger = logging.getLogger(__name__)


def delete_connection_courses(
    session: SessionLike, connection_id: int, canvas_course_ids: Iterable[int]
) -> int:
    """Delete these courses of the connection (groups and assignments go with them)."""
    ids = sorted(set(canvas_course_ids))
    if not ids:
        return 0
    result = cast(
        "CursorResult[Any]",
        session.execute(
            delete(COURSE).where(
                and_(COURSE.c.connection_id == connection_id, COURSE.c.canvas_course_id.in_(ids))
            )
        ),
    )
    return max(0, result.rowcount or 0)


def mark_connection_missing(
    session: SessionLike, connection_id: int, canvas_course_ids: Iterable[int], now: datetime
) -> None:
    """Mark courses absent from every list but not proven gone (the first time only)."""
    ids = sorted(set(canvas_course_ids))
    if not ids:
        return
    session.execute(
        update(COURSE)
        .where(
            and_(
                COURSE.c.connection_id == connection_id,
                COURSE.c.canvas_course_id.in_(ids),
                COURSE.c.missing_since.is_(None),
            )
        )
        .values(missing_since=now)
    )


def settle_connection_absent(
    session: SessionLike,
    connection_id: int,
    confirmations: dict[int, Future[Any]],
    forget: Callable[[int], None],
) -> int:
    """Delete the absent courses Canvas confirmed gone, mark the others missing; commits.

    ``forget`` drops a deleted course from the sync's loaded state. Returns how many went.
    """
    if not confirmations:
        return 0
    gone = [cid for cid, future in confirmations.items() if confirm_gone(cid, future)]
    kept = sorted(set(confirmations) - set(gone))
    deleted = delete_connection_courses(session, connection_id, gone)
    mark_connection_missing(session, connection_id, kept, utcnow())
    session.commit()
    for canvas_course_id in gone:
        logger.info("course %s was dropped in Canvas (confirmed): deleted", canvas_course_id)
        forget(canvas_course_id)
    for canvas_course_id in kept:
        logger.info("course %s is in no course list; kept until Canvas confirms", canvas_course_id)
    return deleted
