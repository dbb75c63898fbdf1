"""What a Canvas client counts: requests, retries, throttles, bytes and time, thread-safe.

The sync summary, the benchmark and the Prometheus recorders (:mod:`app.metrics`) read these.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

from app import metrics


@dataclass(frozen=True)
class RequestRecord:
    """One attempt on the wire (kept only when the client records requests)."""

    method: str
    endpoint: str
    status: int | None  # None: no response (connection error, timeout)
    start: float  # time.monotonic()
    end: float
    attempt: int
    bytes: int
    throttled: bool


class ClientStats:
    """Thread-safe counters of one client; the sync summary and the benchmark read them.

    ``requests`` counts attempts that went on the wire (retries included), ``retries`` every
    retry granted (by the client's loop or by urllib3 for connect errors), ``throttled`` the
    403/429 rate-limit answers, ``bytes`` response bodies, ``elapsed_s`` the summed time of the
    attempts (more than wall time when requests overlap) and ``wait_s`` the time spent backing
    off before retries.
    """

    def __init__(self, *, keep_records: bool = False, host: str | None = None) -> None:
        self._lock = threading.Lock()
        self._keep = keep_records
        self.host = host  # the Prometheus label (app.metrics), when metrics are on
        self.requests = 0
        self.retries = 0
        self.throttled = 0
        self.errors = 0
        self.bytes = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.elapsed_s = 0.0
        self.wait_s = 0.0
        self.records: list[RequestRecord] = []

    def started(self) -> float:
        with self._lock:
            self.requests += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        if self.host:
            metrics.canvas_request(self.host)
        return time.monotonic()

    def finished(
        self,
        start: float,
        *,
        endpoint: str,
        status: int | None,
        nbytes: int,
        attempt: int,
        throttled: bool,
        method: str = "GET",
    ) -> None:
        end = time.monotonic()
        with self._lock:
            self.in_flight -= 1
            self.elapsed_s += end - start
            self.bytes += nbytes
            self.throttled += int(throttled)
            self.errors += int(status is None or status >= 400)
            if throttled and self.host:
                metrics.canvas_throttled(self.host)
            if self._keep:
                self.records.append(
                    RequestRecord(method, endpoint, status, start, end, attempt, nbytes, throttled)
                )

    def add_retry(self, waited: float = 0.0) -> None:
        with self._lock:
            self.retries += 1
            self.wait_s += waited
        if self.host:
            metrics.canvas_retry(self.host)

    def snapshot(self) -> dict[str, Any]:
        """The counters as a plain dict (records as dicts when kept)."""
        with self._lock:
            data: dict[str, Any] = {
                "requests": self.requests,
                "retries": self.retries,
                "throttled": self.throttled,
                "errors": self.errors,
                "bytes": self.bytes,
                "max_in_flight": self.max_in_flight,
                "elapsed_s": round(self.elapsed_s, 3),
                "wait_s": round(self.wait_s, 3),
            }
            if self._keep:
                data["records"] = [asdict(r) for r in self.records]
            return data
