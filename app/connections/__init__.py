"""A user's Canvas connections: the records, checking them with Canvas, and syncing them.

- :mod:`.verify`: a Canvas address and token checked with Canvas (no storage);
- :mod:`.records`: the ``canvas_connection`` records and the token lifecycle;
- :mod:`.syncing`: the Canvas client and sync engine for a connection, and
  :func:`sync_connections` (all of a user's, side by side), :func:`sync_course` (one course).
"""

from .records import (
    WARN_DAYS,
    ConnectionView,
    check_canvas_connection,
    clean_label,
    connect_canvas,
    connection_for_url,
    connection_views,
    days_left,
    default_connection,
    disconnect_canvas,
    disconnect_connection,
    expiry_from_days,
    get_canvas_token,
    get_connection,
    lifecycle_status,
    mark_rejected,
    remove_connection,
    rename_connection,
    set_canvas_credentials,
    user_connections,
    user_for_sync,
)
from .syncing import build_client, create_canvas_sync_service, sync_connections, sync_course
from .verify import (
    REJECTED_HELP,
    CanvasConnectionError,
    NotConnected,
    check_canvas_url,
    outbound_policy,
    token_cipher,
    verify_canvas_token,
)

__all__ = [
    "REJECTED_HELP",
    "WARN_DAYS",
    "CanvasConnectionError",
    "ConnectionView",
    "NotConnected",
    "build_client",
    "check_canvas_connection",
    "check_canvas_url",
    "clean_label",
    "connect_canvas",
    "connection_for_url",
    "connection_views",
    "create_canvas_sync_service",
    "days_left",
    "default_connection",
    "disconnect_canvas",
    "disconnect_connection",
    "expiry_from_days",
    "get_canvas_token",
    "get_connection",
    "lifecycle_status",
    "mark_rejected",
    "outbound_policy",
    "remove_connection",
    "rename_connection",
    "set_canvas_credentials",
    "sync_connections",
    "sync_course",
    "token_cipher",
    "user_connections",
    "user_for_sync",
    "verify_canvas_token",
]
