"""gunicorn serving the app on a loopback port (with extra settings if asked), for the tests.

The command of a one-machine deployment (``-w 2 -k gthread --threads 8`` unless told
otherwise); yields the base URL and asserts the log has no traceback.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import requests

from tests.conftest import TEST_SECRET

ServerT = TypeVar("ServerT", bound=socketserver.BaseServer)


@contextlib.contextmanager
def serving(server: ServerT) -> Iterator[ServerT]:
    """Serve ``server`` (a loopback test server) on a thread for a ``with`` block, then stop it,
    close its socket and wait for the thread."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=30)

ROOT = Path(__file__).resolve().parent.parent
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def csrf_token(html: str) -> str:
    match = CSRF.search(html)
    assert match, "the page has a CSRF token"
    return match.group(1)


@contextlib.contextmanager
def gunicorn(database_url: str, tmp_path: Path, *, threads: int = 8,
             env: dict[str, str] | None = None) -> Iterator[str]:
    port = free_port()
    full_env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": TEST_SECRET,
                "CANVAS_ALLOW_PRIVATE_HOSTS": "1", "NO_PROXY": "127.0.0.1,localhost",
                "GRADESYNC_INSTANCE_DIR": str(tmp_path / "instance"),
                # No scheduled syncs behind a test's back; tests/jobs/test_schedule.py covers them.
                "SCHEDULER_ENABLED": "0", **(env or {})}
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
                 "all_proxy", "CELERY_BROKER_URL"):
        full_env.pop(name, None)
    log = tmp_path / "gunicorn.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-w", "2", "-k", "gthread", "--threads",
             str(threads), "-b", f"127.0.0.1:{port}", "--timeout", "120", "app.wsgi:application"],
            cwd=ROOT, env=full_env, stdout=out, stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()[-4000:]
            try:
                if requests.get(f"{base}/login", timeout=5).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):
                pass  # not listening yet, or still starting its workers on a busy machine
            assert time.monotonic() < deadline, log.read_text()[-4000:]
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
    text = log.read_text()
    assert "Traceback" not in text, text[-4000:]
