"""Throttle-aware concurrency: one limiter per Canvas access token, shared by every client.

Canvas's rate limit (``shared/CANVAS_API.md`` §2) is a leaky bucket per access token::

    reserve 50 units -> throttled if bucket >= hwm -> run -> settle: bucket += cost - 50
    the bucket leaks 10 units/s; X-Rate-Limit-Remaining = hwm - bucket, after settling

So ``n`` requests in flight on a bucket holding ``L`` settled units all pass while
``L + 50·n < hwm``: from an empty bucket at hwm 600 that is 11 at once, and the 12th is
throttled (403 "Rate Limit Exceeded", or 429 on hosted Canvas).

The model
---------
The limiter estimates the settled level ``L`` and the high-water mark ``hwm``:

* It integrates ``L`` itself: ``+ X-Request-Cost`` when a response arrives, ``- 10/s`` leak.
* Every ``X-Rate-Limit-Remaining`` ``R`` corrects the estimate. When the server produced that
  response its bucket held ``L`` plus 50 units for each *other* request of ours in flight there.
  Those are among the ``k`` requests that overlapped this one on our side (in flight when it
  started, or started since), so ``hwm - R - 50·k <= L <= hwm - R``: ``L`` is clamped into
  that band. This is what catches another program spending the same token's budget. ``R`` plus
  what we spent above ``hwm`` means the host runs a larger bucket (700 on hosted Canvas), and
  ``hwm`` is raised to match.
* A response to a request that no other request of ours overlapped is exact: ``hwm - L = R``.
  ``hwm`` is then re-estimated as ``R`` plus what our own requests have put in the bucket
  (leaked as it would be), in either direction: a smaller bucket than assumed (or another
  program's spending) lowers it, and later quiet moments raise it again. The first request of
  a sync usually runs alone, so the limiter knows the bucket before the first burst.
* A request may start while ``50·(in_flight + 1) <= hwm - L - safety``. With an empty bucket at
  hwm 600 and the default safety of 25 units that is 11 requests in flight (13 at hwm 700). As
  the bucket fills (expensive requests, another program on the token) the allowance shrinks;
  at zero, callers wait for the leak (10 units/s) instead of being throttled.
* A congestion window guards against what the model cannot see (a lower hwm than assumed,
  traffic from other processes): it starts at ``initial_in_flight`` (2), grows by one per
  successful response, and is halved when a request is throttled (once per burst: throttles
  of requests sent before the last decrease do not halve it again). Additive increase,
  multiplicative decrease. A successful response's ``R`` also opens the window at once to
  ``floor((R - safety) / 50)``: ``R`` already counts everything in the bucket (our requests in
  flight and anyone else's), so that many requests fit whatever the real hwm is. The first
  response of a sync therefore takes the window to full width (10-11 at hwm 600) instead of a
  slow start that would cost two or three extra round trips.

The number of requests in flight is ``min(model allowance, window, max_in_flight)``; the hard
cap (20) matches the HTTP connection pool so no request ever waits for a socket while holding
bucket units. Until a response carries the headers, ``hwm`` is assumed to be 600, the Canvas
code default; servers that send no headers at all (test doubles) are governed by the window.

One limiter exists per ``(base_url, sha256(token))`` in this process (:func:`limiter_for`), so
every thread pool of every client on a token draws from the same estimate, as Canvas does.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

DEFAULT_HWM = 600.0
UP_FRONT_COST = 50.0
OUTFLOW = 10.0
# A throttled response carries no X-Request-Cost, but Canvas still charges its (small) cost.
THROTTLED_COST_GUESS = 1.0


@dataclass(frozen=True)
class Slot:
    """A permit to send one request; hand it back to :meth:`ThrottleLimiter.release`."""

    started: float
    epoch: int  # the window's epoch when sent (throttles of one burst halve it once)
    seq: int  # how many requests had been started before this one
    others: int  # our requests already in flight when this one started


class ThrottleLimiter:
    """Caps a token's requests in flight so Canvas's leaky bucket never overflows.

    Thread-safe. :meth:`acquire` blocks until a request may start; :meth:`release` reports
    what the response said about the bucket.
    """

    def __init__(
        self,
        *,
        hwm: float = DEFAULT_HWM,
        up_front_cost: float = UP_FRONT_COST,
        outflow: float = OUTFLOW,
        safety: float = 25.0,
        initial_in_flight: int = 2,
        max_in_flight: int = 20,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if initial_in_flight < 1 or max_in_flight < 1:
            raise ValueError("initial_in_flight and max_in_flight must be at least 1")
        self._clock = clock
        self._cond = threading.Condition()
        self._up_front = up_front_cost
        self._outflow = outflow
        self._safety = safety
        self._max_in_flight = max_in_flight
        # --- state guarded by self._cond -------------------------------------------------
        self._hwm = hwm
        self._level = 0.0  # estimated settled units in the bucket, from everyone
        self._spent = 0.0  # the part of it this limiter's own requests account for
        self._min_hwm = 2 * up_front_cost  # never estimate a bucket too small for one request
        self._touched = clock()
        self._window = float(min(initial_in_flight, max_in_flight))
        self._epoch = 0  # bumped on every window decrease
        self._in_flight = 0
        self._started_total = 0
        # Canvas has accepted the token at least once (a response below 400): callers may fan
        # out requests that would all fail together on a dead token (CanvasAPIService).
        self.token_accepted = False
        # counters
        self.max_in_flight_seen = 0
        self.requests = 0
        self.throttled = 0
        self.waits = 0
        self.wait_s = 0.0

    # --- the model ------------------------------------------------------------------------

    def _leak(self, now: float) -> None:
        drained = self._outflow * (now - self._touched)
        self._level = max(0.0, self._level - drained)
        self._spent = max(0.0, self._spent - drained)
        self._touched = now

    def _allowance(self) -> int:
        """Requests the bucket model lets be in flight at once right now."""
        room = self._hwm - self._level - self._safety
        return max(0, math.floor(room / self._up_front))

    def _limit(self) -> int:
        return min(self._allowance(), int(self._window), self._max_in_flight)

    def _seconds_until_room(self) -> float | None:
        """How long the leak needs to make room for one more request (None: not the leak)."""
        if self._in_flight >= min(int(self._window), self._max_in_flight):
            return None  # limited by the window: only a release frees a place
        needed_level = self._hwm - self._safety - self._up_front * (self._in_flight + 1)
        return max(0.0, (self._level - needed_level) / self._outflow) + 0.01

    # --- public API ---------------------------------------------------------------------------

    def acquire(self) -> Slot:
        """Block until one more request may be in flight, and count it."""
        with self._cond:
            waited_from: float | None = None
            while True:
                now = self._clock()
                self._leak(now)
                if self._in_flight < self._limit():
                    break
                if waited_from is None:
                    waited_from = now
                    self.waits += 1
                # A release notifies; the leak does not, so wake up when it will have made room.
                self._cond.wait(timeout=self._seconds_until_room() or 1.0)
            if waited_from is not None:
                self.wait_s += self._clock() - waited_from
            return self._take(now)

    def _take(self, now: float) -> Slot:
        slot = Slot(now, self._epoch, self._started_total, self._in_flight)
        self._in_flight += 1
        self._started_total += 1
        self.requests += 1
        self.max_in_flight_seen = max(self.max_in_flight_seen, self._in_flight)
        return slot

    def release(
        self,
        slot: Slot,
        *,
        remaining: float | None = None,
        cost: float | None = None,
        throttled: bool = False,
        failed: bool = False,
    ) -> None:
        """Hand back ``slot`` with what the response said about the bucket.

        ``failed`` means no response arrived (connection error, timeout): nothing is learnt.
        """
        with self._cond:
            self._leak(self._clock())
            others = self._in_flight - 1
            self._in_flight -= 1
            # Our requests that may have been in Canvas's bucket when it answered this one:
            # those in flight when it started, and those started since.
            overlapping = slot.others + (self._started_total - slot.seq - 1)
            charged = max(cost, 0.0) if cost is not None else 0.0
            if cost is None and throttled:
                charged = THROTTLED_COST_GUESS
            self._level += charged
            self._spent += charged
            if remaining is not None:
                self._observe(remaining, overlapping)
            if throttled:
                self.throttled += 1
                if slot.epoch == self._epoch:  # first throttle of this burst
                    self._window = max(1.0, min(self._window, others + 1) / 2)
                    self._epoch += 1
                    logger.info(
                        "Canvas throttled a request: window %.0f, estimated bucket %.0f/%.0f",
                        self._window,
                        self._level,
                        self._hwm,
                    )
            elif not failed:
                self._window = min(float(self._max_in_flight), self._window + 1)
                if remaining is not None:
                    # Canvas just said how much room its bucket has, whoever else is in it
                    # (our requests in flight included): open the window to that at once rather
                    # than growing into it one round trip at a time.
                    room = math.floor((remaining - self._safety) / self._up_front)
                    self._window = min(float(self._max_in_flight), max(self._window, room))
            self._cond.notify_all()

    def _observe(self, remaining: float, overlapping: int) -> None:
        if overlapping == 0:
            # Nothing else of ours was in the bucket: hwm - L = remaining exactly, and L is at
            # least what we spent. Whatever is missing (a smaller bucket, another program on
            # the token) is taken as a smaller hwm: safe, and undone by later observations.
            self._hwm = max(self._min_hwm, remaining + self._spent)
            self._level = self._hwm - remaining
            return
        if remaining + self._spent > self._hwm:
            # More room than an hwm-sized bucket can have: this host's bucket is larger.
            self._hwm = remaining + self._spent
            logger.debug("Canvas bucket high-water mark is at least %.0f", self._hwm)
        upper = self._hwm - remaining
        lower = upper - self._up_front * overlapping
        self._level = min(max(self._level, lower), max(upper, 0.0))

    @property
    def drain_seconds(self) -> float:
        """How long an idle bucket takes to leak from the high-water mark to empty."""
        return self._hwm / self._outflow

    def assume_drained(self) -> None:
        """Open the window to what an empty bucket allows: the caller knows it is empty.

        The sync service calls this when, by the database, nothing has used the token for
        longer than :attr:`drain_seconds`. A limiter new to this process (a fresh Celery
        worker, the CLI) otherwise starts at ``initial_in_flight`` and spends round trips
        growing into a bucket that was empty all along. Should another program share the
        token after all, the first burst is throttled, retried and the window halved.
        """
        with self._cond:
            self._leak(self._clock())
            if self._in_flight == 0:
                allowed = min(self._allowance(), self._max_in_flight)
                self._window = max(self._window, float(allowed))

    def note_accepted(self) -> None:
        """Canvas answered a request on this token with success (or the caller knows it did)."""
        self.token_accepted = True

    # --- introspection --------------------------------------------------------------------

    @property
    def in_flight(self) -> int:
        with self._cond:
            return self._in_flight

    def snapshot(self) -> dict[str, Any]:
        """Counters and the current estimate, for logs and the benchmark."""
        with self._cond:
            self._leak(self._clock())
            return {
                "requests": self.requests,
                "throttled": self.throttled,
                "max_in_flight": self.max_in_flight_seen,
                "waits": self.waits,
                "wait_s": round(self.wait_s, 3),
                "estimated_level": round(self._level, 2),
                "hwm": self._hwm,
                "window": self._window,
                "allowed_in_flight": self._limit(),
            }


_registry: dict[tuple[str, str], ThrottleLimiter] = {}
_registry_lock = threading.Lock()


def limiter_for(base_url: str, token: str) -> ThrottleLimiter:
    """The process-wide limiter of ``token`` on ``base_url`` (created on first use).

    Keyed by a hash so the registry never holds the token itself.
    """
    key = (base_url.rstrip("/").lower(), hashlib.sha256(token.encode()).hexdigest())
    with _registry_lock:
        limiter = _registry.get(key)
        if limiter is None:
            limiter = _registry[key] = ThrottleLimiter()
        return limiter
