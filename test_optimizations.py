#!/usr/bin/env python3
"""Verify each optimization of the original design by watching GradeSync work.

    python3 test_optimizations.py                     # temporary SQLite database
    python3 test_optimizations.py --database-url postgresql://user@host/db   # emptied!

Nothing here reads source code: every check runs a real sync against the Canvas simulator
(or builds a real database) and looks at what happened: the simulator's request log and
connection counter, the SQL statements, the rows, the log lines. One line per check, ✅ or ❌;
the exit status is 1 if any check fails. See CANVAS_PERFORMANCE_TESTING.md.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from benchmarks.harness import default_database_url, use_temp_instance_dir

ROOT = Path(__file__).resolve().parent
LATENCY = 0.02  # enough for overlaps to show, small enough to keep the script quick
PRESET = "benchmark"  # 24 courses, 14 of them current: incremental sync has something to skip
PER_ASSIGNMENT = re.compile(r"^/api/v1/courses/\d+/assignments/\d+/submissions")
COURSE_PATH = re.compile(r"^/api/v1/courses/(\d+)/")
FILLER_PATH = "/api/v1/users/self/profile"  # what the bucket-filling requests ask for


@dataclass
class Outcome:
    ok: bool
    detail: str


@dataclass
class Observed:
    """One sync as seen from outside: its result, requests, statements, rows and log lines."""

    result: dict[str, Any]
    records: list[Any]
    stats: dict[str, int]
    statements: int
    rows: int
    logs: list[str] = field(default_factory=list)
    wall_s: float = 0.0


class _LogCapture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


class Lab:
    """The simulator, the app and a fresh student per scenario."""

    def __init__(self, sim: Any, counter: Any) -> None:
        self.sim = sim
        self.counter = counter
        self._n = 0

    def new_user(self, preset: str = PRESET) -> tuple[Any, Any, str]:
        from benchmarks.harness import make_user

        self._n += 1
        token = f"verify-{self._n}-{os.getpid()}"
        student = self.sim.add_student(token, preset=preset, seed=self._n)
        user = make_user(f"verify{self._n}@example.edu", self.sim.base_url, token)
        return user, student, token

    def sync(self, user: Any, token: str, *, incremental: bool = False) -> Observed:
        from app.connections import create_canvas_sync_service
        from app.extensions import db
        from app.models import User

        user = db.session.get(User, user.id)
        capture = _LogCapture()
        root = logging.getLogger()
        old_level = root.level
        root.addHandler(capture)
        root.setLevel(logging.INFO)
        self.sim.reset_stats()
        try:
            with self.counter.counting() as counts:
                start = time.perf_counter()
                result = create_canvas_sync_service(user).sync_all_data(
                    use_incremental=incremental)
                wall = time.perf_counter() - start
        finally:
            root.removeHandler(capture)
            root.setLevel(old_level)
        records = [r for r in list(self.sim.stats.records) if r.token == token]
        return Observed(result, records, self.sim.stats.snapshot(), counts.statements,
                        counts.rows_written, capture.lines, wall)


def _overlap(a: Any, b: Any) -> bool:
    return a.start < b.end and b.start < a.end


def _data_ok(user: Any, student: Any) -> str | None:
    from benchmarks.contenders import check_database

    problems = check_database(user.id, student.expected())
    return None if not problems else f"data wrong after the sync: {problems[0]}"


def _succeeded(observed: Observed) -> str | None:
    if observed.result.get("status") != "succeeded":
        return f"sync failed: {observed.result.get('error')}"
    return None


# --- The checks ------------------------------------------------------------------------------

def check_pooling(full: Observed) -> Outcome:
    opened, requests = full.stats["connections_opened"], len(full.records)
    return Outcome(opened < requests,
                   f"{requests} requests over {opened} TCP connections (keep-alive pool)")


def check_concurrent_courses(full: Observed) -> Outcome:
    per_course = [r for r in full.records if COURSE_PATH.match(r.path)]
    best = 0
    for r in per_course:  # at the moment each request starts, which courses are in flight?
        courses = {COURSE_PATH.match(o.path).group(1) for o in per_course
                   if o.start <= r.start < o.end}
        best = max(best, len(courses))
    return Outcome(best >= 2, f"requests of up to {best} different courses in flight at the "
                              f"same moment")


def check_bulk_submissions(full: Observed, assignments: int) -> Outcome:
    single = [r for r in full.records if PER_ASSIGNMENT.match(r.path)]
    return Outcome(not single and len(full.records) < assignments,
                   f"{len(single)} per-assignment submission requests; {len(full.records)} "
                   f"requests in all for {assignments} assignments")


def check_batched_writes(full: Observed, courses: int) -> Outcome:
    per_course = full.statements / max(courses, 1)
    worst = full.result.get("db_statements_max_per_course")
    ok = per_course <= 10 and full.rows >= 3 * full.statements
    return Outcome(ok, f"{full.statements} SQL statements for {full.rows} rows over {courses} "
                       f"courses ({per_course:.1f} per course, at most {worst} in one course)")


def check_progress_lines(full: Observed) -> Outcome:
    course_line = next((line for line in full.logs
                        if re.match(r"^\[1/\d+\] Syncing course: \S", line)), None)
    rule = any(line.startswith("===") for line in full.logs)
    dash = any(line.startswith("---") for line in full.logs)
    return Outcome(bool(course_line and rule and dash),
                   f"{course_line!r}, === separator {'seen' if rule else 'missing'}, "
                   f"--- separator {'seen' if dash else 'missing'}")


def check_incremental(full: Observed, incr: Observed) -> Outcome:
    ok = len(incr.records) < len(full.records) and incr.rows == 0
    return Outcome(ok, f"{len(incr.records)} requests vs {len(full.records)} for the full sync; "
                       f"{incr.rows} rows written; {incr.statements} statements; "
                       f"{incr.wall_s:.2f} s vs {full.wall_s:.2f} s")


def check_pagination(lab: Lab) -> Outcome:
    from app.canvas.client import CanvasAPIService
    from app.outbound import OutboundPolicy

    _, student, token = lab.new_user(preset="heavy")
    course_id = max(student.expected().items(), key=lambda kv: len(kv[1]["assignments"]))[0]
    lab.sim.config.latency = 0.05
    lab.sim.reset_stats()
    try:
        with CanvasAPIService(
            lab.sim.base_url, token, policy=OutboundPolicy(allow_private=True)
        ) as client:
            items = client.get_assignments(course_id)
    finally:
        lab.sim.config.latency = LATENCY
    pages = sorted((r for r in lab.sim.stats.records
                    if r.path == f"/api/v1/courses/{course_id}/assignments"),
                   key=lambda r: r.start)
    later = pages[1:]
    overlapping = any(_overlap(a, b) for i, a in enumerate(later) for b in later[i + 1:])
    return Outcome(len(pages) >= 3 and overlapping,
                   f"{len(items)} assignments in {len(pages)} pages; pages 2..{len(pages)} "
                   f"{'overlapped in time' if overlapping else 'ran one after another'}")


def check_retries_5xx(lab: Lab) -> Outcome:
    user, student, token = lab.new_user(preset="freshman")
    lab.sim.config.fault_5xx_rate = 0.3
    try:
        observed = lab.sync(user, token)
    finally:
        lab.sim.clear_faults()
    failed = sum(1 for r in observed.records if r.status >= 500)
    problem = _succeeded(observed) or _data_ok(user, student)
    retries = observed.result.get("retries", 0)
    return Outcome(problem is None and failed > 0 and retries >= failed,
                   problem or f"{failed} injected 5xx answers, {retries} retries, sync succeeded "
                              "with the right data")


def _fill_bucket(lab: Lab, token: str, hold: float = 1.5) -> list[threading.Thread]:
    """Fill ``token``'s bucket to ~600 units with slow requests held in flight for ``hold`` s.

    13 requests: 12 fit (the 12th only because a little has leaked meanwhile), the 13th is
    refused; either way the count stays near 600 while they last, so the sync's first requests
    are throttled and have to be retried.
    """
    import requests

    lab.sim.config.latency = hold
    url = f"{lab.sim.base_url}{FILLER_PATH}"
    headers = {"Authorization": f"Bearer {token}", "User-Agent": "test_optimizations"}

    def one() -> None:
        try:
            requests.get(url, headers=headers, timeout=10)
        except requests.RequestException:
            pass  # only the reservation matters

    threads = [threading.Thread(target=one, daemon=True) for _ in range(13)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 3
    while lab.sim.stats.in_flight < 12 and time.monotonic() < deadline:
        time.sleep(0.005)
    lab.sim.config.latency = LATENCY
    return threads


def check_retries_throttle(lab: Lab, status: int) -> Outcome:
    user, student, token = lab.new_user(preset="freshman")
    lab.sim.config.throttle_status = status
    try:
        threads = _fill_bucket(lab, token)
        observed = lab.sync(user, token)
        for thread in threads:
            thread.join()
    finally:
        lab.sim.config.throttle_status = 403
    throttled = sum(1 for r in observed.records
                    if r.status == status and r.path != FILLER_PATH)
    problem = _succeeded(observed) or _data_ok(user, student)
    seen, retries = observed.result.get("throttled", 0), observed.result.get("retries", 0)
    return Outcome(problem is None and throttled > 0 and seen >= throttled
                   and retries >= throttled,
                   problem or f"{throttled} of the sync's requests answered {status} 'Rate Limit "
                              f"Exceeded' while the bucket was full; the sync counted {seen} "
                              f"throttled and {retries} retries, and succeeded with the right "
                              f"data in {observed.wall_s:.1f} s")


def check_indexes_migrations(workdir: Path) -> Outcome:
    from sqlalchemy import create_engine, inspect

    from app.models.indexes import CANVAS_INDEX_NAMES

    url = f"sqlite:///{workdir / 'migrated.sqlite3'}"
    env = {**os.environ, "DATABASE_URL": url}
    proc = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        return Outcome(False, f"flask db upgrade failed: {proc.stderr.strip()[-200:]}")
    engine = create_engine(url)
    have = {ix["name"] for t in ("assignment", "course", "term", "grade_category")
            for ix in inspect(engine).get_indexes(t)}
    engine.dispose()
    missing = sorted(CANVAS_INDEX_NAMES - have)
    return Outcome(not missing, "all 10 present after `flask db upgrade` on a new database"
                   if not missing else f"missing after migrations: {', '.join(missing)}")


def check_indexes_script(database_url: str) -> Outcome:
    from sqlalchemy import inspect, text

    from app.extensions import db
    from app.models.indexes import CANVAS_INDEX_NAMES

    with db.engine.begin() as conn:
        for name in sorted(CANVAS_INDEX_NAMES):
            conn.execute(text(f"DROP INDEX IF EXISTS {name}"))
    db.engine.dispose()
    proc = subprocess.run([sys.executable, str(ROOT / "add_canvas_indexes.py"),
                           "--database-url", database_url],
                          cwd=ROOT, env=dict(os.environ), capture_output=True, text=True,
                          timeout=60)
    have = {ix["name"] for t in ("assignment", "course", "term", "grade_category")
            for ix in inspect(db.engine).get_indexes(t)}
    missing = sorted(CANVAS_INDEX_NAMES - have)
    if proc.returncode != 0:
        return Outcome(False, f"add_canvas_indexes.py exited {proc.returncode}: "
                              f"{(proc.stderr or proc.stdout).strip()[-200:]}")
    return Outcome(not missing, "dropped all 10, add_canvas_indexes.py built them back"
                   if not missing else f"missing after add_canvas_indexes.py: {missing}")


# --- Running them ----------------------------------------------------------------------------

def _run(name: str, fn: Callable[[], Outcome], results: list[bool]) -> None:
    start = time.perf_counter()
    try:
        outcome = fn()
    except Exception as exc:  # a crashing check is a failed check, reported in one line
        outcome = Outcome(False, f"{type(exc).__name__}: {exc}")
    results.append(outcome.ok)
    mark = "✅" if outcome.ok else "❌"
    click.echo(f"{mark} {name}: {outcome.detail} [{time.perf_counter() - start:.1f} s]")


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--database-url", default=None,
              help="Database to use (it is emptied!) [default: a temporary SQLite file].")
def main(database_url: str | None) -> None:
    """Verify GradeSync's sync optimizations by observing them against the simulator."""
    # Errors to stderr; the retry warnings of the fault checks and the sync's INFO lines are
    # only captured (the check lines report them).
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.ERROR)
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    instance_dir = use_temp_instance_dir()
    database_url = database_url or default_database_url(instance_dir)

    from benchmarks.harness import DbCounter, make_app, reset_schema
    from simulator import CanvasSimulator, SimulatorConfig

    app = make_app(database_url)
    results: list[bool] = []
    with app.app_context(), CanvasSimulator(SimulatorConfig(latency=LATENCY)) as sim:
        from app.extensions import db

        reset_schema()
        lab = Lab(sim, DbCounter(db.engine))
        user, student, token = lab.new_user()
        expected = student.expected()
        courses = len(expected)
        assignments = sum(len(c["assignments"]) for c in expected.values())
        click.echo(f"Simulator preset {PRESET!r}: {courses} courses, {assignments} assignments, "
                   f"latency {LATENCY * 1000:g} ms; database {database_url.split(':')[0]}")
        full = lab.sync(user, token)
        problem = _succeeded(full) or _data_ok(user, student)
        _run("full sync stores the right data",
             lambda: Outcome(problem is None, problem or f"{full.rows} rows in {full.wall_s:.2f} "
                             f"s, matching the simulator's gradebook"), results)
        incr = lab.sync(user, token, incremental=True)
        _run("1. connection pooling", lambda: check_pooling(full), results)
        _run("1. retries on 500/502/503/504", lambda: check_retries_5xx(lab), results)
        _run("1. retries on 403 'Rate Limit Exceeded'",
             lambda: check_retries_throttle(lab, 403), results)
        _run("1. retries on 429", lambda: check_retries_throttle(lab, 429), results)
        _run("2. concurrent pagination", lambda: check_pagination(lab), results)
        _run("3. incremental sync", lambda: check_incremental(full, incr), results)
        _run("4. concurrent course fetch", lambda: check_concurrent_courses(full), results)
        _run("5. bulk submissions", lambda: check_bulk_submissions(full, assignments), results)
        _run("6. batched writes", lambda: check_batched_writes(full, courses), results)
        _run("7. progress lines", lambda: check_progress_lines(full), results)
        _run("8. the 10 indexes (migrations)",
             lambda: check_indexes_migrations(instance_dir), results)
        _run("8. the 10 indexes (add_canvas_indexes.py)",
             lambda: check_indexes_script(database_url), results)
        db.session.remove()
        db.engine.dispose()
    failed = results.count(False)
    click.echo(f"\n{len(results) - failed}/{len(results)} checks passed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
