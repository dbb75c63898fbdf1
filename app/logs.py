"""Logs an operator can follow: a request id on every line, and ``LOG_FORMAT=json``.

The id of a web request (the ``X-Request-ID`` it came with, when well-formed, else a new one)
is kept in a context variable for the request. A Sync click stores it on the ``sync_run`` row
(``request_id``); the process that runs the sync (a thread, or a Celery worker) takes it back
from the row, so the request, the run, the task and the alert delivery log under one id.
Worker threads inherit it where the sync starts them (:func:`submit_in_context`).

``LOG_FORMAT=json`` writes one JSON object per line (time, level, logger, message, request_id).
Whatever the format, :class:`RedactFilter` masks what looks like a credential in a line as a
last line of defence; the code itself never logs a token, a password or a cookie.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

T = TypeVar("T")

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "gradesync_request_id", default=None)
_ACCEPTED = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")
# A line of defence, not the policy: "Bearer x", "access_token=x", "password: x", cookies
# (an "Authorization: Bearer gsk_..." header too), and any API token by its "gsk_" start.
_CREDENTIALS = re.compile(
    r"(?i)((?:access_token|refresh_token|client_secret|password|secret|token|cookie|"
    r"authorization|session)[\"']?\s*[:=]\s*[\"']?(?:bearer\s+)?|bearer\s+)"
    r"([^\s\"'&,;}]+)")
# A personal API token (app.pages.api.tokens) wherever it appears, e.g. pasted into a URL.
_API_TOKEN = re.compile(r"\b(gsk_)[A-Za-z0-9_-]{8,}")


def current_request_id() -> str | None:
    return _request_id.get()


def new_request_id() -> str:
    return uuid.uuid4().hex


def accepted_request_id(given: str | None) -> str:
    """A caller's ``X-Request-ID`` when it is a plain id, else a new one (a header is never
    trusted to carry arbitrary text into the logs)."""
    if given and _ACCEPTED.match(given):
        return given
    return new_request_id()


def set_request_id(value: str | None) -> contextvars.Token[str | None]:
    return _request_id.set(value)


def reset_request_id(token: contextvars.Token[str | None]) -> None:
    _request_id.reset(token)


@contextmanager
def request_id_context(value: str | None) -> Iterator[str | None]:
    """Log under ``value`` inside the block (None: keep the id already set)."""
    token = _request_id.set(value or _request_id.get())
    try:
        yield _request_id.get()
    finally:
        _request_id.reset(token)


def with_request_id(fn: Callable[..., T]) -> Callable[..., T]:
    """``fn`` to run on another thread under the caller's request id, and nothing else of the
    caller's context: a copied context would also carry Flask's app context, and with it the
    caller's database session, into a thread that must have its own."""
    value = _request_id.get()

    def run(*args: Any, **kwargs: Any) -> T:
        with request_id_context(value):
            return fn(*args, **kwargs)

    return run


def submit_in_context(pool: Executor, fn: Callable[..., T], *args: Any) -> Future[T]:
    """``pool.submit`` whose thread logs under the caller's request id."""
    return pool.submit(with_request_id(fn), *args)


def redact(text: str) -> str:
    text = _CREDENTIALS.sub(lambda m: m.group(1) + "[redacted]", text)
    return _API_TOKEN.sub(lambda m: m.group(1) + "[redacted]", text)


class RequestIdFilter(logging.Filter):
    """Puts ``request_id`` on every record (``-`` outside a request or run)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get() or "-"
        return True


# Loggers whose low-level lines print request paths: a webhook's path is its secret, so
# below WARNING they are dropped whatever the level asked for.
_PATH_LOGGERS = ("urllib3.connectionpool",)
# urllib3's "Failed to parse headers (url=...)" is a WARNING with the full URL and a traceback,
# written for every malformed answer: a hostile server could fill the log with it, and the
# URL may be a webhook's secret path. The request itself fails or goes on on its own.
_QUIET_LOGGERS = ("urllib3.connection",)


class RedactFilter(logging.Filter):
    """Masks credential-looking text in the formatted message; drops request-path lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name in _PATH_LOGGERS and record.levelno < logging.WARNING:
            return False
        if record.name in _QUIET_LOGGERS and record.levelno < logging.ERROR:
            return False
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or _request_id.get() or "-",
            "process": record.process,
            "thread": record.threadName,
        }
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
_HANDLER_NAME = "gradesync"


def configure_logging(log_format: str, level: int | None = None) -> None:
    """Send the root logger's records to stderr in ``log_format`` (``json`` or ``text``), with
    the request id and the redaction on every line. Idempotent: one handler per process."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if h.get_name() == _HANDLER_NAME), None)
    if handler is None:
        handler = logging.StreamHandler(sys.stderr)
        handler.set_name(_HANDLER_NAME)
        handler.addFilter(RequestIdFilter())
        handler.addFilter(RedactFilter())
        for other in list(root.handlers):  # e.g. logging.basicConfig's: one line per record
            if isinstance(other, logging.StreamHandler) and other.stream in (sys.stderr,
                                                                             sys.stdout):
                root.removeHandler(other)
        root.addHandler(handler)
    handler.setFormatter(JsonFormatter() if log_format == "json"
                         else logging.Formatter(TEXT_FORMAT))
    if level is not None:
        root.setLevel(level)
    elif root.level == logging.WARNING:  # the default: operators want the INFO lines
        root.setLevel(logging.INFO)
