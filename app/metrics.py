"""Prometheus metrics (issue 23): off unless ``METRICS_ENABLED``; every recorder is a no-op then.

Counters and histograms live in the process that records them. Under gunicorn and Celery,
``PROMETHEUS_MULTIPROC_DIR`` (set by ``gunicorn.conf.py``, and for the worker by the operator)
makes prometheus-client write them to files in that directory, and :func:`exposition` merges
every process's files; it must be set before this module creates its metrics (at start-up).

What the database knows (queue depth, how stale accounts are) is read at scrape time by
``app.ops.overview`` and added to the exposition, so it is right whichever process answers.
"""

from __future__ import annotations

import threading
from typing import Any

from app.settings import value

# Sync durations run from seconds to many minutes; staleness from minutes to days.
SYNC_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_lock = threading.Lock()
_metrics: dict[str, Any] = {}


def enable() -> None:
    """Create the metrics (once per process). Call it at start-up, after the environment
    (``PROMETHEUS_MULTIPROC_DIR``) is set."""
    with _lock:
        if _metrics:
            return
        from prometheus_client import Counter, Histogram

        _metrics.update(
            sync_duration=Histogram(
                "gradesync_sync_duration_seconds", "How long a sync run took, by kind.",
                ["kind", "status"], buckets=SYNC_BUCKETS),
            canvas_requests=Counter(
                "gradesync_canvas_requests_total", "Requests sent to Canvas, by host.", ["host"]),
            canvas_throttled=Counter(
                "gradesync_canvas_throttled_total",
                "Canvas answers that were rate-limit refusals (403/429), by host.", ["host"]),
            canvas_retries=Counter(
                "gradesync_canvas_retries_total", "Requests to Canvas retried, by host.",
                ["host"]),
            alert_deliveries=Counter(
                "gradesync_alert_deliveries_total", "Alert messages sent, by channel.",
                ["channel"]),
            alert_failures=Counter(
                "gradesync_alert_failures_total", "Alert messages that failed, by channel.",
                ["channel"]),
            login_failures=Counter(
                "gradesync_login_failures_total", "Sign-ins refused (wrong password, locked)."),
            runs_interrupted=Counter(
                "gradesync_runs_interrupted_total",
                "Sync runs that start-up recovery marked interrupted (their process died)."),
        )


def enabled() -> bool:
    return bool(_metrics)


def _inc(name: str, amount: float = 1.0, **labels: str) -> None:
    metric = _metrics.get(name)
    if metric is not None and amount:
        (metric.labels(**labels) if labels else metric).inc(amount)


def sync_finished(kind: str, status: str, seconds: float) -> None:
    metric = _metrics.get("sync_duration")
    if metric is not None:
        metric.labels(kind=kind, status=status).observe(seconds)


def canvas_request(host: str) -> None:
    _inc("canvas_requests", host=host)


def canvas_throttled(host: str) -> None:
    _inc("canvas_throttled", host=host)


def canvas_retry(host: str) -> None:
    _inc("canvas_retries", host=host)


def alert_sent(channel: str, ok: bool) -> None:
    _inc("alert_deliveries" if ok else "alert_failures", channel=channel)


def login_failed() -> None:
    _inc("login_failures")


def runs_interrupted(count: int) -> None:
    _inc("runs_interrupted", float(count))


def exposition(extra: Any = None) -> bytes:
    """The text exposition of every process's metrics (merged in multiprocess mode), plus the
    ``extra`` collector's (the database's numbers)."""
    from prometheus_client import REGISTRY, CollectorRegistry, generate_latest

    if value("PROMETHEUS_MULTIPROC_DIR"):  # prometheus-client reads it itself
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    body = generate_latest(registry)
    if extra is not None:
        own = CollectorRegistry()
        own.register(extra)
        body += generate_latest(own)
    return body


def process_exited(pid: int) -> None:
    """gunicorn's ``child_exit``: a dead worker's live gauges stop counting."""
    if value("PROMETHEUS_MULTIPROC_DIR"):  # prometheus-client reads it itself
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)
