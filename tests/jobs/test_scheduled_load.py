"""The many-students scheduled-sync benchmark (benchmarks/scheduled_load.py) and its meters.

The end-to-end run needs Postgres (``TEST_DATABASE_URL``) and Redis; it starts real Celery
workers, so it is marked ``celery`` and ``slow``. Nothing is asserted about speed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from benchmarks.load_meters import percentile, tree_cpu_seconds
from config import normalize_database_url
from tests.redis_helpers import require_redis

ROOT = Path(__file__).resolve().parents[2]
BROKER = os.environ.get("TEST_LOAD_BROKER_URL", "redis://127.0.0.1:6379/6")


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.95) == 95.0
    assert percentile([3.0, 1.0, 2.0], 0.95) == 3.0
    assert percentile([7.0], 0.5) == 7.0
    assert percentile([], 0.95) == 0.0


def test_tree_cpu_counts_a_busy_child() -> None:
    busy = "import time\nend = time.time() + 20\nwhile time.time() < end: pass"
    child = subprocess.Popen([sys.executable, "-c", busy])  # noqa: S603 - our interpreter
    try:
        deadline = time.monotonic() + 15
        while tree_cpu_seconds(child.pid) < 0.2 and time.monotonic() < deadline:
            time.sleep(0.1)
        alone = tree_cpu_seconds(child.pid)
        assert alone >= 0.2 and tree_cpu_seconds(os.getpid()) >= alone  # read after it
    finally:
        child.kill()
        child.wait(timeout=10)


def _benchmark_databases(server: str) -> set[str]:
    url = make_url(normalize_database_url(server)).set(database="postgres")
    engine = create_engine(url)
    with engine.connect() as conn:
        names = set(conn.execute(text(
            "SELECT datname FROM pg_database WHERE datname LIKE 'gradesync_bench_%'")).scalars())
    engine.dispose()
    return names


@pytest.mark.celery
@pytest.mark.slow
def test_scheduled_load_syncs_every_student_and_reports_costs(tmp_path: Path) -> None:
    server = os.environ.get("TEST_DATABASE_URL")
    if not server:
        pytest.skip("the scheduled-load benchmark runs on Postgres: set TEST_DATABASE_URL")
    require_redis(BROKER)
    before = _benchmark_databases(server)
    out = tmp_path / "report.json"
    done = subprocess.run(  # noqa: S603 - our interpreter and arguments
        [sys.executable, "-m", "benchmarks.scheduled_load", "--students", "3", "--workers", "1",
         "2", "--database-server", server, "--redis", BROKER, "--change-share", "0.34",
         "--round-timeout", "120", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=400, check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert [r["workers"] for r in report["rounds"]] == [1, 2]
    for row in report["rounds"]:
        assert row["syncs"] == 3 and row["failures"] == 0 and row["throttled"] == 0
        assert row["changed_students"] == 1
        assert row["syncs_per_minute"] > 0 and row["staleness_p95_s"] > 0
        assert row["sql_per_sync"] > 0 and row["cpu_s_per_sync"] > 0
        assert row["requests_per_sync"] >= 7  # the course list and 6 current gradebooks
    assert "2 worker(s): 3 syncs" in done.stdout
    assert _benchmark_databases(server) == before  # its database was dropped
