"""Thread-safe request statistics of a simulator run."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestRecord:
    """One request as the server saw it; ``status`` 0 means the connection was dropped."""

    token: str | None
    method: str
    path: str
    query: dict[str, list[str]]
    status: int
    start: float  # time.monotonic()
    end: float
    connection_id: int


SETTLE_SECONDS = 2.0


class SimulatorStats:
    """Counters and the request log; read them freely, they are updated under a lock.

    A request is logged just after its answer is written, so a client can hold the answer
    before the log has it. Reading :attr:`records` (or :meth:`by_path`) therefore first waits,
    up to ``SETTLE_SECONDS``, for the requests in flight to be logged.
    """

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self.requests = 0
        self.throttled = 0
        self.errors_5xx = 0
        self.dropped = 0
        self.connections_opened = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self._records: list[RequestRecord] = []

    @property
    def records(self) -> list[RequestRecord]:
        """The log of finished requests, oldest first (a copy), once the ones in flight land."""
        with self._lock:
            self._lock.wait_for(lambda: self.in_flight <= 0, timeout=SETTLE_SECONDS)
            return list(self._records)

    def reset(self) -> None:
        with self._lock:
            self.requests = self.throttled = self.errors_5xx = self.dropped = 0
            self.connections_opened = 0
            self.max_in_flight = self.in_flight
            self._records = []

    def connection_opened(self) -> None:
        with self._lock:
            self.connections_opened += 1

    def request_started(self) -> None:
        with self._lock:
            self.requests += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def request_finished(self, record: RequestRecord, *, throttled: bool = False) -> None:
        with self._lock:
            self.in_flight -= 1
            self._records.append(record)
            self._lock.notify_all()
            if throttled:
                self.throttled += 1
            if record.status == 0:
                self.dropped += 1
            elif record.status >= 500:
                self.errors_5xx += 1

    def by_path(self, pattern: str) -> list[RequestRecord]:
        """Records whose path matches the regular expression ``pattern`` (re.search)."""
        regex = re.compile(pattern)
        return [r for r in self.records if regex.search(r.path)]

    def snapshot(self) -> dict[str, int]:
        """The counters as one consistent dict (handy for logs and the benchmark)."""
        with self._lock:
            return {
                "requests": self.requests,
                "throttled": self.throttled,
                "errors_5xx": self.errors_5xx,
                "dropped": self.dropped,
                "connections_opened": self.connections_opened,
                "max_in_flight": self.max_in_flight,
            }
