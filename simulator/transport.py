"""HTTP plumbing of the simulator: a threaded HTTP/1.1 server and its request handler.

The handler only tracks its connection and hands each request to the :class:`Hooks` it was
given; everything Canvas-like happens behind them (``server.py`` passes its own methods). This
module imports nothing of the simulator: the arrow points from ``server.py`` to here only.
"""

from __future__ import annotations

import json
import logging
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

logger = logging.getLogger(__name__)

_ACCESS_TOKEN = re.compile(r"(access_token=)[^&\s]+")


@dataclass(frozen=True)
class Hooks:
    """What the server calls from its handler threads."""

    opened: Callable[[socket.socket], int]  # a connection was accepted: its id
    closed: Callable[[socket.socket], None]  # ... and is gone
    serve: Callable[[SimulatorHandler], None]  # answer one request on the handler


class SimulatorHTTPServer(ThreadingHTTPServer):
    """A threaded HTTP server that hands connections and requests to its :class:`Hooks`."""

    daemon_threads = True
    block_on_close = False  # stop() closes the keep-alive sockets itself
    allow_reuse_address = True
    request_queue_size = 128  # the default 5 drops SYNs when a client opens many connections

    def __init__(self, address: tuple[str, int], hooks: Hooks) -> None:
        self.hooks = hooks
        super().__init__(address, SimulatorHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up mid-response is routine (dropped-connection faults, stop()).
        logger.debug("simulator connection error from %s", client_address, exc_info=True)


class SimulatorHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so connection pooling is observable
    # Headers and body go out in two writes; with Nagle on, the body waits for the client's
    # delayed ACK (~40 ms) on every keep-alive request, which swamps the configured latency.
    disable_nagle_algorithm = True
    server: SimulatorHTTPServer

    def setup(self) -> None:
        super().setup()
        self.requests_served = 0
        self.connection_id = self.server.hooks.opened(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.hooks.closed(self.connection)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        # The request line may carry ?access_token=...; never let a token reach the logs.
        logger.debug("simulator: %s", _ACCESS_TOKEN.sub(r"\1[FILTERED]", format % args))

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self.server.hooks.serve(self)

    def _not_served(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        # Kept for the OAuth2 token endpoint (a form body); the API itself is GET only.
        self.body = self.rfile.read(min(length, 65536)) if length else b""
        self.server.hooks.serve(self)

    do_POST = do_PUT = do_DELETE = do_PATCH = _not_served  # noqa: N815


def json_bytes(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def request_token(handler: SimulatorHandler, query: dict[str, list[str]]) -> str | None:
    header = handler.headers.get("Authorization") or ""
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    values = query.get("access_token")
    if values and values[-1]:
        return values[-1]
    return None


def send_response(handler: SimulatorHandler, status: int, body: bytes, content_type: str,
          headers: dict[str, str] | None = None) -> int:
    """Write one complete response with an exact content-length; returns ``status``."""
    handler.send_response(status)
    handler.send_header("content-type", content_type)
    handler.send_header("content-length", str(len(body)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)
    return status
