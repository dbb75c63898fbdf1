"""Hostile HTTP servers on 127.0.0.1 for the deadline tests: a slow loris and a gzip bomb.

:class:`Trickle` answers every request with a status line and then one byte every
``interval`` seconds, for ever (until it is closed): a per-read timeout never fires. Each
connection is served by its own daemon thread; closing the server ends them all.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import zlib
from collections.abc import Iterator


class _LoopbackServer:
    """A listening socket on 127.0.0.1 whose accept loop serves each connection on its own
    daemon thread (``_serve``); ``close`` ends the loop and every connection still open."""

    def __init__(self, backlog: int) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=backlog)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.accepted = 0
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with self._lock:
                self.accepted += 1
                self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            for conn in self._conns:
                with contextlib.suppress(OSError):
                    conn.close()
        self.sock.close()


class Trickle(_LoopbackServer):
    """A slow-loris HTTP server: ``HTTP/1.1 200 OK`` then one header byte per ``interval``."""

    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        super().__init__(backlog=64)

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(5)
            conn.recv(65536)  # the request (enough of it)
            conn.sendall(b"HTTP/1.1 200 OK\r\n")
            while not self._stop.wait(self.interval):
                conn.sendall(b"X")  # a header line that never ends
        except OSError:
            pass
        finally:
            conn.close()


@contextlib.contextmanager
def trickle(interval: float = 1.0) -> Iterator[Trickle]:
    server = Trickle(interval)
    try:
        yield server
    finally:
        server.close()


def gzip_bomb(size: int) -> bytes:
    """A gzip body that inflates to ``size`` zero bytes (about 1000:1)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = bytes(1024 * 1024)
    parts = [packer.compress(chunk[: min(len(chunk), size - start)])
             for start in range(0, size, len(chunk))]
    parts.append(packer.flush())
    return b"".join(parts)


class Bomb(_LoopbackServer):
    """An HTTP server answering every request ``200`` with a gzip bomb (``Content-Encoding:
    gzip`` whatever the request asked for); counts the requests it answered."""

    def __init__(self, inflated: int) -> None:
        self.body = gzip_bomb(inflated)
        self.requests = 0
        self.encodings: list[str] = []
        super().__init__(backlog=16)

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(5)
            head = b""
            deadline = time.monotonic() + 5
            while b"\r\n\r\n" not in head and time.monotonic() < deadline:
                data = conn.recv(65536)
                if not data:
                    return
                head += data
            self.requests += 1
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"accept-encoding:"):
                    self.encodings.append(line.split(b":", 1)[1].strip().decode())
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Encoding: gzip\r\nContent-Length: "
                         + str(len(self.body)).encode() + b"\r\nConnection: close\r\n\r\n")
            conn.sendall(self.body)
        except OSError:
            pass
        finally:
            conn.close()


@contextlib.contextmanager
def bomb(inflated: int) -> Iterator[Bomb]:
    server = Bomb(inflated)
    try:
        yield server
    finally:
        server.close()


def finishes_within(seconds: float, work: object) -> tuple[bool, float, list[BaseException]]:
    """Run ``work()`` in a daemon thread: (ended in time, seconds taken, what it raised).

    A call that never ends (the old behaviour) leaves its daemon thread behind instead of
    hanging the test run.
    """
    errors: list[BaseException] = []

    def run() -> None:
        try:
            work()  # type: ignore[operator]
        except BaseException as exc:  # noqa: BLE001  (handed back to the test)
            errors.append(exc)

    started = time.monotonic()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    return not thread.is_alive(), time.monotonic() - started, errors
