"""Run the contenders, one fresh student and one empty database at a time, and measure them.

Against the simulator every contender gets its own token (so its own, empty throttle bucket)
on a student generated from the same preset and seed, so all of them sync the same data.
Requests, concurrency and throttling come from the simulator's own request log; statements and
rows from :class:`~benchmarks.harness.DbCounter`.

Against a real Canvas (``CANVAS_URL``/``CANVAS_TOKEN``) only GET requests are made and the
request log is kept on the client side, at the ``requests`` transport.
"""

from __future__ import annotations

import logging
import statistics
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from benchmarks.contenders import (
    apply_small_changes,
    canvasapi_plain,
    canvasapi_well,
    check_database,
    gradesync,
)
from benchmarks.harness import DbCounter, make_user, reset_schema
from benchmarks.lower_bound import BucketSettings, lower_bound, observed_bounds, plan_from_records

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Contender:
    key: str
    label: str
    mutates: bool = False  # needs to change Canvas data: simulator only
    needs_prior_sync: bool = False


CONTENDERS: tuple[Contender, ...] = (
    Contender("canvasapi_plain", "canvasapi, plain (before)"),
    Contender("canvasapi_well", "canvasapi, used well"),
    Contender("gradesync_full", "GradeSync full"),
    Contender("gradesync_incremental", "GradeSync incr., no change", needs_prior_sync=True),
    Contender("gradesync_changes", "GradeSync incr., small changes", mutates=True,
              needs_prior_sync=True),
)


@dataclass
class Record:
    """A request as a client saw it (the real-Canvas mode's stand-in for the simulator's)."""

    token: str | None
    method: str
    path: str
    query: dict[str, list[str]]
    status: int
    start: float
    end: float
    connection_id: int = 0


@dataclass
class RunResult:
    """One timed run of one contender."""

    wall_s: float
    requests: int
    max_in_flight: int
    throttled: int
    db_statements: int
    rows_written: int
    records: list[Any] = field(default_factory=list, repr=False)
    problems: list[str] | None = None  # None: not checked (a real Canvas has no oracle)
    changes: list[str] = field(default_factory=list)
    course_list_pages: int = 0
    sync_result: dict[str, Any] | None = None


class TransportRecorder:
    """Logs every request made through ``requests`` (real-Canvas mode), thread-safely."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.records: list[Record] = []
        self._in_flight = 0
        self.max_in_flight = 0

    @contextmanager
    def installed(self) -> Iterator[TransportRecorder]:
        from requests.adapters import HTTPAdapter

        original = HTTPAdapter.send
        recorder = self

        def send(adapter: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
            with recorder._lock:
                recorder._in_flight += 1
                recorder.max_in_flight = max(recorder.max_in_flight, recorder._in_flight)
            start = time.monotonic()
            status = 0
            try:
                response = original(adapter, request, *args, **kwargs)
                status = response.status_code
                return response
            finally:
                parts = urlsplit(request.url)
                with recorder._lock:
                    recorder._in_flight -= 1
                    recorder.records.append(Record(None, request.method, parts.path,
                                                   parse_qs(parts.query), status, start,
                                                   time.monotonic()))

        HTTPAdapter.send = send  # type: ignore[method-assign]
        try:
            yield self
        finally:
            HTTPAdapter.send = original  # type: ignore[method-assign]

    def reset(self) -> None:
        with self._lock:
            self.records = []
            self.max_in_flight = self._in_flight


def _run_contender(contender: Contender, base_url: str, token: str, user: Any) -> dict | None:
    if contender.key == "canvasapi_plain":
        canvasapi_plain(base_url, token, user.id)
        return None
    if contender.key == "canvasapi_well":
        canvasapi_well(base_url, token, user.id)
        return None
    return gradesync(user, incremental=contender.key != "gradesync_full")


def _course_list_pages(records: list[Any]) -> int:
    return sum(1 for r in records if r.path.rstrip("/") == "/api/v1/courses"
               and r.status not in (0, 403, 429) and r.status < 500)


def run_on_simulator(sim: Any, contender: Contender, repeat: int, *, preset: str, seed: int,
                     counter: DbCounter) -> RunResult:
    """One timed run against the simulator, from an empty database and a fresh token."""
    from app.extensions import db
    from app.models import User
    from app.outbound import forget_shared_connections

    reset_schema()
    token = f"bench-{contender.key}-{repeat}-{uuid.uuid4().hex[:8]}"
    student = sim.add_student(token, preset=preset, seed=seed)
    user = make_user(f"{contender.key}-{repeat}@bench.example.edu", sim.base_url, token)
    changes: list[str] = []
    if contender.needs_prior_sync:
        gradesync(user, incremental=False)  # the earlier sync; not timed
        if contender.mutates:
            changes = apply_small_changes(student)
    expected = student.expected()
    user_id = user.id
    db.session.expire_all()
    user = db.session.get(User, user_id)
    sim.reset_stats()
    # A timed run starts as `flask canvas sync` does, in a new process: no warm connections
    # (a worker's next sync would reuse them: app.outbound's shared pool).
    forget_shared_connections()
    with counter.counting() as counts:
        start = time.perf_counter()
        sync_result = _run_contender(contender, sim.base_url, token, user)
        wall = time.perf_counter() - start
    db.session.remove()
    records = [r for r in list(sim.stats.records) if r.token == token]
    stats = sim.stats.snapshot()
    return RunResult(
        wall_s=wall,
        requests=len(records),
        max_in_flight=stats["max_in_flight"],
        throttled=sum(1 for r in records if r.status in (403, 429)),
        db_statements=counts.statements,
        rows_written=counts.rows_written,
        records=records,
        problems=check_database(user_id, expected),
        changes=changes,
        course_list_pages=_course_list_pages(records),
        sync_result=sync_result,
    )


def run_on_canvas(base_url: str, token: str, contender: Contender, repeat: int, *,
                  counter: DbCounter, recorder: TransportRecorder) -> RunResult:
    """One timed run against a real Canvas: GET requests only, an empty database each time."""
    reset_schema()
    user = make_user(f"{contender.key}-{repeat}@bench.example.edu", base_url, token)
    if contender.needs_prior_sync:
        gradesync(user, incremental=False)
    recorder.reset()
    with counter.counting() as counts:
        start = time.perf_counter()
        sync_result = _run_contender(contender, base_url, token, user)
        wall = time.perf_counter() - start
    records = list(recorder.records)
    return RunResult(
        wall_s=wall,
        requests=len(records),
        max_in_flight=recorder.max_in_flight,
        throttled=sum(1 for r in records if r.status in (403, 429)),
        db_statements=counts.statements,
        rows_written=counts.rows_written,
        records=records,
        course_list_pages=_course_list_pages(records),
        sync_result=sync_result,
    )


def summarize(contender: Contender, runs: list[RunResult], settings: BucketSettings,
              *, estimated_bound: bool = False) -> dict[str, Any]:
    """The contender's row: median wall time, the median run's counts, its lower bound."""
    times = [r.wall_s for r in runs]
    median_run = sorted(runs, key=lambda r: r.wall_s)[(len(runs) - 1) // 2]
    plan = plan_from_records(median_run.records)
    bound = lower_bound(plan, settings)
    observed = observed_bounds(median_run.records, bound)
    wall = statistics.median(times)
    return {
        "key": contender.key,
        "label": contender.label,
        "runs": len(runs),
        "times_s": [round(t, 4) for t in times],
        "wall_s": round(wall, 4),
        "requests": median_run.requests,
        "course_list_pages": median_run.course_list_pages,
        "max_in_flight": max(r.max_in_flight for r in runs),
        "throttled": sum(r.throttled for r in runs),
        "db_statements": median_run.db_statements,
        "rows_written": median_run.rows_written,
        "lower_bound_s": round(bound.seconds, 4),
        "lower_bound": bound.as_dict(),
        "lower_bound_estimated": estimated_bound,
        "sequential_floor_s": round(plan.requests * settings.latency, 4),
        "x_lower_bound": round(wall / bound.seconds, 2) if bound.seconds > 0 else None,
        # Both bounds of issue 20, from the median run's observed request times.
        "per_course_bound_s": round(observed["per_course_s"], 4),
        "spread_bound_s": round(observed["spread_s"], 4),
        "x_per_course": (round(wall / observed["per_course_s"], 2)
                         if observed["per_course_s"] > 0 else None),
        "x_spread": round(wall / observed["spread_s"], 2) if observed["spread_s"] > 0 else None,
        "correct": (None if any(r.problems is None for r in runs)
                    else not any(r.problems for r in runs)),
        "problems": sorted({p for r in runs for p in r.problems or []})[:5],
        "changes": median_run.changes,
        "sync_result": _jsonable(median_run.sync_result),
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def median_latency(records: list[Any]) -> float:
    """The typical round trip of successful requests (real-Canvas mode's latency estimate)."""
    spans = [r.end - r.start for r in records if 200 <= r.status < 300]
    return statistics.median(spans) if spans else 0.0


ProgressFn = Callable[[str], None]
