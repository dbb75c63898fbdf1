"""Login slow-down: after repeated failures for one email, refuse attempts for a growing delay.

Known accounts keep their count in ``users.failed_logins`` / ``last_failed_login_at`` (shared
by every process). Emails with no account are counted the same way in a bounded in-memory
table, so the answer (and its delay) never tells whether an account exists.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import update

from app.extensions import db
from app.models import User

FREE_FAILURES = 5  # consecutive failures allowed before the slow-down starts
BASE_DELAY_S = 30  # the delay after the 5th failure; doubles with each further failure
MAX_DELAY_S = 15 * 60
_UNKNOWN_CAPACITY = 10_000


def _now() -> datetime:
    return datetime.now(UTC)


def delay_after(failures: int) -> int:
    """Seconds a sign-in is refused after ``failures`` consecutive failures."""
    if failures < FREE_FAILURES:
        return 0
    return min(BASE_DELAY_S * 2 ** (failures - FREE_FAILURES), MAX_DELAY_S)


def _remaining(failures: int, last_failed_at: datetime | None, now: datetime) -> int:
    if last_failed_at is None:
        return 0
    until = last_failed_at + timedelta(seconds=delay_after(failures))
    return max(0, math.ceil((until - now).total_seconds()))


class _UnknownEmails:
    """Failure counts for emails without an account: an LRU table guarded by a lock."""

    def __init__(self, capacity: int = _UNKNOWN_CAPACITY) -> None:
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[int, datetime]] = OrderedDict()
        self._capacity = capacity

    def get(self, email: str) -> tuple[int, datetime | None]:
        with self._lock:
            return self._entries.get(email, (0, None))

    def fail(self, email: str, now: datetime) -> None:
        with self._lock:
            count, _ = self._entries.pop(email, (0, None))
            self._entries[email] = (count + 1, now)
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)


def _unknown() -> _UnknownEmails:
    return current_app.extensions.setdefault("login_throttle_unknown", _UnknownEmails())


def seconds_locked(user: User | None, email: str) -> int:
    """How many seconds sign-in for this email is still refused (0: go ahead)."""
    now = _now()
    if user is not None:
        return _remaining(user.failed_logins or 0, user.last_failed_login_at, now)
    count, last = _unknown().get(email)
    return _remaining(count, last, now)


def record_failure(user: User | None, email: str) -> None:
    """Count one failed sign-in; commits (the UPDATE is atomic across processes)."""
    now = _now()
    if user is None:
        _unknown().fail(email, now)
        return
    db.session.execute(
        update(User)
        .where(User.id == user.id)
        .values(failed_logins=User.failed_logins + 1, last_failed_login_at=now)
    )
    db.session.commit()


def record_success(user: User) -> None:
    """Reset the count after a successful sign-in; commits."""
    if user.failed_logins or user.last_failed_login_at:
        user.failed_logins = 0
        user.last_failed_login_at = None
        db.session.commit()
