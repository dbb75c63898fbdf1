"""The Canvas simulator: a threaded HTTP/1.1 server with Canvas's auth, throttle and faults.

Request pipeline (per GET, CANVAS_API.md §7):
    fault draw (drop?) -> User-Agent check -> token check -> leaky bucket reserve/check
    -> latency (+connect_cost on a new connection, +slow_seconds) -> 5xx fault or route
    -> malform rules -> bucket settle -> headers (link, x-request-cost, x-rate-limit-remaining)
"""

from __future__ import annotations

import html
import logging
import random
import re
import socket
import threading
import time
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from simulator import hostile
from simulator.api import NOT_FOUND, ApiError, ApiRequest, ApiResponse, dispatch
from simulator.bucket import BucketRegistry
from simulator.config import SimulatorConfig
from simulator.datasets import IdAllocator, build_dataset
from simulator.model import iso, utcnow
from simulator.oauth import OAuthProvider
from simulator.pagination import numbered_page
from simulator.scopes import INSUFFICIENT_SCOPES, apply_key_policy
from simulator.stats import RequestRecord, SimulatorStats
from simulator.student import Student
from simulator.transport import (
    Hooks,
    SimulatorHandler,
    SimulatorHTTPServer,
    json_bytes,
    request_token,
    send_response,
)

logger = logging.getLogger(__name__)

JSON_TYPE = "application/json; charset=utf-8"
TEXT_TYPE = "text/plain; charset=utf-8"
WWW_AUTHENTICATE = 'Bearer realm="canvas-lms"'
THROTTLED_BODY = b"403 Forbidden (Rate Limit Exceeded)\n"
INTERNAL_ERROR = {"errors": [{"message": "An error occurred.",
                              "error_code": "internal_server_error"}]}
FAULT_STATUSES = (500, 502, 503, 504)
# canvas-lms OAuth2ProviderController#token: increment_request_cost(Setting
# "oauth_token_additional_request_cost", default 200). The request carries no access token, so
# RequestThrottle#client_identifiers puts it in the caller's session or ip bucket.
TOKEN_REQUEST_COST = 200.0
MALFORM_KINDS = ("bad_json", "not_a_list")


class CanvasSimulator:
    """A fake hosted Canvas for tests, the benchmark and the demo (docs/INTERFACES.md)."""

    def __init__(self, config: SimulatorConfig | None = None, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self.config = config or SimulatorConfig()
        self.host = host
        self.port = port
        self.stats = SimulatorStats()
        self._lock = threading.RLock()  # guards students and their data
        self._ids = IdAllocator()
        self._students: dict[str, Student] = {}
        self._token_states: dict[str, tuple[str, str | None]] = {}  # token -> (state, when)
        self.oauth = OAuthProvider()  # Canvas's OAuth2 endpoints (simulator/oauth.py)
        self._buckets = BucketRegistry()
        self._malform: list[tuple[re.Pattern[str], str]] = []
        self._fault_lock = threading.Lock()
        self._rng = random.Random(self.config.seed)
        self._rng_seed = self.config.seed
        self._connections: dict[socket.socket, int] = {}
        self._connection_ids = 0
        self._server: SimulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> CanvasSimulator:
        if self._server is not None:
            return self
        hooks = Hooks(opened=self._connection_opened, closed=self._connection_closed,
                      serve=self._serve)
        self._server = SimulatorHTTPServer((self.host, self.port), hooks)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1},
                                        name=f"canvas-simulator-{self.port}", daemon=True)
        self._thread.start()
        logger.info("Canvas simulator listening on %s", self.base_url)
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket and every open connection."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        with self._lock:
            open_sockets = list(self._connections)
        for sock in open_sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by the peer
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._thread = None

    def __enter__(self) -> CanvasSimulator:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT`` of the server (still readable after stop())."""
        if self.port == 0:
            raise RuntimeError("the simulator has not been started; call start()")
        return f"http://{self.host}:{self.port}"

    # -- students and tokens --------------------------------------------------------------
    def add_student(self, token: str, preset: str = "freshman", seed: int = 0,
                    name: str | None = None) -> Student:
        """Create a student with the ``preset`` gradebook, reachable with ``token``."""
        with self._lock:
            if token in self._students:
                raise ValueError("a student already uses this token")
            data = build_dataset(preset, seed, self._ids, name=name)
            student = Student(token, data, self._ids, self._lock)
            student.warm()  # score the courses now, not inside the first timed request
            self._students[token] = student
            return student

    def student(self, token: str) -> Student:
        with self._lock:
            return self._students[token]

    @property
    def students(self) -> list[Student]:
        with self._lock:
            return list(self._students.values())

    def revoke_token(self, token: str) -> None:
        with self._lock:
            self._token_states[token] = ("revoked", None)

    def expire_token(self, token: str) -> None:
        with self._lock:
            self._token_states[token] = ("expired", iso(utcnow()))

    def restore_token(self, token: str) -> None:
        with self._lock:
            self._token_states.pop(token, None)

    # -- faults and stats -----------------------------------------------------------------
    def malform(self, path_regex: str, kind: str = "bad_json") -> None:
        """Serve broken bodies on list endpoints whose path matches, until clear_faults()."""
        if kind not in MALFORM_KINDS:
            raise ValueError(f"kind must be one of {MALFORM_KINDS}")
        with self._fault_lock:
            self._malform.append((re.compile(path_regex), kind))

    def clear_faults(self) -> None:
        with self._fault_lock:
            self._malform.clear()
        self.config.fault_5xx_rate = self.config.fault_drop_rate = self.config.slow_rate = 0.0

    def reset_stats(self) -> None:
        self.stats.reset()

    # -- connection bookkeeping (called from handler threads) ------------------------------
    def _connection_opened(self, sock: socket.socket) -> int:
        self.stats.connection_opened()
        with self._lock:
            self._connection_ids += 1
            self._connections[sock] = self._connection_ids
            return self._connection_ids

    def _connection_closed(self, sock: socket.socket) -> None:
        with self._lock:
            self._connections.pop(sock, None)

    def _draw_faults(self) -> tuple[bool, int | None, bool]:
        """(drop the connection?, 5xx status or None, slow?) for one request."""
        config = self.config
        with self._fault_lock:
            if self._rng_seed != config.seed:
                self._rng, self._rng_seed = random.Random(config.seed), config.seed
            drop, error, slow = self._rng.random(), self._rng.random(), self._rng.random()
            status = self._rng.choice(FAULT_STATUSES)
        return (drop < config.fault_drop_rate, status if error < config.fault_5xx_rate else None,
                slow < config.slow_rate)

    def _malform_kind(self, path: str) -> str | None:
        with self._fault_lock:
            for pattern, kind in self._malform:
                if pattern.search(path):
                    return kind
        return None

    # -- the request pipeline -------------------------------------------------------------
    def _serve(self, handler: SimulatorHandler) -> None:
        start = time.monotonic()
        first_on_connection = handler.requests_served == 0
        handler.requests_served += 1
        split = urlsplit(handler.path)
        pairs = parse_qsl(split.query, keep_blank_values=True)
        query: dict[str, list[str]] = {}
        for key, value in pairs:
            query.setdefault(key, []).append(value)
        token = request_token(handler, query)
        self.stats.request_started()
        status, throttled = 0, False
        try:
            status, throttled = self._respond(handler, split.path, pairs, query, token,
                                              first_on_connection)
        except OSError:
            handler.close_connection = True  # the client went away mid-response
            raise
        except Exception:
            logger.exception("simulator failed on %s", split.path)
            handler.close_connection = True
            status = send_response(handler, 500, json_bytes(INTERNAL_ERROR), JSON_TYPE)
        finally:
            self.stats.request_finished(
                RequestRecord(token, handler.command, split.path, query, status, start,
                              time.monotonic(), handler.connection_id),
                throttled=throttled)

    def _respond(self, handler: SimulatorHandler, path: str, pairs: list[tuple[str, str]],
                 query: dict[str, list[str]], token: str | None,
                 first_on_connection: bool) -> tuple[int, bool]:
        config = self.config
        if path == "/" and handler.command == "GET":
            return send_response(handler, 200, self._home_page(), "text/html; charset=utf-8"), False
        if path.startswith("/login/oauth2/"):
            return self._oauth2(handler, path, query, token), False
        drop, fault_status, slow = self._draw_faults()
        if drop:
            handler.close_connection = True  # no response at all: the client sees EOF
            return 0, False
        delay = config.latency + (config.connect_cost if first_on_connection else 0.0)
        delay += config.slow_seconds if slow else 0.0
        student, refused = self._authenticate(handler, token)
        if student is None:
            _sleep(delay)
            status, body, headers = refused
            return send_response(handler, status, json_bytes(body), JSON_TYPE, headers), False
        bucket = self._buckets.get(student.token) if config.throttling else None
        if bucket is not None:
            count = bucket.increment(config.up_front_cost, outflow=config.outflow,
                                     maximum=config.maximum)
            if count >= config.hwm:
                count = bucket.increment(config.request_cost - config.up_front_cost,
                                         outflow=config.outflow, maximum=config.maximum)
                _sleep(delay)
                headers = {"x-rate-limit-remaining": _float(config.hwm - count)}
                status = config.throttle_status
                return send_response(handler, status, THROTTLED_BODY, TEXT_TYPE, headers), True
        _sleep(delay)  # inside the reservation, like a real in-flight request
        status, body, content_type, headers, work = self._answer(
            handler, path, pairs, query, student, fault_status, token)
        if bucket is not None:
            cost = config.request_cost + config.item_cost * work  # CPU + DB time grow with work
            count = bucket.increment(cost - config.up_front_cost,
                                     outflow=config.outflow, maximum=config.maximum)
            headers["x-request-cost"] = _float(cost)
            headers["x-rate-limit-remaining"] = _float(config.hwm - count)
        return send_response(handler, status, body, content_type, headers), False

    def _authenticate(self, handler: SimulatorHandler, token: str | None
                      ) -> tuple[Student | None, tuple[int, Any, dict[str, str]]]:
        """The User-Agent and token checks: (student, _) or (None, (status, body, headers))."""
        if not (handler.headers.get("User-Agent") or "").strip():
            return None, (403, {"errors": [{"message": "A User-Agent header is required."}]},
                          {})
        auth = {"www-authenticate": WWW_AUTHENTICATE}
        if token is None:
            return None, (401, {"status": "unauthenticated",
                                "errors": [{"message": "user authorization required"}]}, auth)
        with self._lock:
            state, when = self._token_states.get(token, (None, None))
            student = self._students.get(token)
        if student is None:  # an OAuth2 access token stands for its student
            owner, expired = self.oauth.student_for(token)
            with self._lock:
                student = self._students.get(owner) if owner else None
            if student is not None and expired:
                state, when = "expired", None
        if state == "revoked":
            return None, (401, {"errors": [{"message": "Revoked access token."}]}, auth)
        if state == "expired":
            return None, (401, {"errors": [{"message": "Expired access token.",
                                            "expired_at": when}]}, auth)
        if student is None:
            return None, (401, {"errors": [{"message": "Invalid access token."}]}, auth)
        return student, (200, None, {})

    def _answer(self, handler: SimulatorHandler, path: str, pairs: list[tuple[str, str]],
                query: dict[str, list[str]], student: Student, fault_status: int | None,
                token: str | None = None) -> tuple[int, bytes, str, dict[str, str], int]:
        """Run the endpoint (or the injected 5xx): (status, body, content type, headers,
        objects rendered)."""
        if fault_status is not None:
            return fault_status, json_bytes(INTERNAL_ERROR), JSON_TYPE, {}, 0
        policy = self.oauth.key_policy(token)  # a developer key's scopes (simulator/scopes.py)
        if policy is not None:
            scoped = apply_key_policy(policy, handler.command, path, pairs)
            if scoped is None:  # 401 without WWW-Authenticate, as Canvas sends it
                return 401, json_bytes(INSUFFICIENT_SCOPES), JSON_TYPE, {}, 0
            pairs, query = scoped, {}
            for key, value in scoped:
                query.setdefault(key, []).append(value)
        if handler.command != "GET":
            return 404, json_bytes(NOT_FOUND), JSON_TYPE, {}, 0
        host = (handler.headers.get("Host") or f"{self.host}:{self.port}").strip()
        request = ApiRequest(student, path, pairs, query, f"http://{host}")
        try:
            response: ApiResponse = dispatch(request)
        except ApiError as error:
            status = self.config.unauthorized_status if error.unauthorized else error.status
            return status, json_bytes(error.body), JSON_TYPE, {}, 0
        except Exception:
            logger.exception("simulator handler failed for %s", path)
            return 500, json_bytes(INTERNAL_ERROR), JSON_TYPE, {}, 0
        body = json_bytes(response.body)
        kind = self._malform_kind(path) if response.is_list else None
        if kind == "bad_json":
            body = body[: max(1, len(body) // 2)] + b'{"id":'
        elif kind == "not_a_list":
            body = json_bytes({"data": response.body})
        headers = dict(response.headers)
        endless = self.config.hostile_endless_gradebook
        if endless and "link" in headers and hostile.GRADEBOOK_LIST.match(path):
            if response.is_list and not response.body:  # past the real pages
                body = hostile.junk_gradebook_page(path, numbered_page(query), endless)
            headers["link"] = hostile.endless_link(headers["link"])
        if self.config.hostile_last_page and "link" in headers:
            headers["link"] = hostile.inflate_last(headers["link"], self.config.hostile_last_page)
        if self.config.hostile_gzip_bytes:
            body = hostile.gzip_bomb(self.config.hostile_gzip_bytes)
            headers["content-encoding"] = "gzip"
        return response.status, body, JSON_TYPE, headers, response.work

    def _oauth2(self, handler: SimulatorHandler, path: str, query: dict[str, list[str]],
                token: str | None) -> int:
        """The OAuth2 endpoints (simulator/oauth.py); no API token or bucket involved."""
        one = {key: values[-1] for key, values in query.items()}
        form = {k: v for k, v in parse_qsl(getattr(handler, "body", b"").decode("utf-8",
                                                                                  "replace"))}
        command = handler.command
        page = "text/html; charset=utf-8"
        if path == "/login/oauth2/auth" and command == "GET":
            status, text = self.oauth.authorize_page(one)
            if status == 302:
                return send_response(handler, 302, b"", TEXT_TYPE, {"location": text})
            return send_response(handler, status, text.encode(), page)
        if path == "/login/oauth2/auth/decision" and command == "POST":
            status, where = self.oauth.decide(form)
            if status != 302:
                return send_response(handler, status, where.encode(), TEXT_TYPE)
            return send_response(handler, 302, b"", TEXT_TYPE, {"location": where})
        if path == "/login/oauth2/token" and command == "POST":
            return self._token_endpoint(handler, form)
        if path == "/login/oauth2/token" and command == "DELETE":
            status, body, headers = self.oauth.log_out(token)
            return send_response(handler, status, json_bytes(body), JSON_TYPE, headers)
        return send_response(handler, 404, json_bytes(NOT_FOUND), JSON_TYPE)

    def _token_endpoint(self, handler: SimulatorHandler, form: dict[str, str]) -> int:
        """``POST /login/oauth2/token`` under the caller's ip bucket, with its extra cost."""
        config = self.config
        fault = self.oauth.next_fault()
        if fault is not None and fault in (403, 429):
            return send_response(handler, fault, THROTTLED_BODY, TEXT_TYPE)
        if fault is not None:
            return send_response(handler, fault, json_bytes(INTERNAL_ERROR), JSON_TYPE)
        bucket = (self._buckets.get(f"ip:{handler.client_address[0]}")
                  if config.throttling else None)
        if bucket is not None:
            count = bucket.increment(config.up_front_cost, outflow=config.outflow,
                                     maximum=config.maximum)
            if count >= config.hwm:
                count = bucket.increment(config.request_cost - config.up_front_cost,
                                         outflow=config.outflow, maximum=config.maximum)
                headers = {"x-rate-limit-remaining": _float(config.hwm - count)}
                return send_response(handler, config.throttle_status, THROTTLED_BODY,
                                     TEXT_TYPE, headers)
        owner = self.oauth.grant_student(form)
        with self._lock:
            student = self._students.get(owner) if owner else None
        user = {"id": student.user_id, "name": student.name} if student else None
        status, body, headers = self.oauth.exchange(form, user)
        if bucket is not None:
            cost = config.request_cost + (TOKEN_REQUEST_COST if status == 200 else 0.0)
            count = bucket.increment(cost - config.up_front_cost, outflow=config.outflow,
                                     maximum=config.maximum)
            headers = {**headers, "x-request-cost": _float(cost),
                       "x-rate-limit-remaining": _float(config.hwm - count)}
        return send_response(handler, status, json_bytes(body), JSON_TYPE, headers)

    def _home_page(self) -> bytes:
        with self._lock:
            students = len(self._students)
        config = self.config
        return (
            "<!doctype html><html><head><meta charset='utf-8'>"
            "<title>GradeSync Canvas simulator</title></head><body>"
            "<h1>GradeSync Canvas simulator</h1>"
            f"<p>A simulated Canvas LMS REST API at <code>{html.escape(self.base_url)}"
            "/api/v1</code>.</p>"
            f"<p>Students: {students}. Latency: {config.latency:g} s. Throttling: "
            f"{'on' if config.throttling else 'off'} (hwm {config.hwm:g}).</p>"
            "</body></html>"
        ).encode()


def _float(value: float) -> str:
    """A Ruby-ish float string for the throttle headers."""
    return repr(round(value, 7))


def _sleep(seconds: float) -> None:
    if seconds > 0:
        time.sleep(seconds)
