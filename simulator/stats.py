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


class SimulatorStats:
    """Counters and the request log; read them freely, they are updated under a lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = 0
        self.throttled = 0
        self.errors_5xx = 0
        self.dropped = 0
        self.connections_opened = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.records: list[RequestRecord] = []

    def reset(self) -> None:
        with self._lock:
            self.requests = self.throttled = self.errors_5xx = self.dropped = 0
            self.connections_opened = 0
            self.max_in_flight = self.in_flight
            self.records = []

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
            self.records.append(record)
            if throttled:
                self.throttled += 1
            if record.status == 0:
                self.dropped += 1
            elif record.status >= 500:
                self.errors_5xx += 1

    def by_path(self, pattern: str) -> list[RequestRecord]:
        """Records whose path matches the regular expression ``pattern`` (re.search)."""
        regex = re.compile(pattern)
        with self._lock:
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
