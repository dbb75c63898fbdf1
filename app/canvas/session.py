"""Transport pieces of the Canvas client: the pooled session, auth, back-off and counters.

Retries are split on purpose. urllib3's ``Retry`` retries only failures to *connect* (nothing
reached Canvas, so retrying is always safe and costs no bucket units); it counts them through a
hook so they show in :class:`ClientStats`. Everything the server answered or may have seen
(5xx, 403/429 throttles whose text body urllib3 cannot read, dropped connections, read
timeouts) is retried by the client's own loop, under one policy and one counter.
"""

from __future__ import annotations

import email.utils
import random
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC
from typing import Any
from urllib.parse import urlsplit

import requests
from urllib3.util.retry import Retry

import clock
from app import metrics
from app.outbound import STRICT, OutboundPolicy, guarded_session
from app.outbound_limits import Limits
from app.security import mask_token

USER_AGENT = "GradeSync/0.1 (+https://github.com/gradesync)"
POOL_CONNECTIONS = 10  # host pools kept (the original design's numbers)
POOL_MAXSIZE = 20  # connections kept per host: >= the limiter's hard cap on requests in flight
MAX_RETRY_AFTER = 120.0


class CountingRetry(Retry):
    """urllib3 ``Retry`` that calls ``on_retry`` each time it grants a retry."""

    def __init__(self, *args: Any, on_retry: Callable[[], None] | None = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.on_retry = on_retry

    def new(self, **kw: Any) -> CountingRetry:
        retry = super().new(**kw)
        retry.on_retry = self.on_retry
        return retry

    def increment(self, *args: Any, **kw: Any) -> CountingRetry:
        retry = super().increment(*args, **kw)  # raises MaxRetryError once exhausted
        if self.on_retry is not None:
            self.on_retry()
        return retry


class BearerAuth(requests.auth.AuthBase):
    """Adds ``Authorization: Bearer`` only to requests for the Canvas origin it belongs to."""

    def __init__(self, token: str, origin: str) -> None:
        self._token = token
        self._origin = origin

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if origin_of(request.url or "") == self._origin:
            request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return f"BearerAuth({mask_token(self._token)} for {self._origin})"


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL, lower-cased."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def build_session(
    token: str,
    origin: str,
    *,
    user_agent: str = USER_AGENT,
    connect_retries: int = 3,
    on_retry: Callable[[], None] | None = None,
    policy: OutboundPolicy = STRICT,
    limits: Limits | None = None,
) -> requests.Session:
    """One pooled session for one client: keep-alive, connect retries, UA and auth.

    Every connection goes through the outbound guard (:mod:`app.outbound`) under ``policy``,
    and every request within ``limits`` (its deadline and body caps).
    """
    retry = CountingRetry(
        total=connect_retries,
        connect=connect_retries,
        read=False,  # re-raise read errors (timeouts, dropped connections) to the loop
        status=0,
        other=0,
        redirect=None,
        status_forcelist=None,
        raise_on_status=False,
        backoff_factor=0.2,
        backoff_jitter=0.2,
        on_retry=on_retry,
    )
    session = guarded_session(
        policy,
        limits=limits or Limits(),
        pool_connections=POOL_CONNECTIONS,
        pool_maxsize=POOL_MAXSIZE,
        max_retries=retry,
    )
    session.headers.update({"User-Agent": user_agent, "Accept": "application/json"})
    session.auth = BearerAuth(token, origin)
    return session


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


def header_float(response: requests.Response, name: str) -> float | None:
    """A numeric header (names are case-insensitive in requests), or None."""
    try:
        return float(response.headers[name])
    except (KeyError, ValueError):
        return None


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
