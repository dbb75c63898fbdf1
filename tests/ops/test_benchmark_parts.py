"""The benchmark's parts: the lower-bound formula, and a quick end-to-end run of the script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from benchmarks.lower_bound import (
    BucketSettings,
    RequestPlan,
    bucket_concurrency,
    bucket_time,
    lower_bound,
    plan_from_records,
    schedule_waves,
)
from benchmarks.round_stats import fresh_database
from tests.sync_helpers import connection_id_for

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Rec:
    path: str
    page: str | None = None
    status: int = 200
    query: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.page is not None:
            self.query = {"page": [self.page], "per_page": ["100"]}


# --- The bucket ------------------------------------------------------------------------------

def test_bucket_concurrency_is_hwm_over_up_front_cost() -> None:
    assert bucket_concurrency(600, 50) == 12
    assert bucket_concurrency(700, 50) == 14
    assert bucket_concurrency(600, 50, residue=100) == 10
    assert bucket_concurrency(30, 50) == 1  # a bucket always lets one request through


def test_bucket_time_counts_waves_of_latency() -> None:
    settings = BucketSettings(latency=0.04)
    assert bucket_time(0, settings) == (0.0, 0)
    assert bucket_time(12, settings) == pytest.approx((0.04, 1))
    assert bucket_time(13, settings) == pytest.approx((0.08, 2))
    # After the first wave 0.1 unit per request stays behind (the leak takes 0.4 per wave), so
    # 12 * 50 no longer fits under 600: 12 + 11 * 10 >= 120 -> 11 waves.
    assert bucket_time(120, settings) == pytest.approx((0.44, 11))


def test_bucket_time_shrinks_waves_when_cost_outruns_the_leak() -> None:
    # Each request leaves 20 units and nothing leaks: wave 1 admits 12 (240 left behind),
    # wave 2 admits floor((600-240)/50) = 7 (380), wave 3 admits 4 (460), wave 4 admits 2.
    costly = BucketSettings(latency=1.0, request_cost=20.0, outflow=0.0)
    assert bucket_time(25, costly) == (4.0, 4)
    # The same plan with Canvas's leak of 10 units/s over a 1 s wave needs fewer waves.
    leaky = BucketSettings(latency=1.0, request_cost=20.0, outflow=100.0)
    assert bucket_time(25, leaky)[1] < 4


# --- The request plan ------------------------------------------------------------------------

def test_plan_depth_follows_course_list_then_deepest_course() -> None:
    records = [
        Rec("/api/v1/courses", "1"),
        Rec("/api/v1/courses/1/assignment_groups", "1"),
        Rec("/api/v1/courses/1/students/submissions", "first"),
        Rec("/api/v1/courses/1/students/submissions", "bookmark:WzFd"),
        Rec("/api/v1/courses/1/students/submissions", "bookmark:WzJd"),
        Rec("/api/v1/courses/2/assignment_groups", "1"),
    ]
    plan = plan_from_records(records)
    # course list (1) + three bookmark pages read one after the other (3)
    assert plan == RequestPlan(requests=6, depth=4, lists=4, per_assignment=0)


def test_numbered_pages_cost_two_round_trips_however_many() -> None:
    records = [Rec("/api/v1/courses", "1")] + [
        Rec("/api/v1/courses/7/assignments", str(p)) for p in range(1, 6)]
    assert plan_from_records(records).depth == 1 + 2


def test_per_assignment_requests_wait_for_the_assignment_list() -> None:
    records = [
        Rec("/api/v1/courses", "1"),
        Rec("/api/v1/courses/3/assignment_groups", "1"),
        Rec("/api/v1/courses/3/assignments", "1"),
        *[Rec(f"/api/v1/courses/3/assignments/{a}/submissions/self") for a in range(10)],
    ]
    plan = plan_from_records(records)
    assert plan.per_assignment == 10
    assert plan.depth == 3  # courses -> assignments -> submission
    assert plan.requests == 13


def test_retries_are_not_part_of_the_plan() -> None:
    records = [
        Rec("/api/v1/courses", "1", status=403),
        Rec("/api/v1/courses", "1", status=503),
        Rec("/api/v1/courses", "1", status=0),
        Rec("/api/v1/courses", "1"),
        Rec("/api/v1/courses/1/assignment_groups", "1", status=429),
        Rec("/api/v1/courses/1/assignment_groups", "1"),
    ]
    assert plan_from_records(records) == RequestPlan(requests=2, depth=2, lists=2)


def test_two_page_course_list_overlaps_with_first_page_courses() -> None:
    records = [Rec("/api/v1/courses", "1"), Rec("/api/v1/courses", "2"),
               Rec("/api/v1/users/self")]
    records += [Rec(f"/api/v1/courses/{c}/assignment_groups", "1") for c in range(150)]
    assert plan_from_records(records).depth == 2


@dataclass
class PageSpan(Rec):
    start: float = 0.0
    end: float = 1.0


def test_pages_asked_for_before_page_one_was_answered_hang_beside_it() -> None:
    """A split gradebook's pages planned from the last sync's size (all at once) are one
    round trip after the course list; pages planned from page 1's rel="last" are two."""
    lists = [PageSpan("/api/v1/courses", "1", start=0.0, end=1.0)]
    ahead = [PageSpan("/api/v1/courses/7/assignments", str(n), start=1.0, end=2.0)
             for n in (1, 2, 3)]
    assert plan_from_records(lists + ahead).depth == 2
    after = [PageSpan("/api/v1/courses/7/assignments", "1", start=1.0, end=2.0),
             *(PageSpan("/api/v1/courses/7/assignments", str(n), start=2.0, end=3.0)
               for n in (2, 3))]
    assert plan_from_records(lists + after).depth == 3


def test_lower_bound_is_the_larger_of_path_and_bucket() -> None:
    settings = BucketSettings(latency=0.04)
    few = lower_bound(RequestPlan(requests=5, depth=3), settings)
    assert few.seconds == pytest.approx(0.12)
    assert few.limited_by == "latency"
    many = lower_bound(RequestPlan(requests=889, depth=3), settings)
    # 12, then 11 a wave until the residue passes 50 units (wave 73), then 10: 82 waves.
    assert many.bucket_s == pytest.approx(82 * 0.04)
    assert many.waves == 82
    assert many.seconds == many.bucket_s
    assert many.limited_by == "bucket"
    slow_connect = lower_bound(RequestPlan(requests=1, depth=1),
                               BucketSettings(latency=0.04, connect_cost=0.1))
    assert slow_connect.seconds == pytest.approx(0.14)


def test_schedule_waves_respects_dependencies_and_width() -> None:
    star = (-1,) + (0,) * 14  # a course list, then 14 courses
    assert schedule_waves(star, 12) == 3  # 1, then 12, then 2: not ceil(15 / 12) = 2
    assert schedule_waves(star, 20) == 2
    chain_and_leaves = (-1, 0, 1, 2, 3, 0, 0)  # R -> A -> A1 -> A2 -> A3, and R -> B, R -> C
    assert schedule_waves(chain_and_leaves, 2) == 5  # the chain sets the pace
    assert schedule_waves(chain_and_leaves, 1) == 7
    assert schedule_waves((), 12) == 0


def test_dependencies_and_bucket_together_bound_a_course_by_course_plan() -> None:
    # A no-change incremental sync's plan: the course list, then one request per course.
    records = [Rec("/api/v1/courses", "1")] + [
        Rec(f"/api/v1/courses/{c}/assignment_groups", "1") for c in range(14)]
    bound = lower_bound(plan_from_records(records), BucketSettings(latency=0.04))
    assert bound.critical_path_s == pytest.approx(0.08)
    assert bound.bucket_s == pytest.approx(0.08)
    assert bound.schedule_s == pytest.approx(0.12)  # 14 requests do not fit in one wave
    assert bound.seconds == pytest.approx(0.12)
    assert bound.limited_by == "both"


# --- The script, end to end ------------------------------------------------------------------

@pytest.fixture
def bench_database_url(tmp_path: Path) -> object:
    """A database of its own: the benchmark drops and recreates every table."""
    server = os.environ.get("TEST_DATABASE_URL")
    if not server:
        yield f"sqlite:///{tmp_path / 'bench.sqlite3'}"
        return
    with fresh_database(server) as url:
        yield url


@pytest.mark.slow
def test_quick_benchmark_reports_every_contender(tmp_path: Path, bench_database_url: str) -> None:
    out = tmp_path / "results"
    env = {k: v for k, v in os.environ.items()
           if k not in ("CANVAS_URL", "CANVAS_TOKEN", "DATABASE_URL")}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "test_canvas_performance.py"), "--quick", "--latency", "0",
         "--preset", "freshman", "--output-dir", str(out), "--database-url", bench_database_url],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Targets:" in proc.stdout
    assert "run 1/1" in proc.stderr  # progress while it runs
    payload = json.loads((out / "benchmark.json").read_text())
    assert (out / "benchmark.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = {row["key"]: row for row in payload["rows"]}
    assert list(rows) == ["canvasapi_plain", "canvasapi_well", "gradesync_full",
                          "gradesync_incremental", "gradesync_changes"]
    courses = payload["dataset"]["visible_courses"]
    assignments = payload["dataset"]["assignments"]
    for row in rows.values():
        assert row["correct"], (row["key"], row["problems"])
        assert row["wall_s"] > 0
        assert row["runs"] == 1
        assert row["requests"] >= 1
        assert row["max_in_flight"] >= 1
        assert row["lower_bound_s"] == 0  # latency 0: nothing to wait for
    # The plain version asks once per assignment; the others do not.
    assert rows["canvasapi_plain"]["requests"] > assignments
    assert rows["canvasapi_well"]["requests"] < assignments
    assert rows["gradesync_full"]["requests"] < rows["canvasapi_plain"]["requests"]
    # Full syncs write every course and assignment; a no-change incremental writes nothing.
    for key in ("canvasapi_plain", "canvasapi_well", "gradesync_full"):
        assert rows[key]["rows_written"] >= courses + assignments
    assert rows["gradesync_incremental"]["rows_written"] == 0
    assert 0 < rows["gradesync_changes"]["rows_written"] < rows["gradesync_full"]["rows_written"]
    assert rows["canvasapi_plain"]["db_statements"] > rows["gradesync_full"]["db_statements"]
    assert {t["name"] for t in payload["targets"]} >= {
        "full sync within 1.5x of its lower bound", "no-change incremental: 0 rows written"}


# --- The database counter ---------------------------------------------------------------------

def test_db_counter_counts_statements_and_gradebook_rows(app, db) -> None:
    from app.accounts import create_user
    from app.models import Course, Term
    from benchmarks.harness import DbCounter

    counter = DbCounter(db.engine)
    with counter.counting() as counts:
        user = create_user("counted@example.edu", "correct horse battery")  # not gradebook
        term = Term(user_id=user.id, connection_id=connection_id_for(user),
                    canvas_term_id=1, name="Fall")
        db.session.add(term)
        db.session.flush()
        for n in range(3):  # the ORM sends INSERT ... RETURNING, one row at a time
            db.session.add(Course(user_id=user.id, connection_id=term.connection_id,
                           canvas_course_id=n, name=f"C{n}",
                                  term_id=term.id))
        db.session.commit()
        db.session.execute(db.update(Course).values(name="renamed"))
        db.session.commit()
    assert counts.rows_by_table == {"term": 1, "course": 3 + 3}
    assert counts.rows_written == 7
    assert counts.statements >= 6
    with counter.counting() as idle:
        pass
    assert idle.statements == 0 and idle.rows_written == 0


# --- The verification script's judgements can fail --------------------------------------------

@dataclass
class Timed:
    path: str
    start: float
    end: float
    status: int = 200
    token: str = "t"
    query: dict[str, list[str]] = field(default_factory=dict)


def _observed(records: list[Timed], *, logs: list[str] | None = None, connections: int = 1,
              statements: int = 10, rows: int = 100) -> object:
    from test_optimizations import Observed

    stats = {"connections_opened": connections, "max_in_flight": 1}
    return Observed({"status": "succeeded"}, records, stats, statements, rows, logs or [])


def test_verification_checks_fail_on_unoptimized_behaviour() -> None:
    import test_optimizations as verify

    sequential = [Timed(f"/api/v1/courses/{c}/assignment_groups", c, c + 0.5) for c in range(4)]
    parallel = [Timed(f"/api/v1/courses/{c}/assignment_groups", 0.0, 1.0) for c in range(4)]
    assert not verify.check_concurrent_courses(_observed(sequential)).ok
    assert verify.check_concurrent_courses(_observed(parallel)).ok

    assert not verify.check_pooling(_observed(sequential, connections=4)).ok
    assert verify.check_pooling(_observed(sequential, connections=1)).ok

    per_assignment = [*parallel, Timed("/api/v1/courses/1/assignments/9/submissions/self", 2, 3)]
    assert not verify.check_bulk_submissions(_observed(per_assignment), assignments=50).ok
    assert verify.check_bulk_submissions(_observed(parallel), assignments=50).ok

    assert not verify.check_batched_writes(_observed(parallel, statements=400, rows=100), 4).ok
    assert verify.check_batched_writes(_observed(parallel, statements=20, rows=100), 4).ok

    good = ["[1/4] Syncing course: Biology", "=" * 20, "Courses: 4", "-" * 20]
    assert verify.check_progress_lines(_observed(parallel, logs=good)).ok
    assert not verify.check_progress_lines(_observed(parallel, logs=good[:2])).ok
    assert not verify.check_progress_lines(_observed(parallel, logs=good[1:])).ok

    full = _observed(parallel, rows=100)
    assert verify.check_incremental(full, _observed(parallel[:2], rows=0)).ok
    assert not verify.check_incremental(full, _observed(parallel[:2], rows=3)).ok
    assert not verify.check_incremental(full, _observed(parallel, rows=0)).ok
