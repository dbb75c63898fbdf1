"""The work behind ``flask canvas sync``: one account with a progress bar, or every account."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import click
from flask import current_app

import clock
from app import alerts, jobs
from app.cli.common import CLIError, get_user, one_line
from app.sync.result import SyncProgress

# The keys of the ``--json`` line: a contract with outside checks. Do not rename.
JSON_KEYS = (
    "status",
    "courses",
    "assignments",
    "requests",
    "throttled",
    "retries",
    "duration_s",
    "error",
    "connections",  # added with several Canvas instances (issue 14): how many were synced
)
POLL_INTERVAL_S = 0.5
ALERTS_WAIT_S = 60.0  # a sync's alerts have this long to go out before the command ends


def sync_one(email: str, incremental: bool, as_json: bool) -> bool:
    jobs.recover_on_start(current_app._get_current_object())  # type: ignore[attr-defined]
    try:
        user = get_user(email)
        if not user.canvas_connected:
            raise CLIError(
                f"{user.email} is not connected to Canvas: run "
                "'flask --app app canvas connect EMAIL --url URL --token TOKEN' first"
            )
        try:
            run = jobs.create_sync_run(user.id, incremental)
        except jobs.SyncAlreadyRunning as exc:
            raise CLIError(
                f"a sync is already {exc.run.status} for {user.email} (run {exc.run.id}); "
                "wait for it to finish"
            ) from None
    except CLIError as exc:
        if not as_json:
            raise
        # The error line first, so the JSON stays the last line even when streams are merged.
        click.echo(f"Error: {exc.message}", err=True)
        click.echo(json.dumps(_json_results({"status": "failed", "error": exc.message}, 0.0)))
        return False

    started = time.monotonic()
    bar = _ProgressBar(enabled=not as_json and sys.stderr.isatty())
    try:
        results = jobs.run_sync(user.id, run.id, incremental, progress=bar)
    except KeyboardInterrupt:
        bar.close()
        jobs.mark_interrupted([run.id], "Stopped from the command line before it finished.")
        click.echo(
            f"Error: sync of {user.email} interrupted (Ctrl+C); run it again to finish",
            err=True,
        )
        sys.exit(130)
    finally:
        bar.close()
    # The alerts go out on their own threads: hand them over before the command ends.
    alerts.outbox().wait_idle(ALERTS_WAIT_S)
    elapsed = time.monotonic() - started
    summary = _json_results(results.as_dict(), elapsed)
    succeeded = summary["status"] == "succeeded"
    if as_json:
        if not succeeded:
            click.echo(f"Error: sync failed for {user.email}: {summary['error']}", err=True)
        click.echo(json.dumps(summary))
    elif succeeded:
        click.echo(
            f"Synced {user.email}: {summary['courses']} courses, {summary['assignments']} "
            f"assignments in {summary['duration_s']:.1f} s ({summary['requests']} requests, "
            f"{summary['throttled']} throttled, {summary['retries']} retries)."
        )
    else:
        click.echo(f"Error: sync failed for {user.email}: {summary['error']}", err=True)
    return succeeded


def _json_results(results: dict[str, Any], elapsed: float) -> dict[str, Any]:
    """The contract's keys, filled in when a failed run did not report them."""
    status = "succeeded" if results.get("status") == "succeeded" else "failed"
    out: dict[str, Any] = {"status": status}
    for key in ("courses", "assignments", "requests", "throttled", "retries"):
        value = results.get(key)
        out[key] = int(value) if isinstance(value, int | float) else 0
    duration = results.get("duration_s")
    out["duration_s"] = round(float(duration if isinstance(duration, int | float) else elapsed), 3)
    connections = results.get("connections")
    out["connections"] = int(connections) if isinstance(connections, int) else 0
    error = results.get("error")
    if status == "failed":
        out["error"] = one_line(error or "the sync failed")
    else:
        out["error"] = None
    return {key: out[key] for key in JSON_KEYS}


def sync_all(incremental: bool, as_json: bool) -> bool:
    """Start a sync for every connected account; with the in-process runner, wait for them."""
    from sqlalchemy import select

    from app import jobs
    from app.extensions import db
    from app.models import SyncRun, User

    jobs.recover_on_start(current_app._get_current_object())  # type: ignore[attr-defined]
    before = clock.now()
    runs = jobs.enqueue_all(incremental)
    emails = {row.id: row.email for row in db.session.execute(select(User.id, User.email))}
    if not runs:
        click.echo("No account is connected to Canvas; nothing to sync.")
        if as_json:
            click.echo(json.dumps({"status": "succeeded", "users": 0, "runs": []}))
        return True
    for run in runs:
        note = " (already active, not started again)" if run.created_at < before else ""
        click.echo(
            f"Sync run {run.id} for {emails.get(run.user_id, run.user_id)}: {run.status}{note}"
        )
    if isinstance(jobs.get_runner(), jobs.CeleryRunner):
        click.echo(f"Queued {len(runs)} sync(s) for the Celery workers.")
        return True

    # In-process runner: these threads die with this process, so wait for our runs.
    ours = [run.id for run in runs if run.created_at >= before]
    finished = wait_for_runs(ours)
    failed = 0
    results = []
    for run_id in ours:
        run = db.session.get_one(SyncRun, run_id)  # ours: created above, never deleted
        email = emails.get(run.user_id, run.user_id)
        results.append({"run": run.id, "email": email, "status": run.status, "error": run.error})
        if run.status != "succeeded":
            failed += 1
            click.echo(f"Error: sync failed for {email}: {one_line(run.error)}", err=True)
    click.echo(f"{len(ours) - failed} of {len(ours)} sync(s) succeeded.")
    if as_json:
        status = "succeeded" if finished and not failed else "failed"
        click.echo(json.dumps({"status": status, "users": len(ours), "runs": results}))
    return finished and failed == 0


def wait_for_runs(run_ids: list[int]) -> bool:
    """Poll until every run has finished; True when they all did."""
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import SyncRun
    from app.models.sync_run import ACTIVE_STATUSES

    if not run_ids:
        return True
    bar = _ProgressBar(enabled=sys.stderr.isatty(), label="Syncing accounts")
    try:
        while True:
            db.session.expire_all()
            active = db.session.scalar(
                select(func.count())
                .select_from(SyncRun)
                .where(SyncRun.id.in_(run_ids), SyncRun.status.in_(ACTIVE_STATUSES))
            )
            db.session.rollback()  # end the read transaction so we see the workers' commits
            bar.show(len(run_ids) - (active or 0), len(run_ids), "")
            if not active:
                return True
            time.sleep(POLL_INTERVAL_S)
    except KeyboardInterrupt:
        click.echo("Interrupted; the syncs stop with this process.", err=True)
        return False
    finally:
        bar.close()


def _bar_item(item: str | None) -> str | None:
    """What the bar shows beside its count: the course being synced (its "[3/7]" is the
    bar's own position), or the phase's words."""
    return (item or "")[:50] or None


class _ProgressBar:
    """A click progress bar on stderr driven by the sync service's progress callbacks."""

    def __init__(self, enabled: bool, label: str = "Syncing") -> None:
        self.enabled = enabled
        self.label = label
        self._bar: Any = None

    def __call__(self, progress: SyncProgress) -> None:
        item = progress.step.name if progress.step is not None else progress.message
        self.show(progress.courses_done, progress.courses_total, item)

    def show(self, done: int, total: int, message: str) -> None:
        if not self.enabled or not total:
            return
        if self._bar is None:
            self._bar = click.progressbar(
                length=total,
                label=self.label,
                file=sys.stderr,
                show_pos=True,
                item_show_func=_bar_item,
            )
            self._bar.__enter__()
        self._bar.length = max(total, 1)
        self._bar.update(max(0, min(done, total) - self._bar.pos), current_item=message)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None
