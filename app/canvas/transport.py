"""One Canvas host, one token: a pooled session, retries, the throttle limiter, the counters.

:class:`CanvasTransport` sends every GET of a :class:`~app.canvas.client.
CanvasAPIService`. Each attempt takes a slot from the token's limiter (so the requests in
flight never overflow Canvas's bucket), reads the whole body while holding it, and tells the
limiter what ``X-Rate-Limit-Remaining`` and ``X-Request-Cost`` said.

Retries (GET only) run in one loop under one policy and one counter: throttles (403 "Rate
Limit Exceeded" - a text body urllib3 cannot see - and 429), 500/502/503/504, dropped
connections and broken responses, then read timeouts (at most ``timeout_retries``, since each
may have taken a minute). The back-off is exponential with jitter and honours ``Retry-After``;
the retry then queues behind the limiter again, which has already slowed down if the bucket
is full. Failures to connect are retried by urllib3 underneath and counted through its hook.
A 401 with ``WWW-Authenticate`` (bad, expired or revoked token) and every other 4xx are
raised at once, except that a transport given a ``refresher`` (OAuth2) asks it for a new
token once per request on such a 401 and repeats the request with it: the threads that hit
the same expired token share one refresh (no storm), and a refused refresh raises the 401.
Once Canvas refused a token, the transport's later requests raise at once without sending it.

Bounded work: the base URL is checked against the outbound policy when the transport is built
(a URL saved under a looser configuration stops working), every connection goes through the
outbound guard, and every attempt runs under :class:`~app.outbound_limits.Limits`: it ends by
its wall-clock ``deadline`` (a server trickling one byte every few seconds cannot hold the
thread; :class:`CanvasTimeout`, not retried), and its body is streamed and cut off at
``MAX_BODY_BYTES`` on the wire and ``MAX_DECODED_BYTES`` after gzip/deflate decoding
(:class:`ResponseTooLarge`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Self
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import ConnectTimeoutError

from app.canvas.errors import (
    BadResponse,
    CanvasError,
    CanvasTimeout,
    CanvasUnavailable,
    InvalidToken,
    ResponseTooLarge,
    UnsafeAddress,
    error_for_response,
    is_throttle,
    says_token_invalid,
)
from app.canvas.ratelimit import Slot, ThrottleLimiter, limiter_for
from app.canvas.session import (
    USER_AGENT,
    BearerAuth,
    ClientStats,
    backoff_delay,
    build_session,
    header_float,
    origin_of,
    parse_retry_after,
)
from app.outbound import STRICT, OutboundPolicy, OutboundRefused
from app.outbound_limits import BodyTooLarge, Limits, OutboundTimeout
from app.security import mask_token, validate_canvas_url

logger = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({500, 502, 503, 504})
MAX_BODY_BYTES = 8 * 1024 * 1024  # one response on the wire; a Canvas page is well under 1 MiB
MAX_DECODED_BYTES = 16 * 1024 * 1024  # the same after gzip/deflate (a 1000:1 bomb stops here)
# One attempt, connect to last byte: Canvas's load balancers give up at 60 s of silence, so a
# healthy Canvas always ends sooner; a server trickling bytes is cut off here.
DEADLINE_S = 90.0
Params = list[tuple[str, str]]


class CanvasTransport:
    """GETs for one token on one Canvas host, with retries, the limiter and counters.

    :param base_url: the Canvas address, e.g. ``https://canvas.example.edu`` (a trailing
        ``/api/v1`` is accepted).
    :param token: the access token; it is only ever sent in the ``Authorization`` header, and
        only to ``base_url``'s origin.
    :param timeout: ``(connect, read)`` seconds for every request.
    :param max_retries: retries of a 5xx, a dropped connection or a throttle before giving up.
    :param limiter: the throttle limiter; by default the process-wide one of this token.
    :param backoff_factor: first back-off step in seconds (doubles per retry).
    :param timeout_retries: retries of a read timeout.
    :param record_requests: keep a record of every attempt in ``stats.records``.
    :param policy: where connections may go (:class:`~app.outbound.OutboundPolicy`); the
        base URL is checked against it here and raises ``InvalidCanvasURL`` if refused.
    :param deadline: seconds one attempt may take in all (connect, headers and body).
    """

    max_body_bytes = MAX_BODY_BYTES
    max_decoded_bytes = MAX_DECODED_BYTES

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: tuple[float, float] = (5.0, 60.0),
        max_retries: int = 5,
        limiter: ThrottleLimiter | None = None,
        backoff_factor: float = 0.5,
        max_backoff: float = 30.0,
        timeout_retries: int = 1,
        user_agent: str = USER_AGENT,
        record_requests: bool = False,
        policy: OutboundPolicy = STRICT,
        refresher: Callable[[], str | None] | None = None,
        deadline: float = DEADLINE_S,
    ) -> None:
        if not token:
            raise ValueError("a Canvas access token is required")
        root = validate_canvas_url(
            base_url.strip().rstrip("/").removesuffix("/api/v1"),
            allow_private=policy.allow_private,
            allowed_hosts=policy.allowed_hosts,
            resolver=None,  # each connection resolves and checks the addresses itself
        )
        self.base_url = root
        self.api_url = f"{root}/api/v1"
        self.host = urlsplit(root).netloc or root
        self._origin = origin_of(root)
        self._token_hint = mask_token(token)
        self.timeout = timeout
        self.deadline = deadline
        self.max_retries = max_retries
        self.timeout_retries = timeout_retries
        self.backoff_factor = backoff_factor
        self.max_backoff = max_backoff
        self.limiter = limiter if limiter is not None else limiter_for(root, token)
        self.stats = ClientStats(keep_records=record_requests, host=self.host)
        self._session = build_session(
            token,
            self._origin,
            user_agent=user_agent,
            on_retry=self.stats.add_retry,
            policy=policy,
            limits=Limits(deadline, self.max_body_bytes, self.max_decoded_bytes, decode=True),
        )
        self._token = token
        self._refresher = refresher
        self._refresh_lock = threading.Lock()
        self._refused: tuple[str, InvalidToken] | None = None  # (token, Canvas's verdict)
        self._refresh_failure: tuple[str, CanvasError] | None = None
        logger.debug("Canvas transport for %s with token %s", self.host, self._token_hint)

    def __repr__(self) -> str:
        return f"CanvasTransport({self.base_url!r}, token={self._token_hint})"

    def close(self) -> None:
        """Close the pooled connections."""
        self._session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def get(self, url: str, params: Params | None = None) -> requests.Response:
        """GET ``url`` (a Canvas URL) with retries; returns a 2xx response or raises."""
        if origin_of(url) != self._origin:
            # A link to another host would carry the token there: refuse it.
            raise BadResponse(
                f"Canvas at {self.host} sent a link to another host ({origin_of(url)}): "
                "GradeSync will not send your token there; report it if it keeps happening.",
                host=self.host,
                endpoint=urlsplit(url).path,
            )
        endpoint = urlsplit(url).path
        attempt = timeouts = 0
        refreshed = False
        while True:
            sent_with = self._token
            self._raise_if_refused(sent_with, endpoint)
            response, failure = self._attempt(url, params, endpoint, attempt)
            if response is not None and response.status_code < 300:
                return response
            if (
                response is not None
                and not refreshed
                and self._refresher is not None
                and says_token_invalid(response)
                and self._renew(sent_with)
            ):
                refreshed = True  # once per request: a new token refused again is final
                continue
            if response is not None and response.status_code < 400:
                raise error_for_response(response, host=self.host, endpoint=endpoint)
            if response is not None and response.status_code == 401:
                error = error_for_response(response, host=self.host, endpoint=endpoint)
                if isinstance(error, InvalidToken):
                    self._refused = (sent_with, error)  # queued requests stop here
                raise error
            retry_after: float | None = None
            if failure is not None:
                # A read timeout may have cost a minute already: retry it fewer times.
                timeouts += isinstance(failure, CanvasTimeout)
                if (
                    not failure.retryable
                    or attempt >= self.max_retries
                    or timeouts > self.timeout_retries
                ):
                    raise failure
                reason = type(failure).__name__
            else:
                assert response is not None
                throttled = is_throttle(response)
                if not throttled and response.status_code not in RETRY_STATUSES:
                    raise error_for_response(response, host=self.host, endpoint=endpoint)
                if attempt >= self.max_retries:
                    raise error_for_response(
                        response, host=self.host, endpoint=endpoint, retries=attempt
                    )
                retry_after = parse_retry_after(response.headers.get("retry-after"))
                reason = "throttled" if throttled else f"HTTP {response.status_code}"
            delay = backoff_delay(
                attempt,
                factor=self.backoff_factor,
                maximum=self.max_backoff,
                retry_after=retry_after,
            )
            # Throttles are routine (the limiter adapts); server and network faults are not.
            logger.log(
                logging.INFO if reason == "throttled" else logging.WARNING,
                "Canvas %s %s: %s; retry %d/%d in %.2f s",
                self.host,
                endpoint,
                reason,
                attempt + 1,
                self.max_retries,
                delay,
            )
            self.stats.add_retry(delay)
            time.sleep(delay)
            attempt += 1

    def _raise_if_refused(self, token: str, endpoint: str) -> None:
        """After a refusal, the requests queued behind it fail here instead of sending it again."""
        refused = self._refused
        if refused is not None and refused[0] == token:
            verdict = refused[1]
            raise InvalidToken(verdict.message, reason=verdict.reason, host=self.host,
                               endpoint=endpoint, status=verdict.status)

    def _renew(self, failed: str) -> bool:
        """A new token after ``failed`` was refused: one refresh however many threads ask."""
        assert self._refresher is not None
        with self._refresh_lock:
            if self._token != failed:
                return True  # another thread refreshed meanwhile
            if self._refresh_failure is not None and self._refresh_failure[0] == failed:
                raise self._refresh_failure[1]  # Canvas could not renew it a moment ago
            try:
                token = self._refresher()
            except CanvasError as exc:  # the token endpoint is down or throttling
                self._refresh_failure = (failed, exc)
                raise
            if not token:
                return False
            self._token = token
            self._session.auth = BearerAuth(token, self._origin)
            logger.info("Canvas %s: access token refreshed", self.host)
            return True

    def _attempt(
        self, url: str, params: Params | None, endpoint: str, attempt: int
    ) -> tuple[requests.Response | None, CanvasError | None]:
        """One request under a limiter slot: (response, None) or (None, a retryable error)."""
        response: requests.Response | None = None
        failure: CanvasError | None = None
        slot = self.limiter.acquire()
        start = self.stats.started()
        try:
            # Never follow a redirect: the next hop was not checked by the SSRF guard.
            # The whole body is read inside the call (within the deadline and the size
            # limits), while holding the slot.
            response = self._session.get(
                url, params=params, timeout=self.timeout, allow_redirects=False
            )
        except BodyTooLarge as exc:
            failure = self._too_large(endpoint, exc.what, exc.limit)
            failure.retryable = False
        except OutboundTimeout:
            failure = CanvasTimeout(
                f"Canvas at {self.host} did not finish answering {endpoint} within "
                f"{self.deadline:g} s: GradeSync stopped waiting; Canvas may be overloaded, "
                "try again later.",
                host=self.host,
                endpoint=endpoint,
            )
            failure.retryable = False  # it already had the whole deadline
        except OutboundRefused as exc:
            failure = UnsafeAddress(
                f"GradeSync will not connect to Canvas at {self.host}: {exc}. "
                "Enter the public address of your Canvas in Settings.",
                host=self.host,
                endpoint=endpoint,
            )
            failure.retryable = False
        except requests.ConnectTimeout:
            failure = CanvasTimeout(
                f"Canvas at {self.host} did not accept a connection within "
                f"{self.timeout[0]:g} s: check your connection and the Canvas address.",
                host=self.host,
                endpoint=endpoint,
            )
            failure.retryable = False  # urllib3 has already retried the connect
        except requests.Timeout:
            failure = CanvasTimeout(
                f"Canvas at {self.host} did not answer {endpoint} within {self.timeout[1]:g} s: "
                "Canvas may be overloaded; try again later.",
                host=self.host,
                endpoint=endpoint,
            )
        except requests.exceptions.SSLError as exc:
            failure = CanvasUnavailable(
                f"The secure connection to Canvas at {self.host} failed ({_short_reason(exc)}): "
                "check the Canvas address; retrying will not help.",
                host=self.host,
                endpoint=endpoint,
            )
            failure.retryable = False
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            failure = CanvasUnavailable(
                f"Cannot reach Canvas at {self.host} ({_short_reason(exc)}): check your "
                "connection and the Canvas address, then try again.",
                host=self.host,
                endpoint=endpoint,
            )
            # urllib3 has already retried failures to connect; only dropped connections and
            # broken responses are worth another round here.
            failure.retryable = not _failed_to_connect(exc)
        except requests.RequestException as exc:  # too many redirects, an invalid URL...
            failure = CanvasError(
                f"GradeSync could not call {endpoint} on Canvas at {self.host} "
                f"({type(exc).__name__}): check the Canvas address in Settings.",
                host=self.host,
                endpoint=endpoint,
            )
            failure.retryable = False
        finally:
            self._settle(slot, start, response, endpoint, attempt)
        return response, failure

    def _too_large(self, endpoint: str, what: str, limit: int) -> ResponseTooLarge:
        return ResponseTooLarge(
            f"Canvas at {self.host} sent a response for {endpoint} over GradeSync's limit of "
            f"{limit // (1024 * 1024)} MiB ({what}): GradeSync stopped reading it; check the "
            "Canvas address, and report it if it is your school's Canvas.",
            host=self.host,
            endpoint=endpoint,
        )

    def _settle(self, slot: Slot, start: float, response: requests.Response | None,
                endpoint: str, attempt: int) -> None:
        """Hand the limiter what the response said about the bucket; count the attempt."""
        if response is None:
            self.limiter.release(slot, failed=True)
            self.stats.finished(
                start, endpoint=endpoint, status=None, nbytes=0, attempt=attempt, throttled=False
            )
            return
        throttled = is_throttle(response)
        remaining = header_float(response, "x-rate-limit-remaining")
        cost = header_float(response, "x-request-cost")
        self.limiter.release(slot, remaining=remaining, cost=cost, throttled=throttled)
        if response.status_code < 400:
            self.limiter.note_accepted()
        size = len(response.content)
        self.stats.finished(start, endpoint=endpoint, status=response.status_code, nbytes=size,
                            attempt=attempt, throttled=throttled)
        logger.debug("GET %s%s -> %d (%d B, remaining %s, cost %s)",
                     self.host, endpoint, response.status_code, size, remaining, cost)


def _failed_to_connect(exc: requests.RequestException) -> bool:
    """Whether no connection was ever made (refused, unresolvable, connect timeout)."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, ConnectTimeoutError)  # NewConnectionError is one too


_REASONS = (
    ("RemoteDisconnected", "the connection was closed without an answer"),
    ("Connection aborted", "the connection was closed without an answer"),
    ("Connection refused", "connection refused"),
    ("Connection reset", "connection reset"),
    ("NameResolutionError", "host name not found"),
    ("Name or service not known", "host name not found"),
    ("CERTIFICATE_VERIFY_FAILED", "certificate not trusted"),
    ("IncompleteRead", "the answer was cut off"),
    ("timed out", "timed out"),
)


def _short_reason(exc: BaseException) -> str:
    """A one-line reason for a connection failure, without URLs or headers."""
    text = repr(exc)
    for marker, reason in _REASONS:
        if marker in text:
            return reason
    return type(exc).__name__
