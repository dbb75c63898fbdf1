"""What the sync pages show about a run: plain dicts built from ``sync_run`` rows.

The status page and the ``status.json`` the page polls send the same :func:`run_state` dict,
so the browser code has one shape to read. Course steps are data on the row
(``summary["steps"]``, see :func:`app.sync.progress.stored_step`): rendered here in words,
never parsed back from text.
"""

from __future__ import annotations

from typing import Any

from flask import url_for
from sqlalchemy import select

from app.extensions import db
from app.models import CanvasConnection, SyncRun
from app.models.sync_run import FINISHED_STATUSES, SCHEDULED_TRIGGER
from app.sync.result import ErrorKind

PHASE_LABELS = {
    None: "Waiting to start",
    "queued": "Waiting to start",
    "connecting": "Connecting to Canvas",
    "courses": "Reading your course list",
    "fetching": "Downloading grades",
    "writing": "Saving grades",
    "done": "Done",
}
KIND_LABELS = {"incremental": "Quick sync (changes only)", "full": "Full sync",
               "course": "One course"}
STATUS_LABELS = {
    "queued": "Waiting to start",
    "running": "Running",
    "succeeded": "Finished",
    "failed": "Failed",
    "interrupted": "Interrupted",
}


def error_kind(run: SyncRun) -> str | None:
    """``"token"`` when the person must fix their Canvas connection, ``"other"`` otherwise.

    Decided by the kind the sync engine recorded (from the exception's type), never by words
    in the message.
    """
    if not run.error:
        return None
    recorded = (run.summary or {}).get("error_kind")
    try:
        needs_reconnect = ErrorKind(recorded).needs_reconnect if recorded else False
    except ValueError:
        needs_reconnect = False
    return "token" if needs_reconnect else "other"


def summary_text(run: SyncRun) -> str | None:
    """'7 courses, 412 assignments, 9 requests, 1.2 s' for a finished run with results."""
    summary = run.summary or {}
    if run.status != "succeeded" and not summary.get("courses"):
        return None
    parts = []
    for key, noun in (("courses", "course"), ("assignments", "assignment")):
        if isinstance(summary.get(key), int):
            parts.append(_plural(summary[key], noun))
    parts.append(_plural(run.requests or int(summary.get("requests") or 0), "request"))
    # The wall time the student waited, as the history's duration column shows it.
    seconds = run.duration_s
    if seconds is None and isinstance(summary.get("duration_s"), int | float):
        seconds = summary["duration_s"]
    if seconds is not None:
        parts.append(f"{seconds:.1f} s")
    return ", ".join(parts)


def progress_line(run: SyncRun) -> str:
    """'Syncing Biology 101 — 10 of 32' while a run writes; its headline once it finished."""
    if run.status in FINISHED_STATUSES:
        return headline(run) or ""
    stored = _stored_steps(run)
    if run.phase == "writing" and stored:
        # The row's counts are the newest (the step was stored with them): all connections.
        return _step_line(stored[-1], run.courses_done, run.courses_total)
    return (run.message or "").strip()


def course_steps(run: SyncRun) -> list[dict[str, Any]]:
    """Each course the run wrote, oldest first: its stored fields plus ``done``, ``total``
    (where the whole run stood) and ``line``, the words the page shows.

    Courses that arrive together are written faster than a page polls; the page plays these
    back along its bar, so every course is named even when a poll only saw the end.
    """
    steps = []
    for stored in _stored_steps(run):
        done = _count(stored.get("run_done")) or _count(stored.get("index"))
        total = _count(stored.get("run_total")) or _count(stored.get("total"))
        steps.append(stored | {"done": done, "total": total,
                               "line": _step_line(stored, done, total)})
    return steps


def _stored_steps(run: SyncRun) -> list[dict[str, Any]]:
    """The course steps on the row (:func:`app.jobs.runs.stored_step`); runs recorded before
    steps were data kept lines of text, which are not shown again."""
    steps = (run.summary or {}).get("steps")
    if not isinstance(steps, list):
        return []
    return [step for step in steps if isinstance(step, dict)]


def _count(value: Any) -> int:
    return value if isinstance(value, int) and value > 0 else 0


def _step_line(step: dict[str, Any], done: int, total: int) -> str:
    name = str(step.get("name") or "").strip()
    return f"Syncing {name} — {done} of {total}" if name else f"{done} of {total} courses"


def headline(run: SyncRun) -> str | None:
    """The result in a student's words: 'Checked 32 courses. 3 new grades.', or 'Checked 32
    courses: nothing changed.' (a sync that wrote nothing never claims to have updated).

    The counts of requests, rows and seconds stay in :func:`summary_text`, one click away.
    """
    if run.status != "succeeded":
        return None
    summary = run.summary or {}
    courses = summary.get("courses")
    if not isinstance(courses, int):
        return "Your grades are up to date."
    text = f"Checked {_plural(courses, 'course')}"
    # "new_grades": the grade_posted events of the run (app.sync.ledger). Runs recorded
    # before the ledger have none: say what their summary has, how many courses changed.
    new_grades = summary.get("new_grades")
    changed = summary.get("courses_written")
    if changed == 0 and not new_grades:
        return text + ": nothing changed."
    if isinstance(changed, int):
        text += f"; {changed} had changes"
    if isinstance(new_grades, int):
        text += ". " + ("No new grades." if new_grades == 0
                        else f"{_plural(new_grades, 'new grade')}.")
    else:
        text += "."
    return text


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def run_state(run: SyncRun) -> dict[str, Any]:
    """Everything the progress bar and the status text need, JSON-ready."""
    finished = run.status in FINISHED_STATUSES
    phase = run.phase if run.status != "queued" else "queued"
    kind = error_kind(run) if run.status != "succeeded" else None
    return {
        "id": run.id,
        "status": run.status,
        "status_label": STATUS_LABELS.get(run.status, run.status),
        "kind": run.kind,
        # One name for a run's kind, in the history and on its own page alike.
        "kind_label": KIND_LABELS.get(run.kind, (run.kind or "").capitalize()),
        "scheduled": (run.summary or {}).get("trigger") == SCHEDULED_TRIGGER,
        "phase": run.phase,
        "phase_label": (
            STATUS_LABELS.get(run.status, run.status)
            if finished and run.status != "succeeded"
            else PHASE_LABELS.get(phase, (run.phase or "").capitalize())
        ),
        "percent": run.percent,
        "courses_done": run.courses_done,
        "courses_total": run.courses_total,
        "requests": run.requests,
        "message": run.message or "",
        "progress_line": progress_line(run),
        "steps": course_steps(run),
        "headline": headline(run),
        "finished": finished,
        "error": run.error,
        "error_kind": kind,
        "settings_url": url_for("settings.index") if kind == "token" else None,
        "summary": summary_text(run),
        "created_at": _iso(run.created_at),
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
        "duration_s": run.duration_s,
    }


def _iso(value: Any) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def load_run_state(run_id: int, user_id: int) -> dict[str, Any] | None:
    """Read the run afresh (never a cached object) and return its state, or None if not ours."""
    run = db.session.scalar(
        select(SyncRun)
        .where(SyncRun.id == run_id, SyncRun.user_id == user_id)
        .execution_options(populate_existing=True)
    )
    state = run_state(run) if run is not None else None
    # End the read transaction now: a stream must not hold a connection between polls.
    db.session.rollback()
    return state


def recent_runs(user_id: int, limit: int = 50) -> list[dict[str, Any]]:
    """The user's latest runs, newest first, as rows for the history table."""
    runs = db.session.scalars(
        select(SyncRun)
        .where(SyncRun.user_id == user_id)
        .order_by(SyncRun.created_at.desc(), SyncRun.id.desc())
        .limit(limit)
    ).all()
    return [run_state(run) | {"created": run.created_at} for run in runs]


def has_synced(user_id: int) -> bool:
    """True once a connection of the user has synced (its ``last_synced_at``), so incremental
    syncs make sense."""
    return (
        db.session.scalar(
            select(CanvasConnection.id)
            .where(CanvasConnection.user_id == user_id,
                   CanvasConnection.last_synced_at.is_not(None))
            .limit(1)
        )
        is not None
    )
