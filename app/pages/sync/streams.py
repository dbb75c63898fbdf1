"""Open progress streams, counted in the database so the per-user cap holds across processes.

A progress stream holds one server thread for its whole life, so a user (or a script with
their cookie) opening hundreds of them would starve everyone else. Each open stream is a
``progress_stream`` row; a user gets at most ``SYNC_EVENTS_PER_USER`` at once (more answer
429 at once, and the page falls back to polling ``status.json``). Rows are refreshed with each
heartbeat and deleted when the stream ends; a row whose process died stops counting after
``STALE_AFTER``.

The per-user cap alone does not protect the site: six accounts with a few streams each hold
every thread of a server. So each process also holds at most ``SYNC_EVENTS_PER_PROCESS``
streams at once, whoever opens them (counted in memory: the threads are this process's);
beyond it the answer is 429 too, and the page polls.
"""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import delete, func, select, update

from app.extensions import db
from app.models import ProgressStream, utcnow

DEFAULT_STREAMS_PER_USER = 3
# Streams one process serves at once: leaves most of gunicorn's threads (8 a worker) for pages.
DEFAULT_STREAMS_PER_PROCESS = 4
STALE_AFTER = timedelta(seconds=20)  # several missed heartbeats: the stream's process is gone


class _ProcessStreams:
    """The streams this process serves now (and those being opened)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.slots: set[int] = set()
        self.opening = 0


_here = _ProcessStreams()


def process_streams() -> int:
    """How many streams this process serves now."""
    with _here.lock:
        return len(_here.slots)


def open_stream(user_id: int, cap: int, process_cap: int = DEFAULT_STREAMS_PER_PROCESS
                ) -> int | None:
    """Reserve a stream slot for the user: its id, or None when ``cap`` are open for the user
    or ``process_cap`` in this process; commits.

    Insert first, then count: two simultaneous opens can both be refused, never both admitted
    beyond the cap.
    """
    with _here.lock:
        if len(_here.slots) + _here.opening >= process_cap:
            return None
        _here.opening += 1
    slot_id: int | None = None
    try:
        slot_id = _open_for_user(user_id, cap)
    finally:
        with _here.lock:
            _here.opening -= 1
            if slot_id is not None:
                _here.slots.add(slot_id)
    return slot_id


def _open_for_user(user_id: int, cap: int) -> int | None:
    now = utcnow()
    db.session.execute(
        delete(ProgressStream).where(
            ProgressStream.user_id == user_id, ProgressStream.seen_at < now - STALE_AFTER
        )
    )
    slot = ProgressStream(user_id=user_id, opened_at=now, seen_at=now)
    db.session.add(slot)
    db.session.commit()
    slot_id = slot.id
    open_now = db.session.scalar(
        select(func.count()).select_from(ProgressStream).where(
            ProgressStream.user_id == user_id, ProgressStream.seen_at >= now - STALE_AFTER
        )
    )
    if (open_now or 0) > cap:
        close_stream(slot_id)
        return None
    return slot_id


def touch_stream(slot_id: int) -> None:
    """The stream is still being read (a heartbeat went out); commits."""
    db.session.execute(
        update(ProgressStream).where(ProgressStream.id == slot_id).values(seen_at=utcnow())
    )
    db.session.commit()


def close_stream(slot_id: int) -> None:
    """Give the slot back; commits."""
    with _here.lock:
        _here.slots.discard(slot_id)
    db.session.execute(delete(ProgressStream).where(ProgressStream.id == slot_id))
    db.session.commit()
