"""The Canvas client and the sync engine for a connection, and a sync of all of a user's.

The sync engine never reads credentials itself: :func:`build_client` builds its Canvas client
from the stored connection (each connection's base URL and token key its own rate limiter, so
two instances never share a bucket), and :func:`create_canvas_sync_service` hands that client
to the engine. :func:`sync_connections` syncs every connection of a user side by side, each in
its own thread with its own database session; one failing connection fails only its own part.
:func:`sync_course` syncs one course ("Sync this course") through its own connection.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from flask import current_app

from app.canvas.client import CanvasAPIService
from app.canvas.options import ClientOptions
from app.canvas.protocol import CanvasClient
from app.extensions import db
from app.logs import submit_in_context
from app.models import CanvasConnection, Course, User
from app.sync.engine import CanvasSyncService
from app.sync.result import (
    DEFAULT_WORKERS,
    ConnectionOutcome,
    ErrorKind,
    ProgressCallback,
    SyncOptions,
    SyncProgress,
    SyncResult,
    combine_results,
)

from .records import (
    SyncedState,
    default_connection,
    mark_rejected,
    mark_synced,
    usable_connections,
)
from .tokens import fresh_access_token, refresher_for
from .verify import NotConnected, check_canvas_url, outbound_policy, token_cipher

logger = logging.getLogger(__name__)

ALL_REJECTED = "Canvas refused the saved token: connect Canvas again in Settings."


def build_client(connection: CanvasConnection) -> CanvasAPIService:
    """A Canvas client for a stored connection; the URL is checked again here.

    Raises:
        NotConnected: nothing usable is stored (no URL or token, or a token this key cannot
            decrypt, or a stored URL the current settings refuse).
    """
    try:
        if not connection.base_url or not connection.access_token_encrypted:
            raise NotConnected(
                f"{connection.display_name} is disconnected: reconnect it in Settings."
            )
        url = check_canvas_url(connection.base_url)
        if connection.auth_kind != "oauth":
            token = token_cipher().decrypt(connection.access_token_encrypted)
            return CanvasAPIService(url, token, options=_options(), policy=outbound_policy())
        fresh = fresh_access_token(connection)  # refreshed first when it is about to expire
        if not fresh:
            raise NotConnected(
                f"Canvas refused to renew the sign-in for {connection.display_name}: "
                "connect it again in Settings."
            )
        return CanvasAPIService(
            url, fresh, options=_options(), policy=outbound_policy(),
            refresher=refresher_for(connection, fresh),
        )
    except ValueError as exc:  # a token the current key cannot decrypt, a refused URL
        raise NotConnected(
            " ".join(f"Canvas is not usable: {exc}. Reconnect in Settings.".split())
        ) from exc


def _options() -> ClientOptions:
    """A sync's client options: the defaults, each request within ``CANVAS_DEADLINE_S``."""
    return ClientOptions(deadline=float(current_app.config["CANVAS_DEADLINE_S"]))


def create_canvas_sync_service(
    user: User,
    *,
    connection: CanvasConnection | None = None,
    progress: ProgressCallback | None = None,
    client: CanvasClient | None = None,
    workers: int = DEFAULT_WORKERS,
    sync_run_id: int | None = None,
) -> CanvasSyncService:
    """The sync engine for one of ``user``'s connections (default: the first usable one),
    with a client built from it unless ``client`` is given; ``sync_run_id`` is stamped on the
    ledger's events.

    Raises:
        NotConnected: the user has no connection, or its credentials cannot be used.
    """
    connection = connection or default_connection(user)
    if connection is None:
        raise NotConnected()
    owns_client = client is None
    return CanvasSyncService(
        user.id,
        client if client is not None else build_client(connection),
        SyncOptions(workers=workers),
        connection_id=connection.id,
        sync_run_id=sync_run_id,
        progress=progress,
        owns_client=owns_client,
    )


class _SharedProgress:
    """Sums the progress of connections syncing side by side into one callback (one at a
    time: the callback writes the run's row on one database connection)."""

    def __init__(self, forward: ProgressCallback) -> None:
        self._forward = forward
        self._lock = threading.Lock()
        self._latest: dict[int, SyncProgress] = {}

    def for_connection(self, connection_id: int) -> ProgressCallback:
        return _ConnectionProgress(self, connection_id)

    def report(self, connection_id: int, progress: SyncProgress) -> None:
        with self._lock:
            self._latest[connection_id] = progress
            every = list(self._latest.values())
            self._forward(
                replace(  # the step (its connection's own index and total) passes as is
                    progress,
                    courses_done=sum(p.courses_done for p in every),
                    courses_total=sum(p.courses_total for p in every),
                    requests=sum(p.requests for p in every),
                )
            )

    def flush(self) -> None:
        flush = getattr(self._forward, "flush", None)
        if flush is not None:
            with self._lock:
                flush()


class _ConnectionProgress:
    """One connection's progress callback into a :class:`_SharedProgress`."""

    def __init__(self, shared: _SharedProgress, connection_id: int) -> None:
        self._shared, self._connection_id = shared, connection_id

    def __call__(self, progress: SyncProgress) -> None:
        self._shared.report(self._connection_id, progress)

    def flush(self) -> None:
        """What the run's writer held back, written (:meth:`RunProgressWriter.flush`)."""
        self._shared.flush()


def _sync_one(
    user: User,
    connection: CanvasConnection,
    incremental: bool,
    progress: ProgressCallback | None,
    workers: int | None,
    sync_run_id: int | None,
) -> SyncResult:
    """Sync one connection and record its outcome on it (rejected, or synced)."""
    kind = "incremental" if incremental else "full"
    named = _Named.of(connection)  # before the sync: its commits expire the object
    try:
        if workers is None:  # the default of create_canvas_sync_service (tests patch it)
            service = create_canvas_sync_service(
                user, connection=connection, progress=progress, sync_run_id=sync_run_id
            )
        else:
            service = create_canvas_sync_service(
                user, connection=connection, progress=progress, workers=workers,
                sync_run_id=sync_run_id,
            )
        result = service.sync_all_data(use_incremental=incremental)
    except NotConnected as exc:  # nothing usable is stored: no request is made
        result = SyncResult.failure(str(exc), exc.kind, kind)
    return _record_outcome(named, result)


@dataclass(frozen=True)
class _Named:
    """A connection's id, name and what a success changes on it, read before a sync:
    afterwards each read is a SELECT."""

    id: int
    name: str
    state: SyncedState

    @classmethod
    def of(cls, connection: CanvasConnection) -> _Named:
        return cls(connection.id, connection.display_name, SyncedState.of(connection))


def _record_outcome(connection: _Named, result: SyncResult) -> SyncResult:
    """Record a sync's outcome on its connection (rejected, or working) and name it."""
    if result.succeeded:
        mark_synced(connection.id, connection.state)
    elif result.error_kind is not None and result.error_kind.needs_reconnect:
        # The banner names it (Canvas's refusal); scheduled syncs wait for a new token.
        mark_rejected(connection.id, token_refused=result.error_kind is ErrorKind.INVALID_TOKEN)
    outcome = ConnectionOutcome.of(connection.id, connection.name, result)
    return replace(result, outcomes=(outcome,))


def sync_course(
    user: User,
    course_id: int,
    *,
    progress: ProgressCallback | None = None,
    sync_run_id: int | None = None,
) -> SyncResult:
    """Sync the user's course ``course_id`` (local id) alone, through the connection it came
    from (:meth:`CanvasSyncService.sync_course_data`); a course not the user's, or whose
    connection is not usable, gets a one-line failure and no request is made."""
    course = db.session.get(Course, course_id)
    connection = (db.session.get(CanvasConnection, course.connection_id)
                  if course is not None and course.user_id == user.id else None)
    if course is None or connection is None:
        return SyncResult.failure("This course is no longer in GradeSync: sync everything "
                                  "to see your current courses.", ErrorKind.NOT_FOUND, "course")
    if not connection.usable:
        failure = SyncResult.failure(str(NotConnected()), ErrorKind.NOT_CONNECTED, "course")
        return _record_outcome(_Named.of(connection), failure)
    named = _Named.of(connection)
    try:
        service = create_canvas_sync_service(user, connection=connection, progress=progress,
                                             sync_run_id=sync_run_id)
        result = service.sync_course_data(course_id)
    except NotConnected as exc:  # nothing usable is stored: no request is made
        result = SyncResult.failure(str(exc), exc.kind, "course")
    return _record_outcome(named, result)


def sync_connections(
    user: User,
    *,
    incremental: bool = False,
    progress: ProgressCallback | None = None,
    workers: int | None = None,
    sync_run_id: int | None = None,
    skip_rejected: bool = False,
    usable: list[CanvasConnection] | None = None,
) -> SyncResult:
    """Sync every usable connection of ``user`` (:func:`usable_connections`; ``usable``: those,
    already read with the user by :func:`~app.connections.records.user_for_sync`), side by side.

    Returns one result (:func:`combine_results`): counts summed, ``connections`` = how many
    were synced, one outcome per connection; failed if any failed, each error naming its
    connection. ``skip_rejected`` (scheduled runs) leaves out a connection whose token Canvas
    refused and that has no new one (``CanvasConnection.rejected``): it would fail the same
    way. A user without a usable connection gets the ``not_connected`` failure.
    """
    if usable is None:
        usable = usable_connections(user.id)
    skipped = tuple(ConnectionOutcome.skipped(c.id, c.display_name)
                    for c in usable if skip_rejected and c.rejected)
    connections = [c for c in usable if not (skip_rejected and c.rejected)]
    kind = "incremental" if incremental else "full"
    if not connections:
        if skipped:
            return SyncResult(status="failed", kind=kind, error=ALL_REJECTED,
                              error_kind=ErrorKind.INVALID_TOKEN, connections=0,
                              outcomes=skipped)
        failure = SyncResult.failure(str(NotConnected()), ErrorKind.NOT_CONNECTED, kind)
        return replace(failure, connections=0)
    if len(connections) == 1:
        result = _sync_one(user, connections[0], incremental, progress, workers, sync_run_id)
        return replace(result, outcomes=result.outcomes + skipped)
    shared = _SharedProgress(progress) if progress is not None else None
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    ids = [(c.id, c.display_name) for c in connections]
    user_id = user.id
    db.session.commit()  # end the read transaction before other sessions write

    def run(connection_id: int) -> SyncResult:
        with app.app_context():
            try:
                own_user = db.session.get(User, user_id)
                own = db.session.get(CanvasConnection, connection_id)
                if own_user is None or own is None:
                    return SyncResult.failure("This connection no longer exists.",
                                              ErrorKind.NOT_CONNECTED)
                callback = shared.for_connection(connection_id) if shared else None
                return _sync_one(own_user, own, incremental, callback, workers, sync_run_id)
            finally:
                db.session.remove()

    with ThreadPoolExecutor(len(ids), thread_name_prefix="connection") as pool:
        futures = [(name, submit_in_context(pool, run, cid)) for cid, name in ids]
        named = [(name, future.result()) for name, future in futures]
    result = combine_results(named)
    return replace(result, outcomes=result.outcomes + skipped)
