"""The retry policy of the Canvas client: which failures get another attempt, and when.

Retries are for GETs only, and are split on purpose. urllib3 retries failures to *connect*
underneath (nothing reached Canvas; :mod:`app.canvas.session`). Everything Canvas answered or
may have seen goes through :class:`RetryPolicy`, one policy and one counter per request:

- throttles (:func:`~app.canvas.throttle.is_throttle`: 429, or 403 "Rate Limit Exceeded") and
  500/502/503/504: up to ``max_retries`` retries;
- dropped connections and broken responses: the same;
- read timeouts: at most ``timeout_retries`` of those retries, since each may have taken a
  minute already;
- anything else (another 4xx, a refused address, a body over the limit, a blown deadline): never.

The wait is exponential with jitter and honours ``Retry-After`` (:func:`backoff_delay`).
"""

from __future__ import annotations

import email.utils
import enum
import random
from dataclasses import dataclass
from datetime import UTC

import requests

import clock
from app.canvas.throttle import is_throttle

RETRY_STATUSES = frozenset({500, 502, 503, 504})
MAX_RETRY_AFTER = 120.0


class RetryKind(enum.Enum):
    """Whether a failed attempt (one that got no answer) may be tried again."""

    NEVER = "never"  # another attempt cannot help (or urllib3 already retried it)
    AGAIN = "again"  # dropped connection, broken response
    TIMEOUT = "timeout"  # a read timeout: retried at most ``timeout_retries`` times


@dataclass(frozen=True)
class RetryPolicy:
    """How many retries a request gets and how long it waits before each.

    :param max_retries: retries of a 5xx, a dropped connection or a throttle before giving up.
    :param timeout_retries: how many of those may follow a read timeout.
    :param backoff_factor: first back-off step in seconds (doubles per retry).
    :param max_backoff: the longest step, before ``Retry-After``.
    """

    max_retries: int = 5
    timeout_retries: int = 1
    backoff_factor: float = 0.5
    max_backoff: float = 30.0

    def reason_to_retry(self, response: requests.Response) -> str | None:
        """Why an error answer deserves another attempt ("throttled", "HTTP 503"), or None."""
        if is_throttle(response):
            return "throttled"
        if response.status_code in RETRY_STATUSES:
            return f"HTTP {response.status_code}"
        return None

    def allows(self, attempt: int, *, timeouts: int = 0) -> bool:
        """Whether retry number ``attempt + 1`` is allowed after ``timeouts`` read timeouts."""
        return attempt < self.max_retries and timeouts <= self.timeout_retries

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``attempt + 1``."""
        return backoff_delay(
            attempt, factor=self.backoff_factor, maximum=self.max_backoff, retry_after=retry_after
        )


def backoff_delay(
    attempt: int,
    *,
    factor: float,
    maximum: float,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before retry number ``attempt + 1``.

    Exponential with "equal jitter": half the step is fixed (so a throttled client really
    slows down) and half random (so parallel workers do not retry in lock-step). A
    ``Retry-After`` from the server wins when it asks for longer.
    """
    step: float = min(maximum, factor * (2**attempt))  # int ** int is Any in the stubs
    half = step / 2
    # jitter, not crypto
    jitter = rng.uniform(0, half) if rng is not None else random.uniform(0, half)  # noqa: S311
    delay = half + jitter
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return delay


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds: a number of seconds or an HTTP date; None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - clock.now()).total_seconds())
