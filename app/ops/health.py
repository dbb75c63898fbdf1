"""Liveness and readiness: what ``/healthz``, ``/readyz`` and ``flask worker-check`` report.

Readiness names each part (``database``, ``migrations``, ``broker``, ``scheduler``) with
``ok``, ``failing`` or ``not configured``; nothing else (no exception text, no address) is
reported, so the endpoint may be public.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from pathlib import Path

from flask import Flask
from sqlalchemy import text

from app.extensions import db
from app.jobs.heartbeat import SCHEDULER, last_beat
from app.models import utcnow

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent.parent / "migrations"
STALE_TICKS = 3  # the scheduler is stalled after this many ticks without a beat
BROKER_TIMEOUT_S = 3.0
WORKER_PING_TIMEOUT_S = 5.0
OK, FAILING, NOT_CONFIGURED = "ok", "failing", "not configured"


@dataclass(frozen=True)
class Readiness:
    checks: dict[str, str]

    @property
    def ready(self) -> bool:
        return all(state != FAILING for state in self.checks.values())

    @property
    def failing(self) -> list[str]:
        return [name for name, state in self.checks.items() if state == FAILING]

    def as_dict(self) -> dict[str, object]:
        return {"status": "ok" if self.ready else "failing", "checks": self.checks,
                "failing": self.failing}


@lru_cache(maxsize=1)
def migration_heads() -> frozenset[str]:
    """The newest revision(s) in ``migrations/versions`` (read once per process)."""
    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return frozenset(ScriptDirectory.from_config(config).get_heads())


def _database() -> str:
    try:
        db.session.execute(text("SELECT 1"))
        return OK
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        logger.warning("readiness: database unreachable (%s)", type(exc).__name__)
        db.session.rollback()
        return FAILING


def _migrations() -> str:
    try:
        rows = db.session.execute(text("SELECT version_num FROM alembic_version")).scalars()
        current = frozenset(rows)
    except Exception as exc:  # noqa: BLE001 - no table: never migrated
        logger.warning("readiness: migrations unreadable (%s)", type(exc).__name__)
        db.session.rollback()
        return FAILING
    return OK if current == migration_heads() else FAILING


def broker_reachable(url: str, timeout: float = BROKER_TIMEOUT_S) -> bool:
    """Whether the Celery broker at ``url`` accepts a connection within ``timeout``."""
    try:
        if url.startswith(("redis://", "rediss://")):
            import redis

            client = redis.Redis.from_url(url, socket_timeout=timeout,
                                          socket_connect_timeout=timeout)
            try:
                return bool(client.ping())
            finally:
                client.close()
        from kombu import Connection

        with Connection(url, connect_timeout=timeout) as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)
        return True
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        logger.warning("readiness: broker unreachable (%s)", type(exc).__name__)
        return False


def _scheduler(app: Flask) -> str:
    if not app.config["SCHEDULER_ENABLED"]:
        return NOT_CONFIGURED
    tick = timedelta(seconds=float(app.config["SCHEDULER_TICK_S"]))
    try:
        beat = last_beat(SCHEDULER)
    except Exception as exc:  # noqa: BLE001
        logger.warning("readiness: scheduler heartbeat unreadable (%s)", type(exc).__name__)
        db.session.rollback()
        return FAILING
    if beat is None or utcnow() - beat > STALE_TICKS * tick:
        return FAILING
    return OK


def readiness(app: Flask) -> Readiness:
    """Every part's state; a part after a failed database is reported failing too."""
    checks: dict[str, str] = {"database": _database()}
    if checks["database"] == OK:
        checks["migrations"] = _migrations()
    else:
        checks["migrations"] = FAILING
    broker = app.config.get("CELERY_BROKER_URL")
    checks["broker"] = (OK if broker_reachable(broker) else FAILING) if broker else NOT_CONFIGURED
    checks["scheduler"] = _scheduler(app) if checks["database"] == OK else FAILING
    db.session.rollback()  # end the read transaction
    return Readiness(checks)


def ping_workers(app: Flask, timeout: float = WORKER_PING_TIMEOUT_S) -> list[str]:
    """The names of the Celery workers that answered a ping within ``timeout`` seconds."""
    from app.jobs.tasks import celery_init_app

    celery = app.extensions.get("celery") or celery_init_app(app)
    replies = celery.control.ping(timeout=timeout) or []
    return sorted(name for reply in replies for name in reply)
