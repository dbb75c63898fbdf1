"""The sync engine's contracts: its options, the progress it reports and the result it returns.

The engine never writes the ``sync_run`` row and never parses messages: it reports
:class:`SyncProgress` through a callback and returns a :class:`SyncResult`, whose
``error_kind`` comes from the type of the exception that stopped it (see :func:`error_kind_of`),
so the web pages and the CLI decide what to show from a value, not from words in a message.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from app.canvas.errors import (
    BadResponse,
    CanvasError,
    CanvasTimeout,
    CanvasUnavailable,
    InvalidToken,
    NotFound,
    NotPermitted,
    RateLimited,
)
from app.models import utcnow

DEFAULT_WORKERS = 16


class ErrorKind(StrEnum):
    """Why a sync failed, as a value the UI can branch on."""

    INVALID_TOKEN = "invalid_token"  # noqa: S105 - Canvas refused the token: reconnect
    NOT_CONNECTED = "not_connected"  # no usable Canvas connection is stored
    NOT_PERMITTED = "not_permitted"
    NOT_FOUND = "not_found"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"
    TIMEOUT = "timeout"
    BAD_RESPONSE = "bad_response"
    CANVAS = "canvas"  # any other Canvas failure
    DATABASE = "database"
    UNEXPECTED = "unexpected"  # a bug on our side
    INTERRUPTED = "interrupted"

    @property
    def needs_reconnect(self) -> bool:
        return self in (ErrorKind.INVALID_TOKEN, ErrorKind.NOT_CONNECTED)


_KINDS: tuple[tuple[type[CanvasError], ErrorKind], ...] = (
    (InvalidToken, ErrorKind.INVALID_TOKEN),
    (NotPermitted, ErrorKind.NOT_PERMITTED),
    (NotFound, ErrorKind.NOT_FOUND),
    (RateLimited, ErrorKind.RATE_LIMITED),
    (CanvasUnavailable, ErrorKind.UNAVAILABLE),
    (CanvasTimeout, ErrorKind.TIMEOUT),
    (BadResponse, ErrorKind.BAD_RESPONSE),
)


def error_kind_of(exc: BaseException) -> ErrorKind:
    """The :class:`ErrorKind` of a Canvas exception (by type, never by message)."""
    for cls, kind in _KINDS:
        if isinstance(exc, cls):
            return kind
    return ErrorKind.CANVAS if isinstance(exc, CanvasError) else ErrorKind.UNEXPECTED


class SyncFailed(Exception):
    """An expected failure that is not Canvas's (no credentials, unknown course)."""

    def __init__(self, message: str, kind: ErrorKind = ErrorKind.CANVAS) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class SyncOptions:
    """How a sync runs; ``workers``: HTTP threads (the limiter decides what is in flight)."""

    incremental: bool = False
    workers: int = DEFAULT_WORKERS


@dataclass(frozen=True)
class SyncProgress:
    """What the CLI progress bar and the web UI show.

    ``checkpoint`` is true when no course transaction is open, i.e. when a listener may write
    to the database (on SQLite a write there would otherwise wait for the sync's own lock).
    """

    phase: str  # "connecting" | "courses" | "fetching" | "writing" | "done"
    courses_done: int
    courses_total: int
    message: str  # e.g. "[3/7] Syncing course: Économie 101"
    requests: int
    checkpoint: bool = True


ProgressCallback = Callable[[SyncProgress], None]


@dataclass(frozen=True)
class ConnectionOutcome:
    """How the sync of one connection ended, inside a run that syncs several.

    ``status``: "succeeded", "failed", or "skipped" (a scheduled run leaves out a connection
    whose token Canvas refused until a new one is saved).
    """

    connection_id: int
    name: str
    status: str
    error_kind: ErrorKind | None = None
    error: str | None = None

    @classmethod
    def of(cls, connection_id: int, name: str, result: SyncResult) -> ConnectionOutcome:
        return cls(connection_id, name, result.status, result.error_kind, result.error)

    @classmethod
    def skipped(cls, connection_id: int, name: str) -> ConnectionOutcome:
        return cls(connection_id, name, "skipped", ErrorKind.INVALID_TOKEN,
                   "Canvas refused this token; it is not retried until a new one is saved.")

    @property
    def needs_reconnect(self) -> bool:
        return self.error_kind is not None and self.error_kind.needs_reconnect


@dataclass(frozen=True)
class SyncResult:
    """How a sync ended. ``as_dict()`` is the JSON summary (docs/INTERFACES.md).

    ``result["courses"]`` reads a field of that summary by name, for scripts and tests.
    """

    status: str  # "succeeded" | "failed"
    kind: str  # "full" | "incremental" | "course"
    courses: int = 0
    courses_total: int = 0
    courses_written: int = 0
    courses_unchanged: int = 0
    courses_concluded_skipped: int = 0
    courses_skipped: int = 0
    courses_deleted: int = 0
    skipped: list[dict[str, Any]] = field(default_factory=list)
    assignments: int = 0
    items_skipped: int = 0
    rows_written: int = 0
    new_grades: int = 0  # grade_posted events of this sync (the ledger's)
    events: int = 0  # grade_event rows this sync recorded
    db_statements: int = 0
    db_statements_max_per_course: int = 0
    requests: int = 0
    throttled: int = 0
    retries: int = 0
    duration_s: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    error_kind: ErrorKind | None = None  # the first failed connection's (for the page)
    plan: str = "one"
    connections: int = 1
    outcomes: tuple[ConnectionOutcome, ...] = ()  # one per connection (connections layer)

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"

    @classmethod
    def failure(cls, message: str, kind: ErrorKind, sync_kind: str = "full") -> SyncResult:
        return cls(status="failed", kind=sync_kind, error=message, error_kind=kind)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["error_kind"] = str(self.error_kind) if self.error_kind else None
        data["outcomes"] = [
            {**asdict(o), "error_kind": str(o.error_kind) if o.error_kind else None}
            for o in self.outcomes
        ]
        return data

    def __getitem__(self, key: str) -> Any:
        return self.as_dict()[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.as_dict().get(key, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self.as_dict())


SUMMED = (
    "courses", "courses_total", "courses_written", "courses_unchanged",
    "courses_concluded_skipped", "courses_skipped", "courses_deleted", "assignments",
    "items_skipped", "rows_written", "new_grades", "events", "db_statements", "requests",
    "throttled", "retries",
)


def combine_results(named: list[tuple[str, SyncResult]]) -> SyncResult:
    """One result for the syncs of several connections (run side by side): the counts
    summed, the longest duration, every connection's outcome, failed if any failed, each
    error prefixed by its connection's name so the student knows which one to fix.

    ``error_kind`` is the first failed connection's, for what the page shows; what one
    connection's failure means for it (a refused token, a later retry) is read from
    ``outcomes`` and from the connection itself, never from this one value."""
    if len(named) == 1:
        return named[0][1]
    results = [result for _, result in named]
    failed = [(name, r) for name, r in named if not r.succeeded]
    timings: dict[str, float] = {}
    for r in results:
        for name, seconds in r.timings.items():
            timings[name] = max(timings.get(name, 0.0), seconds)
    sums: dict[str, Any] = {key: sum(getattr(r, key) for r in results) for key in SUMMED}
    return SyncResult(
        status="failed" if failed else "succeeded",
        kind=results[0].kind if results else "full",
        skipped=[item for r in results for item in r.skipped],
        db_statements_max_per_course=max(
            (r.db_statements_max_per_course for r in results), default=0
        ),
        duration_s=max((r.duration_s for r in results), default=0.0),
        error="; ".join(f"{name}: {r.error}" for name, r in failed) or None,
        error_kind=failed[0][1].error_kind if failed else None,
        timings=timings,
        connections=len(named),
        outcomes=tuple(o for r in results for o in r.outcomes),
        **sums,
    )


@dataclass
class RunStats:
    """Counters of one sync, turned into a :class:`SyncResult` at the end."""

    kind: str
    started: float = field(default_factory=time.monotonic)
    started_at: datetime = field(default_factory=utcnow)
    courses_total: int = 0
    courses_done: int = 0
    courses_written: int = 0
    courses_unchanged: int = 0
    courses_concluded_skipped: int = 0
    courses_deleted: int = 0
    assignments: int = 0
    rows_written: int = 0
    new_grades: int = 0
    events: int = 0
    items_skipped: int = 0
    skipped: list[dict[str, Any]] = field(default_factory=list)
    statements_per_course: list[int] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    error_kind: ErrorKind | None = None

    def add_time(self, name: str, seconds: float) -> None:
        self.timings[name] = round(self.timings.get(name, 0.0) + seconds, 4)

    def fail(self, message: str, kind: ErrorKind) -> None:
        self.error = " ".join(str(message).split())
        self.error_kind = kind

    def result(self, *, statements: int, client: dict[str, int]) -> SyncResult:
        """The result; ``client`` has the requests/throttled/retries of this sync."""
        self.timings["total_s"] = round(time.monotonic() - self.started, 4)
        not_read = [s for s in self.skipped if s["reason"] != "restricted by date"]
        return SyncResult(
            status="failed" if self.error else "succeeded",
            kind=self.kind,
            courses=self.courses_done - len(not_read),
            courses_total=self.courses_total,
            courses_written=self.courses_written,
            courses_unchanged=self.courses_unchanged,
            courses_concluded_skipped=self.courses_concluded_skipped,
            courses_skipped=len(self.skipped),
            courses_deleted=self.courses_deleted,
            skipped=list(self.skipped),
            assignments=self.assignments,
            items_skipped=self.items_skipped,
            rows_written=self.rows_written,
            new_grades=self.new_grades,
            events=self.events,
            db_statements=statements,
            db_statements_max_per_course=max(self.statements_per_course, default=0),
            requests=client.get("requests", 0),
            throttled=client.get("throttled", 0),
            retries=client.get("retries", 0),
            duration_s=self.timings["total_s"],
            timings=dict(self.timings),
            error=self.error,
            error_kind=self.error_kind,
        )
