"""How a failure ends a sync: each kind of error becomes the run's one-line error and kind.

A Canvas error, a refusal the engine raised (:class:`~app.sync.result.SyncFailed`) and a
database error end the sync ``failed`` (finished courses stay committed); anything else is a
bug or an interrupt: recorded, then raised again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import SQLAlchemyError

from app.canvas.errors import CanvasError
from app.extensions import db
from app.sync.result import ErrorKind, RunStats, SyncFailed, error_kind_of

logger = logging.getLogger(__name__)


@contextmanager
def failures_recorded(run: RunStats, user_id: int) -> Iterator[None]:
    """Roll back and record on ``run`` whatever stops the body; re-raise only the unexpected."""
    try:
        yield
    except CanvasError as exc:
        db.session.rollback()
        run.fail(exc.message or str(exc), error_kind_of(exc))
        logger.warning("sync for user %s failed: %s", user_id, run.error)
    except SyncFailed as exc:
        db.session.rollback()
        run.fail(str(exc), exc.kind)
        logger.warning("sync for user %s failed: %s", user_id, run.error)
    except SQLAlchemyError as exc:
        db.session.rollback()
        logger.exception("sync for user %s: database error", user_id)
        run.fail(
            f"The database refused the sync's changes ({type(exc).__name__}); the courses "
            "already saved are kept; try again, and report it if it keeps happening.",
            ErrorKind.DATABASE,
        )
    except BaseException as exc:  # a bug or an interrupt: roll back, report, re-raise
        db.session.rollback()
        run.fail(f"The sync stopped unexpectedly ({type(exc).__name__}).", ErrorKind.UNEXPECTED)
        raise
