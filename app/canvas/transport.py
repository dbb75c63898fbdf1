"""One Canvas host, one token: every GET of the client, sent under the limiter and retried.

:class:`CanvasTransport` sends every GET of a :class:`~app.canvas.client.CanvasAPIService`.
Each attempt takes a slot from the token's limiter (so the requests in flight never overflow
Canvas's bucket), reads the whole body while holding it, and tells the limiter what
``X-Rate-Limit-Remaining`` and ``X-Request-Cost`` said (:mod:`app.canvas.throttle`).

The loop here only sequences; the decisions live elsewhere: which failures are retried and how
long to wait (:mod:`app.canvas.retry`), what an exception means (:mod:`app.canvas.failures`),
the token's refresh and refusal (:mod:`app.canvas.credentials`). A 401 with
``WWW-Authenticate`` and every other 4xx are raised at once (after one refresh, when the
transport has a refresher).

Bounded work: the base URL is checked against the outbound policy when the transport is built
(a URL saved under a looser configuration stops working), every connection goes through the
outbound guard, and every attempt runs under :class:`~app.outbound_limits.Limits`: it ends by
its wall-clock ``deadline`` (:class:`CanvasTimeout`, not retried), and its body is streamed and
cut off at ``MAX_BODY_BYTES`` on the wire and ``MAX_DECODED_BYTES`` after gzip/deflate decoding
(:class:`ResponseTooLarge`).
"""

from __future__ import annotations

import logging
import time
from typing import Self
from urllib.parse import urlsplit

import requests

from app.canvas.credentials import Credentials, Refresher
from app.canvas.errors import BadResponse, InvalidToken, error_for_response, says_token_invalid
from app.canvas.failures import ATTEMPT_ERRORS, Failure, Where, failure_for
from app.canvas.options import ClientOptions
from app.canvas.ratelimit import Slot, ThrottleLimiter, limiter_for
from app.canvas.retry import RetryKind, parse_retry_after
from app.canvas.session import BearerAuth, build_session, origin_of
from app.canvas.stats import ClientStats
from app.canvas.throttle import bucket_report
from app.outbound import STRICT, OutboundPolicy
from app.outbound_limits import Limits
from app.security import mask_token, validate_canvas_url

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 8 * 1024 * 1024  # one response on the wire; a Canvas page is well under 1 MiB
MAX_DECODED_BYTES = 16 * 1024 * 1024  # the same after gzip/deflate (a 1000:1 bomb stops here)
Params = list[tuple[str, str]]
DEFAULT_OPTIONS = ClientOptions()


class CanvasTransport:
    """GETs for one token on one Canvas host, with retries, the limiter and counters.

    :param base_url: the Canvas address, e.g. ``https://canvas.example.edu`` (a trailing
        ``/api/v1`` is accepted).
    :param token: the access token; it is only ever sent in the ``Authorization`` header, and
        only to ``base_url``'s origin.
    :param options: timeouts, deadline, retry policy, user agent (:class:`ClientOptions`).
    :param policy: where connections may go (:class:`~app.outbound.OutboundPolicy`); the
        base URL is checked against it here and raises ``InvalidCanvasURL`` if refused.
    :param limiter: the throttle limiter; by default the process-wide one of this token.
    :param refresher: asked for a new token when Canvas says this one expired (OAuth2).
    """

    max_body_bytes = MAX_BODY_BYTES
    max_decoded_bytes = MAX_DECODED_BYTES

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        options: ClientOptions = DEFAULT_OPTIONS,
        policy: OutboundPolicy = STRICT,
        limiter: ThrottleLimiter | None = None,
        refresher: Refresher | None = None,
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
        self.options = options
        self.retry = options.retry
        self._origin = origin_of(root)
        self._token_hint = mask_token(token)
        self.limiter = limiter if limiter is not None else limiter_for(root, token)
        self.stats = ClientStats(keep_records=options.record_requests, host=self.host)
        self._session = build_session(
            token,
            self._origin,
            user_agent=options.user_agent,
            on_retry=self.stats.add_retry,
            policy=policy,
            limits=Limits(options.deadline, self.max_body_bytes, self.max_decoded_bytes,
                          decode=True),
        )
        self.credentials = Credentials(token, refresher, self._use_token, self.host)
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
        endpoint = self._endpoint_of(url)
        attempt = timeouts = 0
        refreshed = False
        while True:
            sent_with = self.credentials.token
            self.credentials.check_not_refused(sent_with, endpoint)
            outcome = self._attempt(url, params, endpoint, attempt)
            if isinstance(outcome, Failure):
                timeouts += outcome.kind is RetryKind.TIMEOUT
                if outcome.kind is RetryKind.NEVER or not self.retry.allows(
                    attempt, timeouts=timeouts
                ):
                    raise outcome.error
                reason, retry_after = type(outcome.error).__name__, None
            elif outcome.status_code < 300:
                return outcome
            elif not refreshed and self._renewed(outcome, sent_with):
                refreshed = True  # once per request: a new token refused again is final
                continue
            else:
                reason = self._reason_to_retry(outcome, endpoint, attempt, sent_with)
                retry_after = parse_retry_after(outcome.headers.get("retry-after"))
            self._back_off(endpoint, attempt, reason, retry_after)
            attempt += 1

    def _endpoint_of(self, url: str) -> str:
        """The path of ``url``; a link to another host would carry the token there: refused."""
        if origin_of(url) != self._origin:
            raise BadResponse(
                f"Canvas at {self.host} sent a link to another host ({origin_of(url)}): "
                "GradeSync will not send your token there; report it if it keeps happening.",
                host=self.host,
                endpoint=urlsplit(url).path,
            )
        return urlsplit(url).path

    def _renewed(self, response: requests.Response, sent_with: str) -> bool:
        """Whether a 401 blaming the token got a new token to repeat the request with."""
        return (
            self.credentials.renewable
            and says_token_invalid(response)
            and self.credentials.renew(sent_with)
        )

    def _reason_to_retry(
        self, response: requests.Response, endpoint: str, attempt: int, sent_with: str
    ) -> str:
        """Why this error answer is retried; raises its exception when it is not."""
        if response.status_code < 400 or response.status_code == 401:
            error = error_for_response(response, host=self.host, endpoint=endpoint)
            if isinstance(error, InvalidToken):
                self.credentials.refused(sent_with, error)  # queued requests stop here
            raise error
        reason = self.retry.reason_to_retry(response)
        if reason is None:
            raise error_for_response(response, host=self.host, endpoint=endpoint)
        if not self.retry.allows(attempt):
            raise error_for_response(response, host=self.host, endpoint=endpoint, retries=attempt)
        return reason

    def _back_off(
        self, endpoint: str, attempt: int, reason: str, retry_after: float | None
    ) -> None:
        """Wait before retry number ``attempt + 1``, logged and counted."""
        delay = self.retry.delay(attempt, retry_after)
        # Throttles are routine (the limiter adapts); server and network faults are not.
        logger.log(
            logging.INFO if reason == "throttled" else logging.WARNING,
            "Canvas %s %s: %s; retry %d/%d in %.2f s",
            self.host, endpoint, reason, attempt + 1, self.retry.max_retries, delay,
        )
        self.stats.add_retry(delay)
        time.sleep(delay)

    def _use_token(self, token: str) -> None:
        """Send ``token`` from now on (after a refresh)."""
        self._session.auth = BearerAuth(token, self._origin)

    def _attempt(
        self, url: str, params: Params | None, endpoint: str, attempt: int
    ) -> requests.Response | Failure:
        """One request under a limiter slot: the response, or why there is none."""
        response: requests.Response | None = None
        slot = self.limiter.acquire()
        start = self.stats.started()
        try:
            # Never follow a redirect: the next hop was not checked by the SSRF guard.
            # The whole body is read inside the call (within the deadline and the size
            # limits), while holding the slot.
            response = self._session.get(
                url, params=params, timeout=self.options.timeout, allow_redirects=False
            )
        except ATTEMPT_ERRORS as exc:
            where = Where(self.host, endpoint, self.options.timeout, self.options.deadline)
            return failure_for(exc, where)
        finally:
            self._settle(slot, start, response, endpoint, attempt)
        return response

    def _settle(self, slot: Slot, start: float, response: requests.Response | None,
                endpoint: str, attempt: int) -> None:
        """Hand the limiter what the response said about the bucket; count the attempt."""
        if response is None:
            self.limiter.release(slot, failed=True)
            self.stats.finished(
                start, endpoint=endpoint, status=None, nbytes=0, attempt=attempt, throttled=False
            )
            return
        report = bucket_report(response)
        self.limiter.release(slot, remaining=report.remaining, cost=report.cost,
                             throttled=report.throttled)
        if response.status_code < 400:
            self.limiter.note_accepted()
        size = len(response.content)
        self.stats.finished(start, endpoint=endpoint, status=response.status_code, nbytes=size,
                            attempt=attempt, throttled=report.throttled)
        logger.debug("GET %s%s -> %d (%d B, remaining %s, cost %s)",
                     self.host, endpoint, response.status_code, size, report.remaining,
                     report.cost)
