"""The one clock that the app and the simulated Canvas read "now" from.

Time is an input. Everything that asks what day it is (a term's end, a grading period's
close date, a token's expiry, a due date in the calendar, the dataset the simulator builds)
calls :func:`now`, so a test can set the date once and have both sides agree::

    import clock

    with clock.pinned(datetime(2028, 2, 29, 15, tzinfo=UTC)):
        ...  # "now" starts at that moment and runs on from there

Two ways to set it:

* :func:`pin` moves the clock to a moment and lets it run on, second by second, from there
  (timeouts, token lifetimes and rate limits still see time pass). This is what the tests use.
* :func:`freeze` stops it at a moment (for arithmetic that must be exact).

A process that starts with ``GRADESYNC_NOW`` set (an ISO-8601 moment, e.g.
``2028-02-29T15:00:00Z``) starts pinned there. With ``GRADESYNC_NOW_AT`` too (the wall
clock's epoch seconds at which that moment was "now"), it runs on from where the parent's
clock is, not from the moment itself: :func:`export` sets both, so a gunicorn or Celery child
that a test starts reads the same "now" as the test.

Elapsed time (the rate limiter's bucket, back-off sleeps) is measured with
:func:`time.monotonic`, not with this clock: a date is an input, a duration is not.

This module is a layer of its own under both ``app`` and ``simulator`` and imports neither.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

__all__ = ["ENV_VAR", "export", "freeze", "now", "parse", "pin", "pinned", "reset",
           "restore", "state", "timestamp"]

ENV_VAR = "GRADESYNC_NOW"
ENV_VAR_AT = "GRADESYNC_NOW_AT"

_lock = threading.Lock()
_offset_s = 0.0  # added to the wall clock while pinned
_frozen: datetime | None = None


def parse(text: str) -> datetime:
    """An ISO-8601 moment as an aware UTC datetime; a date alone means its noon UTC.

    Raises ``ValueError`` with one line naming the variable when ``text`` is not a moment.
    """
    value = text.strip()
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{ENV_VAR}={text!r} is not an ISO-8601 moment; write e.g. 2028-02-29T15:00:00Z"
        ) from None
    if len(value) == 10:  # a bare date: the middle of that day, far from either midnight
        moment = moment.replace(hour=12)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def now() -> datetime:
    """The current moment, timezone-aware UTC."""
    frozen = _frozen
    if frozen is not None:
        return frozen
    return datetime.fromtimestamp(time.time() + _offset_s, UTC)


def timestamp() -> float:
    """:func:`now` as seconds since the epoch (for signed cookies and tokens)."""
    return now().timestamp()


def pin(moment: datetime) -> None:
    """Move the clock to ``moment``; it runs on from there."""
    global _offset_s, _frozen
    if moment.tzinfo is None:
        raise ValueError("clock.pin needs an aware datetime (attach tzinfo=UTC)")
    with _lock:
        _frozen = None
        _offset_s = moment.timestamp() - time.time()


def freeze(moment: datetime) -> None:
    """Stop the clock at ``moment`` until :func:`pin` or :func:`reset`."""
    global _frozen
    if moment.tzinfo is None:
        raise ValueError("clock.freeze needs an aware datetime (attach tzinfo=UTC)")
    with _lock:
        _frozen = moment.astimezone(UTC)


def reset() -> None:
    """Back to the real time (or to ``GRADESYNC_NOW`` when the process started with it)."""
    global _offset_s, _frozen
    with _lock:
        _frozen = None
        _offset_s = 0.0
    _pin_from_environment()


def state() -> tuple[float, datetime | None]:
    """The clock's setting, for :func:`restore`."""
    with _lock:
        return _offset_s, _frozen


def restore(saved: tuple[float, datetime | None]) -> None:
    """Put back a setting that :func:`state` returned."""
    global _offset_s, _frozen
    with _lock:
        _offset_s, _frozen = saved


@contextmanager
def pinned(moment: datetime) -> Iterator[None]:
    """Pin the clock for a ``with`` block, then put back what was there."""
    global _offset_s, _frozen
    saved = state()
    pin(moment)
    try:
        yield
    finally:
        restore(saved)


def export(environ: dict[str, str] | None = None) -> dict[str, str]:
    """Write this clock into ``environ`` (``os.environ`` by default) for child processes.

    Nothing is written while the clock reads the real time. Returns ``environ``.
    """
    target: Any = os.environ if environ is None else environ
    if _frozen is None and _offset_s == 0.0:
        target.pop(ENV_VAR, None)
        target.pop(ENV_VAR_AT, None)
        return target
    wall = time.time()
    target[ENV_VAR] = now().isoformat()
    if _frozen is None:
        target[ENV_VAR_AT] = repr(wall)
    else:
        target.pop(ENV_VAR_AT, None)
    return target


def _pin_from_environment() -> None:
    text = os.environ.get(ENV_VAR, "").strip()
    if not text:
        return
    moment = parse(text)
    at = os.environ.get(ENV_VAR_AT, "").strip()
    if at:
        global _offset_s
        try:
            _offset_s = moment.timestamp() - float(at)
        except ValueError:
            raise ValueError(f"{ENV_VAR_AT}={at!r} is not epoch seconds") from None
    else:
        pin(moment)


_pin_from_environment()
