"""The Canvas client and the sync engine for a connection, and a sync of all of a user's.

The sync engine never reads credentials itself: :func:`build_client` builds its Canvas client
from the stored connection (each connection's base URL and token key its own rate limiter, so
two instances never share a bucket), and :func:`create_canvas_sync_service` hands that client
to the engine. :func:`sync_connections` syncs every connection of a user side by side, each in
its own thread with its own database session; one failing connection fails only its own part.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from flask import current_app

from app.canvas.client import CanvasAPIService
from app.canvas.options import ClientOptions
from app.canvas.protocol import CanvasClient
from app.extensions import db
from app.logs import submit_in_context
from app.models import CanvasConnection, User
from app.sync.engine import CanvasSyncService
from app.sync.result import (
    DEFAULT_WORKERS,
    ErrorKind,
    ProgressCallback,
    SyncOptions,
    SyncProgress,
    SyncResult,
    combine_results,
)

from .records import default_connection, mark_rejected, mark_synced, user_connections
from .tokens import fresh_access_token, refresher_for
from .verify import NotConnected, check_canvas_url, outbound_policy, token_cipher

logger = logging.getLogger(__name__)


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


class _Unconnected:
    """Stands in for a client when there is none: every sync with it fails with ``error``."""

    def __init__(self, error: NotConnected) -> None:
        self.error = error

    def get_courses(self) -> list[Any]:
        raise self.error

    def get_completed_courses(self) -> list[Any]:
        raise self.error

    def get_student_enrollments(self) -> list[Any]:
        raise self.error

    def get_course(self, course_id: int) -> Any:
        raise self.error

    def get_assignment_groups(
        self, course_id: int, *, include_assignments: bool = True, include_submission: bool = True
    ) -> list[Any]:
        raise self.error


def create_canvas_sync_service(
    user: User,
    *,
    connection: CanvasConnection | None = None,
    progress: ProgressCallback | None = None,
    client: CanvasClient | None = None,
    workers: int = DEFAULT_WORKERS,
) -> CanvasSyncService:
    """The sync engine for one of ``user``'s connections (default: the first usable one),
    with a client built from it unless ``client`` is given.

    A connection without usable credentials, or a user without a connection, still gets a
    service: its syncs fail with a clear message (``error_kind`` ``not_connected``).
    """
    connection = connection or default_connection(user)
    owns_client = client is None
    if client is None:
        try:
            if connection is None:
                raise NotConnected()
            client = build_client(connection)
        except NotConnected as exc:
            client = _Unconnected(exc)
    elif connection is None:
        client = _Unconnected(NotConnected())
    return CanvasSyncService(
        user.id,
        client,
        SyncOptions(workers=workers),
        connection_id=connection.id if connection else None,
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
        def report(progress: SyncProgress) -> None:
            with self._lock:
                self._latest[connection_id] = progress
                every = list(self._latest.values())
                self._forward(
                    SyncProgress(
                        phase=progress.phase,
                        courses_done=sum(p.courses_done for p in every),
                        courses_total=sum(p.courses_total for p in every),
                        message=progress.message,
                        requests=sum(p.requests for p in every),
                        checkpoint=progress.checkpoint,
                    )
                )

        return report


def _sync_one(
    user: User,
    connection: CanvasConnection,
    incremental: bool,
    progress: ProgressCallback | None,
    workers: int | None,
) -> SyncResult:
    if workers is None:  # the default of create_canvas_sync_service (tests patch it)
        service = create_canvas_sync_service(user, connection=connection, progress=progress)
    else:
        service = create_canvas_sync_service(
            user, connection=connection, progress=progress, workers=workers
        )
    result = service.sync_all_data(use_incremental=incremental)
    if result.succeeded:
        mark_synced(connection.id)
    elif result.error_kind is ErrorKind.INVALID_TOKEN:
        mark_rejected(connection.id)  # the banner names it; nothing is deleted
    return result


def sync_connections(
    user: User,
    *,
    incremental: bool = False,
    progress: ProgressCallback | None = None,
    workers: int | None = None,
) -> SyncResult:
    """Sync every connection of ``user`` that has credentials, side by side.

    Returns one result (:func:`combine_results`): counts summed, ``connections`` = how many
    were synced; failed if any failed, each error naming its connection. A user without a
    usable connection gets the ``not_connected`` failure.
    """
    connections = [c for c in user_connections(user.id) if c.has_credentials]
    if len(connections) <= 1:
        if not connections:  # fails with the not-connected message; no connection synced
            result = create_canvas_sync_service(user, progress=progress).sync_all_data(
                use_incremental=incremental
            )
            return replace(result, connections=0)
        return _sync_one(user, connections[0], incremental, progress, workers)
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
                return _sync_one(own_user, own, incremental, callback, workers)
            finally:
                db.session.remove()

    with ThreadPoolExecutor(len(ids), thread_name_prefix="connection") as pool:
        futures = [(name, submit_in_context(pool, run, cid)) for cid, name in ids]
        named = [(name, future.result()) for name, future in futures]
    return combine_results(named)
