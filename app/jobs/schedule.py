"""Who is due for a scheduled sync: a pure decision over users and their last runs.

Each account gets a stable offset inside its interval (from a hash of its id), so its slots
are ``offset, offset + interval, offset + 2 * interval, ...`` on the clock. An account is due
once per slot: when no run of it (scheduled or clicked) started since the latest slot began.
A thousand hourly accounts therefore start spread over the hour, not all at the top of it,
and a restart of the scheduler does not bunch them up again; after an outage, when every
account is overdue at once, a tick starts only a few times the steady rate (stalest first).

The sync state is each connection's own (``canvas_connection``): an account is due when at
least one of its usable connections is *not* held back, and its scheduled run syncs those
(:func:`app.connections.sync_connections` with ``skip_rejected``). A connection is held back
when Canvas refused its token and no token was saved for it since
(``CanvasConnection.rejected``): retrying it would fail the same way every hour. Saving a new
token in Settings (or ``canvas connect``) makes it due again. One revoked connection never
holds back the account's other ones.

The slot check reads when the account's newest run started (whatever its outcome: a run that
failed for a passing reason waits for the next slot). An account that never ran is due at its
first slot after a token was saved (or at once, for a connection saved before the scheduler
existed).

Not due: interval 0 (off), a run still queued or running, every connection held back.

Nothing here reads the clock or the database; :mod:`app.jobs.enqueue` supplies both.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.models.connection import token_rejected
from app.models.sync_run import ACTIVE_STATUSES

# A tick may start this many times the steady rate of syncs, and at least MIN_BUDGET.
BURST = 3.0
MIN_BUDGET = 20
MIN_INTERVAL_MINUTES = 15
MAX_INTERVAL_MINUTES = 1440

_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class LastRun:
    """The newest ``sync_run`` of an account, as far as scheduling cares."""

    status: str
    created_at: datetime
    finished_at: datetime | None = None


@dataclass(frozen=True)
class ConnectionState:
    """A usable connection of an account, as far as scheduling cares: its own fields."""

    token_changed_at: datetime | None = None
    rejected_at: datetime | None = None

    @property
    def rejected(self) -> bool:
        """Canvas refused its token and none was saved since (``CanvasConnection.rejected``)."""
        return token_rejected(self.rejected_at, self.token_changed_at)


@dataclass(frozen=True)
class Account:
    """A connected account: its id, its interval, its newest run and its usable connections."""

    user_id: int
    interval_minutes: int
    last_run: LastRun | None = None
    connections: tuple[ConnectionState, ...] = (ConnectionState(),)


def slot_offset(user_id: int, interval: timedelta) -> timedelta:
    """The account's stable place inside its interval (uniform over the accounts)."""
    digest = hashlib.sha256(f"gradesync-schedule:{user_id}".encode()).digest()
    seconds = int(interval.total_seconds())
    return timedelta(seconds=int.from_bytes(digest[:8], "big") % max(1, seconds))


def current_slot_start(user_id: int, interval_minutes: int, now: datetime) -> datetime:
    """When the account's latest slot began (at or before ``now``)."""
    interval = timedelta(minutes=interval_minutes)
    anchor = _EPOCH + slot_offset(user_id, interval)
    slots = (now - anchor) // interval
    return anchor + slots * interval


def held_back(account: Account) -> bool:
    """Every usable connection's token was refused and none was replaced since."""
    return all(connection.rejected for connection in account.connections)


def _interval_minutes(account: Account) -> int:
    return min(max(account.interval_minutes, MIN_INTERVAL_MINUTES), MAX_INTERVAL_MINUTES)


def _last_sync(account: Account) -> datetime | None:
    # An account that never ran counts from when a token was last saved: it waits for its
    # own slot like every other account instead of all new accounts starting at once.
    run = account.last_run
    if run is not None:
        return run.created_at
    saved = [c.token_changed_at for c in account.connections if c.token_changed_at is not None]
    return max(saved, default=None)


def is_due(account: Account, now: datetime) -> bool:
    """Whether a scheduled sync of ``account`` should start at ``now``."""
    if account.interval_minutes <= 0:
        return False
    run = account.last_run
    if run is not None and run.status in ACTIVE_STATUSES:
        return False
    if held_back(account):
        return False
    since = _last_sync(account)
    if since is None:
        return True
    return since < current_slot_start(account.user_id, _interval_minutes(account), now)


def tick_budget(accounts: Iterable[Account], tick: timedelta) -> int:
    """How many syncs one tick may start: a few times the steady rate, at least ``MIN_BUDGET``.

    In steady state each account comes due once per interval, about ``tick / interval`` of it
    per tick. After the scheduler was down, every overdue account is due at the same tick; the
    budget turns that stampede into a backlog drained over the next minutes, stalest first.
    """
    rate = sum(tick / timedelta(minutes=_interval_minutes(a))
               for a in accounts if a.interval_minutes > 0)
    return max(MIN_BUDGET, math.ceil(round(BURST * rate, 6)))  # 25.0000001 is 25


def due_accounts(
    accounts: Iterable[Account], now: datetime, tick: timedelta | None = None
) -> list[int]:
    """The ids of the accounts to sync at ``now``, stalest first.

    With ``tick`` (the time between ticks), at most :func:`tick_budget` of them.
    """
    accounts = list(accounts)
    due = [account for account in accounts if is_due(account, now)]
    oldest = datetime.min.replace(tzinfo=UTC)
    due.sort(key=lambda account: (_last_sync(account) or oldest, account.user_id))
    if tick is not None:
        due = due[: tick_budget(accounts, tick)]
    return [account.user_id for account in due]
