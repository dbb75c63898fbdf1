"""gunicorn's settings for GradeSync's web process: ``gunicorn -c gunicorn.conf.py``.

Every value can be changed through the environment (README, "Operating GradeSync"):
``GRADESYNC_BIND`` (default ``0.0.0.0:8000``), ``WEB_CONCURRENCY`` (worker processes, 2),
``GUNICORN_THREADS`` (threads per worker, 8). No ``preload_app``: each worker runs the start-up
step itself (recovery, and the in-process scheduler when there is no broker).

With ``METRICS_ENABLED``, prometheus-client's multiprocess mode is switched on here, before any
worker starts: ``PROMETHEUS_MULTIPROC_DIR`` (default ``instance/prometheus``) holds each
process's numbers; give the Celery worker the same directory to merge its numbers in. With
``METRICS_PORT`` the master serves ``/metrics`` on that port; without it, ``/metrics`` on the
web port answers with ``Authorization: Bearer $METRICS_TOKEN``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from config import INSTANCE_DIR, value

# Declared (with their defaults and parsers) in app/settings.py, like every setting.
bind = value("GRADESYNC_BIND")
workers = value("WEB_CONCURRENCY")
worker_class = "gthread"
threads = value("GUNICORN_THREADS")
timeout = 120  # a request (never a sync: those run in the background) that takes longer is cut
graceful_timeout = 30
wsgi_app = "app.wsgi:application"
preload_app = False
accesslog = None  # the app logs one line per request, with its request id (app.logs)

METRICS = value("METRICS_ENABLED")
if METRICS:
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(INSTANCE_DIR / "prometheus"))
    Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)


def when_ready(server: Any) -> None:
    """With ``METRICS_PORT``: serve every process's metrics from the master on that port."""
    port = value("METRICS_PORT")
    if not (METRICS and port):
        return
    from prometheus_client import CollectorRegistry, multiprocess, start_http_server

    from app import create_app
    from app.ops.overview import DatabaseCollector

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    registry.register(DatabaseCollector(create_app()))
    address = value("METRICS_ADDR")  # 0.0.0.0 by default: scraped from outside
    start_http_server(port, addr=address, registry=registry)
    server.log.info("metrics served on port %s", port)


def child_exit(server: Any, worker: Any) -> None:
    """A worker that ended: its live gauges stop counting (its counters stay)."""
    if METRICS:
        from app.metrics import process_exited

        process_exited(worker.pid)
