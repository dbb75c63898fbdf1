"""A hostile network and a hostile Canvas (issue 11): IDN names, DNS rebinding, stored URLs
re-checked, unbounded pages and bodies, and control characters in Canvas's text.

Name resolution is patched (``socket.getaddrinfo``) so "attacker" names answer what a hostile
DNS server would; every connection stays on loopback.
"""

from __future__ import annotations

import ipaddress
import logging
import resource
import socket
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import responses
from sqlalchemy import select

from app.accounts import create_user
from app.canvas.client import MAX_PAGES, CanvasAPIService, ClientOptions, NotFound, RetryPolicy
from app.connections import CanvasConnectionError, connect_canvas
from app.extensions import db as _db
from app.models import Course
from app.outbound import OutboundPolicy
from app.security import InvalidCanvasURL, validate_canvas_url
from tests.conftest import connect_user
from tests.sync_helpers import only_connection

NO_RETRIES = ClientOptions(retry=RetryPolicy(max_retries=0))

TOKEN = "7~NetworkSecretToken0123456789abcdef"
PUBLIC = "93.184.216.34"
LOOPBACK = OutboundPolicy(allow_private=True)
HOSTILE = ("\x1b]0;pwned\x07", "\x1b[31m")


class Listener:
    """A loopback TCP server that counts the connections it accepts, then hangs up."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.sock.settimeout(0.1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


Answer = Callable[[], list[str]]


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Patched resolution: names map to a list of addresses, or a callable giving one per
    lookup. Non-ASCII names are turned to ASCII with IDNA 2003, as the C resolver does."""
    table: dict[str, Any] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if not name.isascii():
            name = name.encode("idna").decode("ascii")  # IDNA 2003: "ß" becomes "ss"
        try:
            ipaddress.ip_address(name.strip("[]"))
        except ValueError:
            pass
        else:
            return real(host, port, *args, **kwargs)
        if name not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        entry = table[name]
        addresses = entry() if callable(entry) else entry
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, table.get(f"port:{name}", port or 0)))
            for a in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return table


def _strict(app: Any) -> None:
    app.config["CANVAS_ALLOW_PRIVATE_HOSTS"] = False


# --- 1. IDN host names ---------------------------------------------------------------------


def test_an_idn_host_is_checked_as_the_a_label_requests_connects_to(
    app: Any, dns: dict[str, Any], listener: Listener
) -> None:
    """``ß`` is ``ss`` to the C resolver (public) but ``xn--zca`` to requests (loopback)."""
    dns["ss.attacker.test"] = [PUBLIC]
    dns["xn--zca.attacker.test"] = ["127.0.0.1"]
    dns["port:xn--zca.attacker.test"] = listener.port
    _strict(app)
    user = create_user("idn@example.edu", "correct horse battery")

    with pytest.raises(InvalidCanvasURL, match="private or reserved"):
        connect_canvas(user, "https://ß.attacker.test", TOKEN)
    assert listener.accepted == 0
    assert only_connection(user) is None


def test_an_idn_url_is_stored_as_its_a_label(app: Any, dns: dict[str, Any]) -> None:
    dns["xn--bcher-kva.example"] = [PUBLIC]
    assert validate_canvas_url("https://Bücher.example/login") == "https://xn--bcher-kva.example"


# --- 2. DNS rebinding and stored URLs --------------------------------------------------------


def _rebinding(*answers: str) -> Answer:
    """A TTL-0 name: each lookup gets the next answer (the last one repeats)."""
    queue = list(answers)

    def answer() -> list[str]:
        return [queue.pop(0) if len(queue) > 1 else queue[0]]

    return answer


def test_dns_rebinding_never_reaches_loopback(
    app: Any, dns: dict[str, Any], listener: Listener
) -> None:
    """Public to the URL check, 127.0.0.1 to the connection: the token must not go there."""
    dns["rebind.attacker.test"] = _rebinding(PUBLIC, "127.0.0.1")
    dns["port:rebind.attacker.test"] = listener.port
    _strict(app)
    user = create_user("rebind@example.edu", "correct horse battery")

    with pytest.raises(CanvasConnectionError) as caught:
        connect_canvas(user, "https://rebind.attacker.test", TOKEN)
    assert listener.accepted == 0
    assert "private or reserved" in str(caught.value)
    assert "rebind.attacker.test" in str(caught.value)
    assert only_connection(user) is None


def test_a_mixed_public_and_loopback_answer_is_refused_at_connect(
    dns: dict[str, Any], listener: Listener
) -> None:
    from app.canvas.client import UnsafeAddress

    dns["mixed.attacker.test"] = [PUBLIC, "127.0.0.1"]
    dns["port:mixed.attacker.test"] = listener.port
    with CanvasAPIService("https://mixed.attacker.test", TOKEN, options=NO_RETRIES) as client:
        with pytest.raises(UnsafeAddress, match="private or reserved"):
            client.get_current_user()
    assert listener.accepted == 0


def test_a_url_saved_while_private_hosts_were_allowed_no_longer_syncs(
    app: Any, runner: Any, simulator: Any
) -> None:
    connect_user(app, simulator, email="old@example.edu", token="tok-old-1")
    simulator.reset_stats()
    _strict(app)

    result = runner.invoke(args=["canvas", "sync", "old@example.edu"])

    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Canvas is not usable" in lines[0] and "https://" in lines[0]
    assert "Traceback" not in result.output
    assert simulator.stats.requests == 0


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://[2002:7f00:1::]", "private or reserved"),  # 6to4 of 127.0.0.1
        ("https://[2002:a9fe:a9fe::1]", "private or reserved"),  # 6to4 of 169.254.169.254
        ("https://canvas.example.edu:8443", "port 8443"),
        ("https://canvas.example.edu:22", "port 22"),
    ],
)
def test_tunnelled_private_addresses_and_odd_ports_are_refused(
    dns: dict[str, Any], url: str, message: str
) -> None:
    dns["canvas.example.edu"] = [PUBLIC]
    with pytest.raises(InvalidCanvasURL, match=message):
        validate_canvas_url(url)


def test_the_https_port_is_accepted_and_other_ports_only_with_private_hosts(
    dns: dict[str, Any],
) -> None:
    dns["canvas.example.edu"] = [PUBLIC]
    assert validate_canvas_url("https://canvas.example.edu:443") == "https://canvas.example.edu"
    assert validate_canvas_url("http://127.0.0.1:8999", allow_private=True) == (
        "http://127.0.0.1:8999"
    )


# --- 3. Bounded work for any response --------------------------------------------------------


def _peak_growth(work: Callable[[], None]) -> tuple[int, int, float]:
    """(tracemalloc peak bytes, ru_maxrss growth bytes, seconds) while ``work`` runs."""
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    tracemalloc.start()
    started = time.monotonic()
    try:
        work()
    finally:
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    rss_growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - rss_before
    return peak, rss_growth, elapsed


MB = 1024 * 1024


def test_a_huge_last_page_fails_at_once_with_bounded_memory(simulator: Any) -> None:
    from app.canvas.client import ResponseTooLarge

    simulator.add_student("tok-hostile-1")
    simulator.config.hostile_last_page = 10**6
    simulator.reset_stats()
    client = CanvasAPIService(simulator.base_url, "tok-hostile-1", policy=LOOPBACK)
    caught: list[BaseException] = []

    def fetch() -> None:
        try:
            client.get_courses()
        except ResponseTooLarge as exc:
            caught.append(exc)

    peak, rss, elapsed = _peak_growth(fetch)
    client.close()
    assert caught, "the client accepted a list of a million pages"
    message = str(caught[0])
    assert "127.0.0.1" in message and str(MAX_PAGES) in message
    assert peak < 100 * MB and rss < 100 * MB
    assert elapsed < 10
    assert simulator.stats.requests == 1  # nothing planned beyond the first page


def test_pages_from_last_are_planned_lazily(simulator: Any) -> None:
    """Under the cap the pages are fetched, but never more than a small window ahead."""
    simulator.add_student("tok-hostile-2")
    simulator.config.hostile_last_page = 60
    simulator.config.latency = 0.005
    client = CanvasAPIService(simulator.base_url, "tok-hostile-2", policy=LOOPBACK)
    lock = threading.Lock()
    outstanding = [0, 0, 0]  # now, most at once, total
    real_submit = ThreadPoolExecutor.submit

    def done(_: Any) -> None:
        with lock:
            outstanding[0] -= 1

    def counting_submit(pool: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        with lock:
            outstanding[0] += 1
            outstanding[1] = max(outstanding[1], outstanding[0])
            outstanding[2] += 1
        future = real_submit(pool, fn, *args, **kwargs)
        future.add_done_callback(done)
        return future

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ThreadPoolExecutor, "submit", counting_submit)
        assert client.get_courses()
    client.close()
    # pages 2..60 of the (default) course list, each planned once
    assert outstanding[2] == 59
    assert outstanding[1] <= 2 * client.page_workers


@pytest.mark.slow
def test_a_gzip_bomb_is_cut_off_at_the_decompressed_limit(simulator: Any) -> None:
    from app.canvas.client import ResponseTooLarge
    from simulator.hostile import gzip_bomb

    size = 256 * MB
    gzip_bomb(size)  # built once, outside the measurement (it is the server's memory)
    simulator.add_student("tok-bomb-1")
    simulator.config.hostile_gzip_bytes = size
    client = CanvasAPIService(simulator.base_url, "tok-bomb-1", policy=LOOPBACK)
    caught: list[BaseException] = []

    def fetch() -> None:
        try:
            client.get_current_user()
        except ResponseTooLarge as exc:
            caught.append(exc)

    peak, rss, elapsed = _peak_growth(fetch)
    client.close()
    assert caught, "the client inflated a gzip bomb"
    message = str(caught[0])
    assert "127.0.0.1" in message and "16 MiB" in message and "decompressed" in message
    assert peak < 100 * MB and rss < 100 * MB
    assert elapsed < 20


@responses.activate
def test_a_body_over_the_wire_limit_is_refused_before_reading() -> None:
    from app.canvas.client import ResponseTooLarge

    responses.get(
        "https://canvas.example.edu/api/v1/users/self",
        body=b"[" + b" " * (9 * MB) + b"]",
        content_type="application/json",
    )
    with CanvasAPIService("https://canvas.example.edu", TOKEN, options=NO_RETRIES) as client:
        with pytest.raises(ResponseTooLarge, match="8 MiB"):
            client.get_current_user()


# --- 9. Control characters in Canvas's text --------------------------------------------------


def _clean(text: str) -> bool:
    return not any(seq in text for seq in HOSTILE) and "\x1b" not in text and "\x07" not in text


@responses.activate
def test_an_error_body_with_escapes_never_reaches_a_message_or_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    responses.get(
        "https://canvas.example.edu/api/v1/courses/1",
        json={"errors": [{"message": f"{HOSTILE[0]}gone{HOSTILE[1]} red"}]},
        status=404,
    )
    caplog.set_level(logging.DEBUG)
    with CanvasAPIService("https://canvas.example.edu", TOKEN, options=NO_RETRIES) as client:
        with pytest.raises(NotFound) as caught:
            client.get_course(1)
    assert "gone red" in caught.value.message
    assert _clean(str(caught.value))
    assert all(_clean(record.getMessage()) for record in caplog.records)


def test_a_profile_name_with_escapes_is_printed_clean(
    app: Any, runner: Any, simulator: Any
) -> None:
    simulator.add_student("tok-escapes-1", name=f"{HOSTILE[0]}Eve{HOSTILE[1]} Student")
    runner.invoke(args=["user", "create", "eve@example.edu", "--password", "correct horse 1"])
    result = runner.invoke(
        args=["canvas", "connect", "eve@example.edu", "--url", simulator.base_url,
              "--token", "tok-escapes-1"]
    )
    assert result.exit_code == 0, result.output
    assert "Eve Student" in result.output
    assert _clean(result.output)


def test_a_course_name_with_escapes_never_reaches_logs_or_cli_output(
    app: Any, runner: Any, simulator: Any, caplog: pytest.LogCaptureFixture
) -> None:
    user, student = connect_user(app, simulator, email="c@example.edu", token="tok-course-1")
    course_id = student.visible_course_ids()[0]
    student.rename_course(course_id, f"{HOSTILE[0]}Biology{HOSTILE[1]} 101")
    caplog.set_level(logging.DEBUG)

    result = runner.invoke(args=["canvas", "-v", "sync", "c@example.edu"])

    assert result.exit_code == 0, result.output
    assert _clean(result.output)
    assert all(_clean(record.getMessage()) for record in caplog.records)
    names = list(_db.session.scalars(select(Course.name)))
    assert "Biology 101" in names
