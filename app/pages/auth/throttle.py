"""Login and registration protection, kept in the database so every process shares it.

Three counters guard a sign-in, each a row with ``failures`` and ``last_failure_at``:

- per account: ``users.failed_logins`` for an email with an account, and a ``login_guard`` row
  keyed by an HMAC of the email (keyed from ``SECRET_KEY``, so a copy of the table does not
  reveal which addresses were tried) for one without. Both follow the same rule (5 free
  failures, then 30 s doubling up to 15 min; a success resets it), so the answers and their
  delays never tell whether an account exists;
- a browser that signed in to the account before (a genuine device cookie,
  :mod:`app.pages.auth.devices`) is counted on its own ``device:`` row instead of the account
  and the address: others' guesses cannot lock the owner out;
- per client address (``request.remote_addr``; the real client only behind a trusted proxy,
  see ``PROXY_FIX``): 20 free failures within an hour, then the same doubling delay, so one
  address cannot lock or spray many accounts for free;
- registrations per address: ``REGISTRATIONS_PER_HOUR`` (default 5) valid attempts an hour.

An attempt is counted *before* the password is checked, with a compare-and-set UPDATE
(``... WHERE failures = <the value read>``): of any number of simultaneous guesses only those
that won a free slot reach the password check, whichever process they hit. A success gives
the slot back.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, select, update
from sqlalchemy.dialects import postgresql, sqlite

import clock
from app.extensions import db
from app.models import LoginGuard, User

FREE_FAILURES = 5  # consecutive failures allowed before the slow-down starts
BASE_DELAY_S = 30  # the delay after the 5th failure; doubles with each further failure
MAX_DELAY_S = 15 * 60
ADDRESS_FREE_FAILURES = 20
ADDRESS_WINDOW = timedelta(hours=1)
REGISTRATION_WINDOW = timedelta(hours=1)
_CAS_ATTEMPTS = 50  # compare-and-set retries before giving up under extreme contention


def _now() -> datetime:
    return clock.now()


def delay_after(failures: int, free: int = FREE_FAILURES) -> int:
    """Seconds a sign-in is refused after ``failures`` failures, ``free`` of them free."""
    if failures < free:
        return 0
    return min(BASE_DELAY_S * 2 ** min(failures - free, 20), MAX_DELAY_S)


@dataclass(frozen=True)
class _Counter:
    """One failure counter: a row of ``table`` picked by ``where``."""

    table: Any  # a mapped class's __table__ (typed as FromClause by SQLAlchemy)
    where: ColumnElement[bool]
    failures: Any  # columns of ``table``
    last: Any
    delay: Callable[[int], int]
    window: timedelta | None = None  # counts older than this start again from zero

    def read(self) -> tuple[int, datetime | None]:
        row = db.session.execute(select(self.failures, self.last).where(self.where)).one_or_none()
        return (0, None) if row is None else (row[0] or 0, row[1])

    def effective(self, failures: int, last: datetime | None, now: datetime) -> int:
        if self.window is not None and last is not None and now - last >= self.window:
            return 0
        return failures

    def remaining(self, now: datetime) -> int:
        failures, last = self.read()
        return _remaining(self.delay(self.effective(failures, last, now)), last, now)


def _remaining(delay: int, last: datetime | None, now: datetime) -> int:
    if last is None or not delay:
        return 0
    return max(0, math.ceil((last + timedelta(seconds=delay) - now).total_seconds()))


def _email_key(email: str) -> str:
    secret = str(current_app.config["SECRET_KEY"]).encode()
    key = hmac.new(secret, b"gradesync login guard: typed emails", hashlib.sha256).digest()
    return "email:" + hmac.new(key, email.encode(), hashlib.sha256).hexdigest()


def _guard(key: str, delay: Callable[[int], int], window: timedelta | None = None) -> _Counter:
    _ensure_row(key)
    table = LoginGuard.__table__
    return _Counter(table, table.c.key == key, table.c.failures, table.c.last_failure_at,
                    delay, window)


def _ensure_row(key: str) -> None:
    """Create the counter row if it is missing (concurrent creators: one wins, none fails)."""
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    db.session.execute(
        dialect.insert(LoginGuard.__table__).values(key=key, failures=0).on_conflict_do_nothing()
    )
    db.session.commit()


def _account(user: User | None, email: str) -> _Counter:
    if user is None:
        return _guard(_email_key(email), delay_after)
    table = User.__table__
    return _Counter(table, table.c.id == user.id, table.c.failed_logins,
                    table.c.last_failed_login_at, delay_after)


def _address(address: str | None) -> _Counter:
    return _guard(f"addr:{address or 'unknown'}"[:80],
                  lambda n: delay_after(n, ADDRESS_FREE_FAILURES), ADDRESS_WINDOW)


def _take_slot(counter: _Counter, now: datetime) -> int:
    """Count one attempt if the counter allows it now: 0 when taken, else seconds to wait."""
    for _ in range(_CAS_ATTEMPTS):
        failures, last = counter.read()
        effective = counter.effective(failures, last, now)
        wait = _remaining(counter.delay(effective), last, now)
        if wait:
            db.session.rollback()
            return wait
        result = db.session.execute(
            update(counter.table)
            .where(counter.where, counter.failures == failures)
            .values({counter.failures: effective + 1, counter.last: now})
        )
        db.session.commit()
        if result.rowcount == 1:  # type: ignore[attr-defined]
            return 0
    return BASE_DELAY_S


def _device(key: str) -> _Counter:
    return _guard(key[:80], delay_after)


def admit_login(user: User | None, email: str, address: str | None,
                device: str | None = None) -> int:
    """Take a sign-in slot for this email and address (or this known device); commits.

    Returns 0 when the password may be checked (the attempt already counts as a failure until
    :func:`record_success`), else the seconds to wait. ``device`` is the counter key of a
    known device (:func:`app.pages.auth.devices.known_device`): its attempts count on that
    device alone, so the account's lock does not stop it.
    """
    now = _now()
    if device is not None:
        return _take_slot(_device(device), now)
    wait = _take_slot(_address(address), now)
    if wait:
        return wait
    return _take_slot(_account(user, email), now)


def seconds_locked(user: User | None, email: str, address: str | None = None,
                   device: str | None = None) -> int:
    """How many seconds sign-in for this email (from this address or device) is refused."""
    now = _now()
    if device is not None:
        return _device(device).remaining(now)
    waits = [_account(user, email).remaining(now)]
    if address is not None:
        waits.append(_address(address).remaining(now))
    return max(waits)


def record_success(user: User, address: str | None, device: str | None = None) -> None:
    """A correct password: reset the account's count, give the address its slot back.

    From a known device only that device's count resets: the owner signing in on their own
    browser must not hand a stranger guessing elsewhere a fresh set of free guesses.
    """
    table: Any = LoginGuard.__table__
    if device is not None:
        db.session.execute(update(table).where(table.c.key == device[:80])
                           .values(failures=0, last_failure_at=None))
        db.session.commit()
        return
    db.session.execute(
        update(table)
        .where(table.c.key == f"addr:{address or 'unknown'}"[:80], table.c.failures > 0)
        .values(failures=table.c.failures - 1)
    )
    db.session.execute(
        update(User).where(User.id == user.id)
        .values(failed_logins=0, last_failed_login_at=None)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    db.session.refresh(user)


def admit_registration(address: str | None) -> int:
    """Take one of the address's registrations for this hour; 0, or the seconds to wait."""
    limit = int(current_app.config["REGISTRATIONS_PER_HOUR"])
    wait_s = int(REGISTRATION_WINDOW.total_seconds())
    counter = _guard(f"register:{address or 'unknown'}"[:80],
                     lambda n: wait_s if n >= limit else 0, REGISTRATION_WINDOW)
    return _take_slot(counter, _now())
