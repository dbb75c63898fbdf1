"""Start a sync, watch it live, and read the history of past syncs.

The sync itself never runs in a request: ``POST /sync`` hands it to :mod:`app.jobs` and
redirects to the status page, which follows the ``sync_run`` row by polling ``/status.json``
once a second (``SYNC_POLL_SECONDS``; every 0.2 s in its first seconds and once the last course
is written) with the ``ETag`` of its last answer. A poll holds a
server thread for one short read, never between polls, so any number of watchers fit in
gunicorn's threads and no stream needs a cap (benchmarks/progress_watchers.py measures it).
"""

from __future__ import annotations

import hashlib
import json
import logging
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
from app.models import Course, SyncRun
from app.pages.common import get_owned_or_404
from app.pages.sync.run_view import has_synced, load_run_state, recent_runs, run_state

bp = Blueprint("sync", __name__)

logger = logging.getLogger(__name__)


@bp.app_context_processor
def poll_interval() -> dict[str, int]:
    """``sync_poll_ms`` and ``sync_poll_fast_ms`` for the progress panel (_progress.html): how
    often the page asks (``SYNC_POLL_SECONDS``), and in the moments the student waits for the
    result (``SYNC_POLL_FAST_SECONDS``: its first seconds, once the last course is written)."""
    config = current_app.config
    return {"sync_poll_ms": max(100, round(float(config["SYNC_POLL_SECONDS"]) * 1000)),
            "sync_poll_fast_ms": max(100, round(float(config["SYNC_POLL_FAST_SECONDS"]) * 1000))}


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
    run, created = jobs.start_sync(current_user.id, incremental=incremental)
    if not created:
        flash("A sync is already running; here is its progress.", "info")
    return redirect(url_for("sync.status", run_id=run.id))


@bp.post("/sync/course/<int:course_id>")
@login_required
def course(course_id: int) -> Any:
    """Sync one course ("Sync this course" on its page), or show the run already going."""
    row = get_owned_or_404(Course, course_id)
    if not current_user.canvas_connected:
        flash("Connect your Canvas account first: add your Canvas address and token.", "warning")
        return redirect(url_for("settings.index"))
    run, created = jobs.start_sync(current_user.id, course_id=row.id)
    if not created:
        flash("A sync is already running; here is its progress.", "info")
    return redirect(url_for("sync.status", run_id=run.id))


@bp.get("/sync/<int:run_id>")
@login_required
def status(run_id: int) -> Any:
    run = get_owned_or_404(SyncRun, run_id)
    # run.created_at: shown in the student's zone
    return render_template("sync/status.html", state=run_state(run), started=run.created_at)


@bp.get("/sync/<int:run_id>/status.json")
@login_required
def status_json(run_id: int) -> Any:
    """The run's current state, which the page polls (see the module docstring).

    The answer carries an ``ETag`` (a digest of the state); a poll that sends it back as
    ``If-None-Match`` while nothing changed gets an empty 304.
    """
    state = _state_or_404(run_id)
    body = json.dumps(state, separators=(",", ":"), sort_keys=True)
    tag = hashlib.blake2b(body.encode(), digest_size=12).hexdigest()
    headers = {"ETag": f'"{tag}"', "Cache-Control": "no-cache, private"}
    if tag in request.if_none_match:
        return Response(status=304, headers=headers)
    return Response(body, mimetype="application/json", headers=headers)


@bp.get("/sync/history")
@login_required
def history() -> str:
    return render_template("sync/history.html", runs=recent_runs(current_user.id))


def _state_or_404(run_id: int) -> dict[str, Any]:
    state = load_run_state(run_id, current_user.id)
    if state is None:
        abort(404)
    return state
