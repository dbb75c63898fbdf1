"""The numbers of one round of :mod:`benchmarks.scheduled_load`, and its throw-away resources."""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from benchmarks.load_meters import percentile


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A new, empty Postgres database on ``server_url`` (plain URL), dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from config import normalize_database_url

    url = make_url(normalize_database_url(server_url))
    name = f"gradesync_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def forget_keys(broker: str, *keys: str) -> None:
    """Remove the benchmark's queue and probe keys from Redis."""
    import redis

    client = redis.Redis.from_url(broker, socket_connect_timeout=2)
    try:
        for key in keys:
            client.delete(key, f"_kombu.binding.{key}", f"_kombu.binding_permanent.{key}")
    finally:
        client.close()


def probe_records(broker: str, env: dict[str, str]) -> list[dict[str, Any]]:
    """The per-task meters the workers pushed this round (and empty the list)."""
    import redis

    client = redis.Redis.from_url(broker, socket_connect_timeout=2)
    try:
        key = env["BENCH_PROBE_KEY"]
        raw = client.lrange(key, 0, -1)
        client.delete(key)
    finally:
        client.close()
    return [json.loads(item) for item in raw]


def _previous_success(runs: list[Any], run: Any) -> datetime | None:
    earlier = [r.finished_at for r in runs
               if r.user_id == run.user_id and r.id < run.id and r.status == "succeeded"
               and r.finished_at is not None]
    return max(earlier) if earlier else None


def round_report(run_ids: list[int], *, concurrency: int, elapsed: float, changed: int,
                 stats: dict[str, int], probes: list[dict[str, Any]], cpu: dict[str, float],
                 load: str) -> dict[str, Any]:
    """Throughput, staleness, failures and per-sync costs of one round's runs."""
    from app.extensions import db
    from app.models import SyncRun

    ours = db.session.query(SyncRun).filter(SyncRun.id.in_(run_ids)).all()
    users = {r.user_id for r in ours}
    history = db.session.query(SyncRun).filter(SyncRun.user_id.in_(users)).all()
    db.session.commit()
    staleness, waits = [], []
    for run in ours:
        previous = _previous_success(history, run)
        if run.finished_at is not None and previous is not None:
            staleness.append((run.finished_at - previous).total_seconds())
        if run.finished_at is not None:
            waits.append((run.finished_at - run.created_at).total_seconds())
    n = max(1, len(ours))
    measured = [p for p in probes if p.get("run_id") in set(run_ids)]
    total_cpu = sum(cpu.values())
    return {
        "workers": concurrency,
        "syncs": len(ours),
        "changed_students": changed,
        "seconds": round(elapsed, 1),
        "syncs_per_minute": round(len(ours) / elapsed * 60, 1),
        "staleness_p95_s": round(percentile(staleness, 0.95), 1),
        "finish_after_enqueue_p95_s": round(percentile(waits, 0.95), 1),
        "throttled": stats["throttled"],
        "failures": sum(r.status != "succeeded" for r in ours),
        "errors": sorted({r.error for r in ours if r.error})[:3],
        "requests_per_sync": round(stats["requests"] / n, 1),
        "cpu_s_per_sync": round(total_cpu / n, 3),
        "cpu_s_per_sync_by_part": {k: round(v / n, 3) for k, v in cpu.items()},
        "task_cpu_s_per_sync": round(sum(p["cpu_s"] for p in measured) / max(1, len(measured)),
                                     3),
        "task_wall_s_p50": round(percentile([p["wall_s"] for p in measured], 0.5), 3),
        "sql_per_sync": round(sum(p["sql"] for p in measured) / max(1, len(measured)), 1),
        "machine_at_end": load,
    }


def print_report(row: dict[str, Any]) -> None:
    out = sys.stdout
    out.write(
        f"{row['workers']} worker(s): {row['syncs']} syncs in {row['seconds']} s = "
        f"{row['syncs_per_minute']}/min; staleness p95 {row['staleness_p95_s']} s; "
        f"throttled {row['throttled']}; failures {row['failures']}; "
        f"CPU/sync {row['cpu_s_per_sync']} s {row['cpu_s_per_sync_by_part']}; "
        f"SQL/sync {row['sql_per_sync']}; requests/sync {row['requests_per_sync']}; "
        f"({row['machine_at_end']})\n")
    out.flush()


def check_failures(report: dict[str, Any]) -> None:
    """Exit non-zero, saying what went wrong, when a round throttled or failed."""
    bad = [f"{r['workers']} worker(s): {r['failures']} failed, {r['throttled']} throttled "
           f"{r['errors']}" for r in report["rounds"] if r["failures"] or r["throttled"]]
    if bad:
        raise SystemExit("benchmark rounds went wrong: " + "; ".join(bad))
