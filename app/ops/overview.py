"""The operator's numbers: connections by status, expiring tokens, scheduler lag, the last
day's failures, the stalest accounts; and the same facts for Prometheus.

Only operational facts: an account is named by its email and its sync times, never a course,
an assignment or a grade.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from app.connections.records import WARN_DAYS
from app.extensions import db
from app.jobs.heartbeat import SCHEDULER, last_beat
from app.models import CanvasConnection, SyncRun, User, utcnow

STALEST_SHOWN = 20
# Staleness of accounts (seconds): 15 min, 1 h, 3 h, 6 h, 12 h, 1 d, 3 d, 7 d.
STALENESS_BUCKETS = (900.0, 3600.0, 10800.0, 21600.0, 43200.0, 86400.0, 259200.0, 604800.0)


@dataclass(frozen=True)
class StaleAccount:
    email: str
    last_synced_at: datetime | None
    interval_minutes: int
    hosts: str


@dataclass(frozen=True)
class Overview:
    connections_by_status: dict[str, int]
    expiring: list[tuple[str, str, datetime | None]]  # (email, host, expires_at)
    scheduler_last_tick: datetime | None
    scheduler_lag_s: float | None
    queue_depth: int
    failures: list[tuple[str, str, int]]  # (error kind, host, count), most first
    stalest: list[StaleAccount]


def _host(url: str | None) -> str:
    return (url or "unknown").split("://", 1)[-1]


def _hosts_by_user() -> dict[int, str]:
    hosts: dict[int, list[str]] = {}
    for user_id, url in db.session.execute(
            select(CanvasConnection.user_id, CanvasConnection.base_url)):
        hosts.setdefault(user_id, []).append(_host(url))
    return {user_id: ", ".join(sorted(set(names))) for user_id, names in hosts.items()}


def account_last_syncs() -> list[tuple[int, str, int, datetime | None]]:
    """(user id, email, interval, newest sync of any connection) of every connected account."""
    newest = func.max(CanvasConnection.last_synced_at)
    rows = db.session.execute(
        select(User.id, User.email, User.sync_interval_minutes, newest)
        .join(CanvasConnection, CanvasConnection.user_id == User.id)
        .where(CanvasConnection.usable)
        .group_by(User.id, User.email, User.sync_interval_minutes)
    ).all()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def overview(app: Flask, now: datetime | None = None) -> Overview:
    now = now or utcnow()
    by_status = {status: count for status, count in db.session.execute(
        select(CanvasConnection.status, func.count()).group_by(CanvasConnection.status))}
    expiring = [
        (email, _host(url), expires_at) for email, url, expires_at in db.session.execute(
            select(User.email, CanvasConnection.base_url, CanvasConnection.expires_at)
            .join(User, User.id == CanvasConnection.user_id)
            .where(CanvasConnection.auth_kind == "token",
                   CanvasConnection.usable,
                   CanvasConnection.expires_at.is_not(None),
                   CanvasConnection.expires_at < now + timedelta(days=WARN_DAYS))
            .order_by(CanvasConnection.expires_at).limit(100))
    ]
    beat = last_beat(SCHEDULER)
    queued = db.session.scalar(
        select(func.count()).select_from(SyncRun).where(SyncRun.status == "queued")) or 0
    hosts = _hosts_by_user()
    failures: Counter[tuple[str, str]] = Counter()
    for user_id, summary in db.session.execute(
            select(SyncRun.user_id, SyncRun.summary)
            .where(SyncRun.status == "failed", SyncRun.created_at >= now - timedelta(hours=24))):
        kind = (summary or {}).get("error_kind") if isinstance(summary, dict) else None
        failures[(kind or "unknown", hosts.get(user_id, "unknown"))] += 1
    accounts = sorted(account_last_syncs(),
                      key=lambda a: (a[3] is not None, a[3] or now))[:STALEST_SHOWN]
    db.session.rollback()  # end the read transaction
    return Overview(
        connections_by_status=by_status,
        expiring=expiring,
        scheduler_last_tick=beat,
        scheduler_lag_s=(now - beat).total_seconds() if beat else None,
        queue_depth=queued,
        failures=[(kind, host, n) for (kind, host), n in failures.most_common()],
        stalest=[StaleAccount(email, last, interval, hosts.get(uid, ""))
                 for uid, email, interval, last in accounts],
    )


class DatabaseCollector:
    """Prometheus collector of what the database knows, read at each scrape."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def describe(self) -> list[Any]:
        return []  # collected at scrape time only

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily

        with self.app.app_context():
            now = utcnow()
            queued = db.session.scalar(select(func.count()).select_from(SyncRun)
                                       .where(SyncRun.status == "queued")) or 0
            beat = last_beat(SCHEDULER)
            ages = [(now - last).total_seconds() if last else None
                    for _uid, _email, interval, last in account_last_syncs() if interval > 0]
            by_status = db.session.execute(select(CanvasConnection.status, func.count())
                                           .group_by(CanvasConnection.status)).all()
            db.session.rollback()
        yield GaugeMetricFamily("gradesync_queue_depth", "Sync runs queued, not started yet.",
                                value=queued)
        if beat is not None:
            yield GaugeMetricFamily("gradesync_scheduler_last_tick_age_seconds",
                                    "Seconds since the scheduler last ticked.",
                                    value=(now - beat).total_seconds())
        known = [age for age in ages if age is not None]
        stalest = float("inf") if None in ages else max(known, default=0.0)
        yield GaugeMetricFamily(
            "gradesync_stalest_account_seconds",
            "Seconds since the least recently synced scheduled account last synced "
            "(+Inf: one never synced).", value=stalest)
        buckets, total = [], 0
        for bound in STALENESS_BUCKETS:
            total = sum(1 for age in known if age <= bound)
            buckets.append((repr(bound), total))
        buckets.append(("+Inf", len(ages)))
        yield HistogramMetricFamily(
            "gradesync_account_staleness_seconds",
            "Accounts with scheduled syncs, by seconds since their last sync.",
            buckets=buckets, sum_value=sum(known))
        connections = GaugeMetricFamily("gradesync_connections", "Canvas connections by status.",
                                        labels=["status"])
        for status, count in by_status:
            connections.add_metric([status], count)
        yield connections
