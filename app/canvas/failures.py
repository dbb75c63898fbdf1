"""What an attempt that got no answer means: the exception for people, and whether to retry.

:func:`failure_for` turns what ``requests``, urllib3 and the outbound guard raised into a
:class:`Failure`: the :class:`~app.canvas.errors.CanvasError` a user reads (the host, what
happened, what to do; never the token) and the :class:`~app.canvas.retry.RetryKind` the retry
policy decides on. Nothing here mutates an exception.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

import requests
from urllib3.exceptions import ConnectTimeoutError

from app.canvas.errors import (
    CanvasError,
    CanvasTimeout,
    CanvasUnavailable,
    ResponseTooLarge,
    UnsafeAddress,
)
from app.canvas.retry import RetryKind
from app.outbound import OutboundRefused
from app.outbound_limits import BodyTooLarge, OutboundTimeout


class _At(TypedDict):
    host: str
    endpoint: str


@dataclass(frozen=True)
class Failure:
    """One attempt's failure: the error to raise and whether another attempt may help."""

    error: CanvasError
    kind: RetryKind


@dataclass(frozen=True)
class Where:
    """The attempt a failure belongs to, for its message."""

    host: str
    endpoint: str
    timeout: tuple[float, float]
    deadline: float


def failure_for(exc: Exception, where: Where) -> Failure:
    """The :class:`Failure` for an exception raised while sending one request."""
    host, endpoint = where.host, where.endpoint
    at: _At = {"host": host, "endpoint": endpoint}
    if isinstance(exc, BodyTooLarge):
        return Failure(too_large(host, endpoint, exc.what, exc.limit), RetryKind.NEVER)
    if isinstance(exc, OutboundTimeout):  # it already had the whole deadline
        return Failure(CanvasTimeout(
            f"Canvas at {host} did not finish answering {endpoint} within "
            f"{where.deadline:g} s: GradeSync stopped waiting; Canvas may be overloaded, "
            "try again later.", **at), RetryKind.NEVER)
    if isinstance(exc, OutboundRefused):
        return Failure(UnsafeAddress(
            f"GradeSync will not connect to Canvas at {host}: {exc}. "
            "Enter the public address of your Canvas in Settings.", **at), RetryKind.NEVER)
    if isinstance(exc, requests.ConnectTimeout):  # urllib3 has already retried the connect
        return Failure(CanvasTimeout(
            f"Canvas at {host} did not accept a connection within {where.timeout[0]:g} s: "
            "check your connection and the Canvas address.", **at), RetryKind.NEVER)
    if isinstance(exc, requests.Timeout):
        return Failure(CanvasTimeout(
            f"Canvas at {host} did not answer {endpoint} within {where.timeout[1]:g} s: "
            "Canvas may be overloaded; try again later.", **at), RetryKind.TIMEOUT)
    if isinstance(exc, requests.exceptions.SSLError):
        return Failure(CanvasUnavailable(
            f"The secure connection to Canvas at {host} failed ({short_reason(exc)}): "
            "check the Canvas address; retrying will not help.", **at), RetryKind.NEVER)
    if isinstance(exc, requests.ConnectionError | requests.exceptions.ChunkedEncodingError):
        # urllib3 has already retried failures to connect; only dropped connections and
        # broken responses are worth another round here.
        kind = RetryKind.NEVER if _failed_to_connect(exc) else RetryKind.AGAIN
        return Failure(CanvasUnavailable(
            f"Cannot reach Canvas at {host} ({short_reason(exc)}): check your "
            "connection and the Canvas address, then try again.", **at), kind)
    # too many redirects, an invalid URL...
    return Failure(CanvasError(
        f"GradeSync could not call {endpoint} on Canvas at {host} ({type(exc).__name__}): "
        "check the Canvas address in Settings.", **at), RetryKind.NEVER)


# What ``failure_for`` understands; anything else is a bug and propagates.
ATTEMPT_ERRORS = (BodyTooLarge, OutboundTimeout, OutboundRefused, requests.RequestException)


def too_large(host: str, endpoint: str, what: str, limit: int) -> ResponseTooLarge:
    """A body over ``limit`` bytes (``what``: on the wire, or decoded)."""
    return ResponseTooLarge(
        f"Canvas at {host} sent a response for {endpoint} over GradeSync's limit of "
        f"{limit // (1024 * 1024)} MiB ({what}): GradeSync stopped reading it; check the "
        "Canvas address, and report it if it is your school's Canvas.",
        host=host,
        endpoint=endpoint,
    )


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


def short_reason(exc: BaseException) -> str:
    """A one-line reason for a connection failure, without URLs or headers."""
    text = repr(exc)
    for marker, reason in _REASONS:
        if marker in text:
            return reason
    return type(exc).__name__
