"""Every outbound call ends by its deadline and reads a bounded body (used by :mod:`app.outbound`).

Timeouts in ``requests`` are per socket operation: a server that sends one byte every few
seconds never trips a 10 s read timeout and holds the thread for ever. So every request that
leaves through :func:`app.outbound.guarded_session` runs under :class:`Limits`:

- a wall-clock **deadline** for the whole call (connect, headers and body): a process-wide
  watchdog thread shuts down the socket of a call still running at its deadline, which ends
  any blocked read at once, TLS or not; the call then raises :class:`OutboundTimeout` (a
  ``requests.Timeout``). Connect and read timeouts are also cut to the time left.
- the **body** is read inside the call, up to ``max_wire`` bytes on the wire and ``max_decoded``
  after gzip/deflate; over either, :class:`BodyTooLarge`. Calls to anything but Canvas ask for
  ``Accept-Encoding: identity`` and never inflate what comes back (``decode=False``), with a
  small cap: a webhook's or token endpoint's answer is a few hundred bytes.

The adapter applies this in its ``send``, so no caller can forget it.
"""

from __future__ import annotations

import heapq
import itertools
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
import urllib3

DEFAULT_DEADLINE_S = 30.0
SMALL_BODY_BYTES = 64 * 1024  # a webhook's or token endpoint's answer: a few hundred bytes
CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True)
class Limits:
    """The bounds of one outbound call.

    :param deadline: seconds from the start of the call to its end, body included.
    :param max_wire: body bytes read from the connection at most.
    :param max_decoded: body bytes after gzip/deflate decoding at most.
    :param decode: accept and inflate compressed bodies (Canvas); False asks for
        ``Accept-Encoding: identity`` and keeps the bytes as sent.
    """

    deadline: float = DEFAULT_DEADLINE_S
    max_wire: int = SMALL_BODY_BYTES
    max_decoded: int = SMALL_BODY_BYTES
    decode: bool = False


SMALL = Limits()


class OutboundTimeout(requests.exceptions.Timeout):
    """The call did not finish within its deadline (the message never holds the URL)."""

    def __init__(self, deadline: float) -> None:
        super().__init__(f"no complete answer within {deadline:g} s")
        self.deadline = deadline


class BodyTooLarge(requests.exceptions.RequestException):
    """The answer's body is over a limit; ``what`` says which, ``limit`` is in bytes."""

    def __init__(self, what: str, limit: int) -> None:
        super().__init__(f"the answer is over {limit} bytes ({what})")
        self.what = what
        self.limit = limit


class _Watchdog:
    """One daemon thread that calls each armed ``kill`` once its deadline has passed."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, list[Any]]] = []
        self._cond = threading.Condition()
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, deadline: float, kill: Callable[[], None]) -> list[Any]:
        """Call ``kill`` at ``deadline``; the entry is ``[kill, fired]``."""
        entry: list[Any] = [kill, False]
        with self._cond:
            heapq.heappush(self._heap, (deadline, next(self._seq), entry))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="outbound-deadline", daemon=True
                )
                self._thread.start()
            self._cond.notify()
        return entry

    @staticmethod
    def disarm(entry: list[Any]) -> None:
        entry[0] = None  # the heap entry stays until its time, then does nothing

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap:
                    self._cond.wait()
                deadline, _, entry = self._heap[0]
                wait = deadline - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                heapq.heappop(self._heap)
                kill = entry[0]
            if kill is not None:
                entry[1] = True
                try:
                    kill()
                except Exception:  # noqa: S110  (a socket already gone: nothing to end)
                    pass


WATCHDOG = _Watchdog()
_scope = threading.local()  # the deadline and armed entries of the call this thread runs


def time_left(default: Any) -> Any:
    """``default`` (seconds, None or urllib3's "default" marker) cut to the time left before
    the deadline of the call this thread is running."""
    deadline = getattr(_scope, "deadline", None)
    if deadline is None:
        return default
    left = max(0.001, deadline - time.monotonic())
    return min(float(default), left) if isinstance(default, (int, float)) else left


def watch_connection(conn: Any) -> None:
    """End ``conn``'s socket at the deadline of the call this thread is running (if any)."""
    deadline = getattr(_scope, "deadline", None)
    if deadline is None:
        return

    def kill() -> None:
        sock = getattr(conn, "sock", None)
        if sock is not None:
            # socket.socket's own shutdown, not SSLSocket's (which drops its TLS object and
            # would break the reader mid-call): the blocked recv returns at once.
            socket.socket.shutdown(sock, socket.SHUT_RDWR)

    _scope.entries.append(WATCHDOG.arm(deadline, kill))


def _cut_timeout(timeout: Any, deadline: float) -> Any:
    left = max(0.001, deadline - time.monotonic())
    if timeout is None:
        return left
    if isinstance(timeout, tuple):
        return tuple(left if t is None else min(float(t), left) for t in timeout)
    return min(float(timeout), left)


def send_within(
    send: Callable[..., requests.Response],
    request: requests.PreparedRequest,
    limits: Limits,
    **kwargs: Any,
) -> requests.Response:
    """``send(request, ...)`` with the body read inside, all within ``limits``."""
    start = time.monotonic()
    deadline = start + limits.deadline
    if not limits.decode:
        request.headers["Accept-Encoding"] = "identity"
    outer = (getattr(_scope, "deadline", None), getattr(_scope, "entries", None))
    _scope.deadline, _scope.entries = deadline, []
    kwargs["stream"] = True
    kwargs["timeout"] = _cut_timeout(kwargs.get("timeout"), deadline)
    response: requests.Response | None = None
    try:
        response = send(request, **kwargs)
        _read_body(response, limits)
        if any(entry[1] for entry in _scope.entries):
            # The socket was shut mid-answer: what was read may parse, but it is cut short.
            raise OutboundTimeout(limits.deadline)
    except OutboundTimeout:
        _drop(response)
        raise
    except BodyTooLarge as exc:
        exc.response = response  # its status and headers were read: a caller may want them
        _drop(response)
        raise
    except (requests.RequestException, OSError, urllib3.exceptions.HTTPError) as exc:
        # A body read straight from urllib3 (raw.stream) raises urllib3's own errors, e.g.
        # ProtocolError when the watchdog shut the socket mid-body: requests does not wrap them.
        _drop(response)
        if time.monotonic() >= deadline - 0.05 or any(entry[1] for entry in _scope.entries):
            raise OutboundTimeout(limits.deadline) from exc
        if isinstance(exc, urllib3.exceptions.HTTPError):
            raise requests.ConnectionError(exc) from exc
        raise
    finally:
        for entry in _scope.entries:
            WATCHDOG.disarm(entry)
        _scope.deadline, _scope.entries = outer
    response.close()  # fully read: the connection goes back to the pool
    return response


def _drop(response: requests.Response | None) -> None:
    """Close the connection rather than drain (or reuse) a half-read answer."""
    if response is not None:
        try:
            response.raw.close()
        finally:
            response.close()


def _read_body(response: requests.Response, limits: Limits) -> None:
    """Read the streamed body into ``response`` within the wire and decoded-size limits."""
    try:
        declared = int(response.headers.get("content-length") or 0)
    except ValueError:
        declared = 0
    if declared > limits.max_wire:
        raise BodyTooLarge(f"{declared} bytes announced", limits.max_wire)
    body = bytearray()
    raw = response.raw
    for chunk in raw.stream(CHUNK_BYTES, decode_content=limits.decode):
        body += chunk
        if len(body) > limits.max_decoded:
            raise BodyTooLarge("decompressed size" if limits.decode else "size",
                               limits.max_decoded)
        if raw.tell() > limits.max_wire:
            raise BodyTooLarge("size on the wire", limits.max_wire)
    # requests keeps a read body here; .content, .text and .json() then use it.
    response._content = bytes(body)
    response._content_consumed = True  # type: ignore[attr-defined]  # private, not in the stubs
