"""The Canvas client's HTTP session: connection pool, keep-alive, auth header, connect retries.

urllib3's ``Retry`` here retries only failures to *connect* (nothing reached Canvas, so
retrying is always safe and costs no bucket units); it counts them through a hook so they show
in :class:`~app.canvas.stats.ClientStats`. Everything the server answered or may have seen is
the retry policy's (:mod:`app.canvas.retry`). The token goes only to the Canvas origin.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests
from urllib3.util.retry import Retry

from app.canvas.options import USER_AGENT
from app.outbound import STRICT, OutboundPolicy, guarded_session
from app.outbound_limits import Limits
from app.security import mask_token

POOL_CONNECTIONS = 10  # host pools kept (the original design's numbers)
POOL_MAXSIZE = 20  # connections kept per host: >= the limiter's hard cap on requests in flight


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
        shared=True,  # a worker's next sync reuses these connections (app.outbound)
        pool_connections=POOL_CONNECTIONS,
        pool_maxsize=POOL_MAXSIZE,
        max_retries=retry,
    )
    session.headers.update({"User-Agent": user_agent, "Accept": "application/json"})
    session.auth = BearerAuth(token, origin)
    return session
