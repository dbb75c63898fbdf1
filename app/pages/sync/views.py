"""Start a sync, watch it live, and read the history of past syncs.

The sync itself never runs in a request: ``POST /sync`` hands it to :mod:`app.jobs` and
redirects to the status page, which follows the ``sync_run`` row through Server-Sent Events
(``/events``) or, where those are unavailable, by polling ``/status.json``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required

from app import jobs
from app.models import SyncRun
from app.pages.common import get_owned_or_404, render_error
from app.pages.sync import streams
from app.pages.sync.service import has_synced, load_run_state, recent_runs
from app.settings import default

bp = Blueprint("sync", __name__)

logger = logging.getLogger(__name__)

# Defaults for the event stream (declared in app.settings); tests shorten them through the
# app config. The poll of 0.1 s shows the result within 0.3 s of the run's end.
EVENTS_POLL_SECONDS: float = default("SYNC_EVENTS_POLL_SECONDS")
EVENTS_MAX_SECONDS: float = default("SYNC_EVENTS_MAX_SECONDS")
EVENTS_HEARTBEAT_SECONDS: float = default("SYNC_EVENTS_HEARTBEAT_SECONDS")


@bp.post("/sync")
@login_required
def start() -> Any:
    """Start a sync (or show the one already running)."""
    if not current_user.canvas_connected:
        flash("Connect your Canvas account first: add your Canvas address and token.", "warning")
        return redirect(url_for("settings.index"))
    mode = request.form.get("mode", "auto")
    # A regular click is incremental once a full sync has laid down the data to build on.
    incremental = mode == "incremental" or (mode == "auto" and has_synced(current_user.id))
    already = jobs.active_run(current_user.id)
    run = jobs.start_sync(current_user.id, incremental=incremental)
    if already is not None and already.id == run.id:
        flash("A sync is already running; here is its progress.", "info")
    return redirect(url_for("sync.status", run_id=run.id))


@bp.get("/sync/<int:run_id>")
@login_required
def status(run_id: int) -> Any:
    state = _state_or_404(run_id)
    started = get_owned_or_404(SyncRun, run_id).created_at  # shown in the student's zone
    return render_template("sync/status.html", state=state, started=started)


@bp.get("/sync/<int:run_id>/status.json")
@login_required
def status_json(run_id: int) -> Any:
    """The polling fallback: the run's current state."""
    return _state_or_404(run_id)


@bp.get("/sync/<int:run_id>/events")
@login_required
def events(run_id: int) -> Any:
    """Server-Sent Events: one ``progress`` event per change, then ``done`` when finished.

    Each poll is a fresh short query in its own app context, so no connection or stale object
    is held between polls. A comment line goes out every ``SYNC_EVENTS_HEARTBEAT_SECONDS``:
    writing to a closed connection fails, which ends the stream within seconds of the browser
    leaving. The stream ends after ``SYNC_EVENTS_MAX_SECONDS`` and the browser's EventSource
    reconnects by itself. Beyond ``SYNC_EVENTS_PER_USER`` open streams of the user, or
    ``SYNC_EVENTS_PER_PROCESS`` in this process, the answer is 429, and the page falls back to
    polling.
    """
    _state_or_404(run_id)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    user_id = current_user.id
    config = app.config
    poll = float(config["SYNC_EVENTS_POLL_SECONDS"])
    limit = float(config["SYNC_EVENTS_MAX_SECONDS"])
    heartbeat = float(config["SYNC_EVENTS_HEARTBEAT_SECONDS"])
    cap = int(config["SYNC_EVENTS_PER_USER"])
    process_cap = int(config["SYNC_EVENTS_PER_PROCESS"])
    slot = streams.open_stream(user_id, cap, process_cap)
    if slot is None:
        body, status = render_error(429, "Too many progress streams are open. Use polling.")
        return body, status, {"Retry-After": "10"}

    def stream() -> Iterator[str]:
        now = time.monotonic()
        deadline, next_beat = now + limit, now + heartbeat
        last: dict[str, Any] | None = None
        yield f"retry: {int(max(poll, 1.0) * 1000)}\n\n"
        while True:
            with app.app_context():
                state = load_run_state(run_id, user_id)
            if state is None:  # deleted meanwhile
                yield _event("gone", {"id": run_id})
                return
            if state != last:
                yield _event("done" if state["finished"] else "progress", state)
                last = state
            if state["finished"] or time.monotonic() >= deadline:
                return
            if time.monotonic() >= next_beat:
                yield ": heartbeat\n\n"  # raises here once the client is gone
                with app.app_context():
                    streams.touch_stream(slot)
                next_beat = time.monotonic() + heartbeat
            time.sleep(poll)

    def release() -> None:
        with app.app_context():
            streams.close_stream(slot)

    response = Response(stream(), mimetype="text/event-stream")
    response.call_on_close(release)  # the server closes the response when the stream ends
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass events through at once
    return response


def _event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


@bp.get("/sync/history")
@login_required
def history() -> str:
    return render_template("sync/history.html", runs=recent_runs(current_user.id))


def _state_or_404(run_id: int) -> dict[str, Any]:
    state = load_run_state(run_id, current_user.id)
    if state is None:
        abort(404)
    return state
