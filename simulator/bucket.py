"""Canvas's per-token leaky bucket (CANVAS_API.md §2, request_throttle.rb + its Lua script).

Per request: *reserve* ``+up_front_cost``; *check* ``count >= hwm`` (throttled); run the
request; *settle* ``cost - up_front_cost``. The leak is applied on every touch, like the Lua
script does, so an idle bucket drains at ``outflow`` units per second.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class LeakyBucket:
    """One token's bucket; every method is thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._count = 0.0
        self._last_touched: float | None = None

    def increment(self, delta: float, *, outflow: float, maximum: float) -> float:
        """Leak, add ``delta``, clamp to [0, maximum]; returns the new count."""
        with self._lock:
            now = self._clock()
            if self._count > 0 and self._last_touched is not None:
                self._count = max(0.0, self._count - outflow * (now - self._last_touched))
            self._count = min(max(self._count + delta, 0.0), maximum)
            self._last_touched = now
            return self._count

    def peek(self, *, outflow: float) -> float:
        """The count as it would be now, without touching the bucket."""
        with self._lock:
            if self._last_touched is None or self._count <= 0:
                return self._count
            return max(0.0, self._count - outflow * (self._clock() - self._last_touched))


class BucketRegistry:
    """Buckets by access token (Canvas keys the bucket on a hash of the token)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, LeakyBucket] = {}

    def get(self, token: str) -> LeakyBucket:
        with self._lock:
            bucket = self._buckets.get(token)
            if bucket is None:
                bucket = self._buckets[token] = LeakyBucket(self._clock)
            return bucket

    def clear(self) -> None:
        """Forget every bucket (as if each had sat idle for an hour)."""
        with self._lock:
            self._buckets.clear()
