"""Scheduled incremental syncs of many students through real Celery workers, measured.

    python -m benchmarks.scheduled_load --students 200 --workers 1 2 4

What it does, all on loopback:

1. Starts a Canvas simulator and gives it N students with the ``student`` preset (20 courses,
   ~1,000 assignments each); creates a fresh Postgres database on ``--database-server`` (dropped
   at the end) and connects one GradeSync user to each student.
2. Baseline: a full sync of everyone through Celery workers (not timed).
3. For each worker count: starts ``celery -A benchmarks.celery_probe worker --concurrency W``
   (the README's worker plus per-task meters), changes a grade for ``--change-share`` of the
   students in the simulator, runs the scheduler's tick (:func:`app.jobs.enqueue.enqueue_due`,
   what Celery beat's ``gradesync.enqueue_due_syncs`` runs) at a clock one interval ahead, so
   every account is due, and waits until every queued incremental run finished.

Reported per round: syncs per minute (enqueue to last finish), 95th-percentile staleness
(for each account, the time from its previous successful sync's finish to its scheduled
sync's finish), 95th-percentile queue wait, throttled responses, failures, CPU seconds per
sync (worker processes + the simulator's process + Postgres backends of the benchmark's
database) and SQL statements per sync. Every wait is bounded by ``--round-timeout``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from benchmarks.harness import use_temp_instance_dir
from benchmarks.load_meters import machine_state, tree_cpu_seconds

ROOT = Path(__file__).resolve().parent.parent
SECRET = "benchmark-secret-key-not-for-production"  # noqa: S105 - a throw-away database
PASSWORD = "correct horse battery"  # noqa: S105 - throw-away benchmark users


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=50)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--database-server", default="postgresql://root@127.0.0.1:5432/",
                        help="a Postgres server (plain URL); a fresh database is made on it")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/7")
    parser.add_argument("--latency", type=float, default=0.05,
                        help="seconds the simulator adds to every response")
    parser.add_argument("--change-share", type=float, default=0.1,
                        help="share of students who get a new grade before each round")
    parser.add_argument("--round-timeout", type=float, default=600.0)
    parser.add_argument("--profile", type=Path, default=None,
                        help="write cProfile stats of each worker process to this directory")
    parser.add_argument("--out", type=Path, default=None, help="write the report as JSON")
    args = parser.parse_args(argv)
    if not 1 <= args.students <= 20000:
        parser.error("--students must be between 1 and 20000")
    if any(not 1 <= w <= 16 for w in args.workers):
        parser.error("--workers must each be between 1 and 16")
    return args


class Worker:
    """``celery -A benchmarks.celery_probe worker --concurrency N`` as a subprocess."""

    def __init__(self, env: dict[str, str], concurrency: int, log: Path) -> None:
        self.log = log
        self._out = log.open("w")
        self.process = subprocess.Popen(  # noqa: S603 - our interpreter, our arguments
            [sys.executable, "-m", "celery", "-A", "benchmarks.celery_probe", "worker",
             "--loglevel", "INFO", "--concurrency", str(concurrency), "--pool", "prefork",
             "--without-gossip", "--without-mingle", "--without-heartbeat",
             "-n", f"bench-{concurrency}-{uuid.uuid4().hex[:8]}@%h"],
            cwd=ROOT, env=env, stdout=self._out, stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if " ready." in self.log.read_text():
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"the worker exited:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.2)
        raise RuntimeError(f"the worker was not ready in {timeout:.0f} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # warm shutdown
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        self._out.close()


def worker_env(database_url: str, broker: str, queue: str, probe_key: str,
               profile: Path | None) -> dict[str, str]:
    env = {**os.environ, "DATABASE_URL": database_url, "CELERY_BROKER_URL": broker,
           "CELERY_QUEUE": queue, "SECRET_KEY": SECRET, "CANVAS_ALLOW_PRIVATE_HOSTS": "1",
           "BENCH_PROBE_KEY": probe_key, "NO_PROXY": "127.0.0.1,localhost"}
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
                 "all_proxy", "CELERY_RESULT_BACKEND", "BENCH_PROFILE_DIR"):
        env.pop(name, None)
    if profile is not None:
        env["BENCH_PROFILE_DIR"] = str(profile)
    return env


def wait_for_runs(run_ids: list[int], worker: Worker, timeout: float) -> None:
    from app.extensions import db
    from app.models import SyncRun

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.expire_all()
        active = db.session.query(SyncRun.id).filter(
            SyncRun.id.in_(run_ids), SyncRun.status.in_(("queued", "running"))).count()
        db.session.commit()
        if active == 0:
            return
        if worker.process.poll() is not None:
            raise RuntimeError(f"the worker exited:\n{worker.log.read_text()[-3000:]}")
        time.sleep(0.5)
    raise RuntimeError(f"runs still active after {timeout:.0f} s (--round-timeout)")


def postgres_backend_cpu() -> dict[int, float]:
    """CPU seconds so far of each Postgres backend connected to the benchmark's database."""
    from sqlalchemy import text

    from app.extensions import db

    pids = db.session.execute(text(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()")).scalars().all()
    db.session.commit()
    return {pid: tree_cpu_seconds(pid) for pid in pids}


def analyze() -> None:
    """Planner statistics after the bulk load, as autovacuum would gather them in production.

    Without them (a server with ``autovacuum = off``, like the development one) Postgres plans
    the per-user reads as sequential scans of the whole ``assignment`` table, and the cost of
    every sync grows with the number of students.
    """
    from sqlalchemy import text

    from app.extensions import db

    db.session.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))


def database_bytes() -> int:
    """The benchmark database's size on disk (tables, indexes, TOAST)."""
    from sqlalchemy import text

    from app.extensions import db

    size = db.session.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
    db.session.commit()
    return int(size)


def change_grades(students: list[Any], share: float, rng: random.Random) -> int:
    """A teacher grades one assignment for ``share`` of the students (new data to sync)."""
    changed = 0
    for student in rng.sample(students, round(len(students) * share)):
        course_id, assignment_id = student.any_assignment()
        student.grade(course_id, assignment_id, float(rng.randint(0, 10)))
        changed += 1
    return changed


def run_round(args: argparse.Namespace, env: dict[str, str], concurrency: int,
              simulator: Any, students: list[Any], tmp: Path) -> dict[str, Any]:
    from app.jobs.enqueue import enqueue_due
    from app.jobs.tasks import run_sync_task
    from app.models import utcnow
    from benchmarks.round_stats import probe_records, round_report

    worker = Worker(env, concurrency, tmp / f"worker-{concurrency}.log")
    try:
        worker.wait_ready()
        changed = change_grades(students, args.change_share, random.Random(concurrency))  # noqa: S311
        simulator.reset_stats()
        pg_before = postgres_backend_cpu()
        cpu_before = tree_cpu_seconds(worker.process.pid)
        own_before = time.process_time()
        started = time.monotonic()

        def submit(user_id: int, sync_run_id: int, incremental: bool) -> None:
            run_sync_task.apply_async(args=(user_id, sync_run_id, incremental))

        # One interval ahead: every account's slot has begun since its last run.
        runs = enqueue_due(submit, now=utcnow() + timedelta(minutes=61))
        run_ids = [run.id for run in runs]
        wait_for_runs(run_ids, worker, args.round_timeout)
        elapsed = time.monotonic() - started
        worker_cpu = tree_cpu_seconds(worker.process.pid) - cpu_before
        simulator_cpu = time.process_time() - own_before
        pg_after = postgres_backend_cpu()
        pg_cpu = sum(cpu - pg_before.get(pid, 0.0) for pid, cpu in pg_after.items())
    finally:
        worker.stop()
    return round_report(
        run_ids, concurrency=concurrency, elapsed=elapsed, changed=changed,
        stats=simulator.stats.snapshot(), probes=probe_records(args.redis, env),
        cpu={"workers": worker_cpu, "simulator": simulator_cpu, "postgres": pg_cpu},
        load=machine_state())


def setup_users(simulator: Any, count: int) -> list[Any]:
    """N connected users, one per simulated student (one password hash, shared: hashing
    thousands of passwords would take longer than the benchmark)."""
    from app.accounts import create_user
    from app.connections import set_canvas_credentials
    from app.extensions import db
    from app.models import User

    students, password_hash = [], None
    for i in range(count):
        student = simulator.add_student(f"tok-bench-{i}", preset="student", seed=1000 + i)
        if password_hash is None:
            user = create_user(f"bench{i}@example.edu", PASSWORD)
            password_hash = user.password_hash
        else:
            user = User(email=f"bench{i}@example.edu", password_hash=password_hash)
            db.session.add(user)
        set_canvas_credentials(user, simulator.base_url, f"tok-bench-{i}")
        students.append(student)
    return students


def baseline(app: Any, env: dict[str, str], concurrency: int, timeout: float,
             tmp: Path) -> float:
    """Everyone's first (full) sync, so the measured rounds are incremental; not timed."""
    from app import jobs

    worker = Worker(env, concurrency, tmp / "worker-baseline.log")
    started = time.monotonic()
    try:
        worker.wait_ready()
        runs = jobs.enqueue_all(incremental=False)
        wait_for_runs([run.id for run in runs], worker, timeout)
    finally:
        worker.stop()
    return time.monotonic() - started


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    tmp = use_temp_instance_dir()
    from benchmarks.round_stats import check_failures, fresh_database, print_report
    from simulator import CanvasSimulator, SimulatorConfig

    tag = uuid.uuid4().hex[:10]
    queue, probe_key = f"gradesync-bench-{tag}", f"gradesync-bench-probe-{tag}"
    with fresh_database(args.database_server) as database_url, \
            CanvasSimulator(SimulatorConfig(latency=args.latency)) as simulator:
        from app import create_app
        from app.extensions import db

        app = create_app({
            "SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": SECRET,
            "CANVAS_ALLOW_PRIVATE_HOSTS": True, "CELERY_BROKER_URL": args.redis,
            "CELERY_RESULT_BACKEND": None, "CELERY_QUEUE": queue,
        })
        env = worker_env(database_url, args.redis, queue, probe_key, args.profile)
        report: dict[str, Any] = {"students": args.students, "preset": "student",
                                  "latency_s": args.latency, "change_share": args.change_share,
                                  "machine_at_start": machine_state(), "rounds": []}
        with app.app_context():
            try:
                db.create_all()
                students = setup_users(simulator, args.students)
                report["baseline_s"] = round(baseline(
                    app, env, max(args.workers), args.round_timeout, tmp), 1)
                analyze()
                report["database_mb_after_baseline"] = round(database_bytes() / 2**20, 1)
                for concurrency in args.workers:
                    row = run_round(args, env, concurrency, simulator, students, tmp)
                    report["rounds"].append(row)
                    print_report(row)
                report["database_mb_at_end"] = round(database_bytes() / 2**20, 1)
            finally:
                celery = app.extensions.get("celery")
                if celery is not None:
                    celery.close()
                db.session.remove()
                db.engine.dispose()
                from benchmarks.round_stats import forget_keys

                forget_keys(args.redis, queue, probe_key)
    if args.out is not None:
        args.out.write_text(json.dumps(report, indent=2))
    check_failures(report)
    return report


if __name__ == "__main__":
    main()
