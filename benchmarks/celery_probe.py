"""The Celery worker of :mod:`benchmarks.scheduled_load`, with per-sync meters.

``celery -A benchmarks.celery_probe worker`` is ``celery -A app.celery_app worker`` plus
signal handlers that measure each ``gradesync.run_sync`` task in the process that runs it:
SQL statements sent (a SQLAlchemy cursor event), process CPU seconds (``getrusage``) and wall
seconds. Each task's numbers go to the Redis list ``BENCH_PROBE_KEY`` as one JSON object, so
the driver reads them without touching the app. With ``BENCH_PROFILE_DIR`` set, each worker
process also runs cProfile around its tasks and writes ``<dir>/worker-<pid>.prof``.

Nothing here changes what a sync does; it only watches.
"""

from __future__ import annotations

import cProfile
import json
import os
import resource
import time
from typing import Any

from celery.signals import task_postrun, task_prerun, worker_process_shutdown
from sqlalchemy import event
from sqlalchemy.engine import Engine

from app.celery_app import celery_app, flask_app

__all__ = ["celery", "celery_app", "flask_app"]

celery = celery_app  # the name ``celery -A`` looks for first

SYNC_TASK = "gradesync.run_sync"
_state: dict[str, Any] = {"sql": 0, "start": None, "redis": None, "profile": None, "done": 0}


@event.listens_for(Engine, "before_cursor_execute")
def _count_statement(*_args: Any) -> None:
    _state["sql"] += 1


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _redis() -> Any:
    # One client per (forked) worker process, made on first use.
    if _state["redis"] is None or _state.get("pid") != os.getpid():
        import redis

        _state["redis"] = redis.Redis.from_url(os.environ["CELERY_BROKER_URL"])
        _state["pid"] = os.getpid()
    return _state["redis"]


def _profiler() -> cProfile.Profile | None:
    if not os.environ.get("BENCH_PROFILE_DIR"):
        return None
    if _state["profile"] is None:
        _state["profile"] = cProfile.Profile()
    profile: cProfile.Profile = _state["profile"]
    return profile


def _dump_profile() -> None:
    profile = _state["profile"]
    if profile is not None:
        profile.dump_stats(os.path.join(os.environ["BENCH_PROFILE_DIR"],
                                        f"worker-{os.getpid()}.prof"))


@task_prerun.connect
def _before(task: Any = None, **_kwargs: Any) -> None:
    if task is None or task.name != SYNC_TASK:
        return
    _state["start"] = (_state["sql"], _cpu_seconds(), time.perf_counter())
    profile = _profiler()
    if profile is not None:
        profile.enable()


@task_postrun.connect
def _after(task: Any = None, args: Any = None, **_kwargs: Any) -> None:
    if task is None or task.name != SYNC_TASK or _state["start"] is None:
        return
    profile = _profiler()
    if profile is not None:
        profile.disable()
    sql, cpu, wall = _state["start"]
    _state["start"] = None
    record = {
        "run_id": int(args[1]) if args else None,
        "sql": _state["sql"] - sql,
        "cpu_s": round(_cpu_seconds() - cpu, 4),
        "wall_s": round(time.perf_counter() - wall, 4),
    }
    _redis().rpush(os.environ["BENCH_PROBE_KEY"], json.dumps(record))
    _state["done"] += 1
    if profile is not None and _state["done"] % 20 == 0:
        _dump_profile()


@worker_process_shutdown.connect
def _shutdown(**_kwargs: Any) -> None:
    _dump_profile()
