"""The ``user`` and ``canvas`` command groups: how operators and outside checks drive the app.

    flask --app app user create EMAIL --password PASSWORD
    flask --app app canvas connect EMAIL --url URL --token TOKEN
    flask --app app canvas test EMAIL
    flask --app app canvas disconnect EMAIL
    flask --app app canvas sync EMAIL [--incremental] [--json]
    flask --app app canvas sync --all [--incremental] [--json]

Expected failures (unknown email, bad URL, rejected token, Canvas down, a sync already
running) print one ``Error: ...`` line on stderr and exit 1; usage mistakes exit 2.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from datetime import UTC, datetime
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup

logger = logging.getLogger(__name__)

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
)
POLL_INTERVAL_S = 0.5


def register_cli(app: Flask) -> None:
    """Add the ``user`` and ``canvas`` groups to ``flask``."""
    app.cli.add_command(user_group)
    app.cli.add_command(canvas_group)


def _configure_logging(verbose: bool) -> None:
    """Logging goes to stderr; quiet by default so expected failures stay one line."""
    level_name = os.environ.get("GRADESYNC_LOG_LEVEL", "INFO" if verbose else "ERROR").upper()
    level = logging.getLevelNamesMapping().get(level_name, logging.ERROR)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _one_line(message: object) -> str:
    """A message as one plain line (terminals without UTF-8 get the arrows as '>')."""
    text = " ".join(str(message).split())
    return text.replace("→", ">").replace("…", "...")


class CLIError(click.ClickException):
    """An expected failure: printed as ``Error: <message>`` on stderr, exit status 1."""

    def __init__(self, message: object) -> None:
        super().__init__(_one_line(message))


def _get_user(email: str) -> Any:
    from app.accounts import find_user

    user = find_user(email)
    if user is None:
        raise CLIError(
            f"no account for {email!r}: create one with "
            "'flask --app app user create EMAIL --password PASSWORD'"
        )
    return user


# --- user ------------------------------------------------------------------------------------


@click.group("user", cls=AppGroup)
@click.option("-v", "--verbose", is_flag=True, help="Log what happens (to stderr).")
def user_group(verbose: bool) -> None:
    """Manage GradeSync accounts."""
    _configure_logging(verbose)


@user_group.command("create")
@click.argument("email")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="The password (asked for when omitted, so it stays out of shell history).",
)
def user_create(email: str, password: str) -> None:
    """Create an account for EMAIL."""
    from sqlalchemy.exc import IntegrityError

    from app.accounts import AccountError, create_user
    from app.extensions import db

    try:
        user = create_user(email, password)
    except AccountError as exc:
        raise CLIError(exc) from None
    except IntegrityError:
        db.session.rollback()
        raise CLIError(f"an account for {email} already exists") from None
    click.echo(f"Created user {user.email} (id {user.id}).")


# --- canvas ----------------------------------------------------------------------------------


@click.group("canvas", cls=AppGroup)
@click.option("-v", "--verbose", is_flag=True, help="Log what happens (to stderr).")
def canvas_group(verbose: bool) -> None:
    """Connect accounts to Canvas and sync their grades."""
    _configure_logging(verbose)


@canvas_group.command("connect")
@click.argument("email")
@click.option(
    "--url", required=True, help="The Canvas address, e.g. https://school.instructure.com"
)
@click.option(
    "--token",
    prompt="Canvas access token",
    hide_input=True,
    envvar="GRADESYNC_CANVAS_TOKEN",
    help="A Canvas access token (asked for when omitted; or set GRADESYNC_CANVAS_TOKEN).",
)
def canvas_connect(email: str, url: str, token: str) -> None:
    """Check URL and TOKEN with Canvas, then save them for EMAIL."""
    from app.connections import CanvasConnectionError, connect_canvas
    from app.security import InvalidCanvasToken, InvalidCanvasURL

    user = _get_user(email)
    try:
        profile = connect_canvas(user, url, token)
    except InvalidCanvasURL as exc:
        raise CLIError(f"bad Canvas URL: {exc}") from None
    except InvalidCanvasToken as exc:
        raise CLIError(exc) from None
    except CanvasConnectionError as exc:
        raise CLIError(exc) from None
    name = profile.get("name") or f"Canvas user {profile['id']}"
    click.echo(f"Connected {user.email} to {user.canvas_base_url} as {name}.")


@canvas_group.command("test")
@click.argument("email")
def canvas_test(email: str) -> None:
    """Check EMAIL's saved Canvas credentials with Canvas."""
    from app.connections import CanvasConnectionError, check_canvas_connection
    from app.security import InvalidCanvasToken, InvalidCanvasURL

    user = _get_user(email)
    try:
        profile = check_canvas_connection(user)
    except (CanvasConnectionError, InvalidCanvasURL, InvalidCanvasToken) as exc:
        raise CLIError(exc) from None
    name = profile.get("name") or f"Canvas user {profile['id']}"
    click.echo(f"The connection works: {user.canvas_base_url} knows this token as {name}.")


@canvas_group.command("disconnect")
@click.argument("email")
def canvas_disconnect(email: str) -> None:
    """Delete EMAIL's Canvas URL and token (synced grades are kept)."""
    from app.connections import disconnect_canvas

    user = _get_user(email)
    disconnect_canvas(user)
    click.echo(f"Disconnected {user.email} from Canvas; the token is deleted.")


@canvas_group.command("sync")
@click.argument("email", required=False)
@click.option("--all", "all_users", is_flag=True, help="Sync every connected account.")
@click.option("--incremental", is_flag=True, help="Fetch only what changed since the last sync.")
@click.option("--json", "as_json", is_flag=True, help="End with one JSON line of results.")
def canvas_sync(email: str | None, all_users: bool, incremental: bool, as_json: bool) -> None:
    """Sync EMAIL's gradebook from Canvas now (or every account with --all).

    Exit status 0 only when the sync succeeded.
    """
    if all_users and email:
        raise click.UsageError("give either EMAIL or --all, not both")
    if not all_users and not email:
        raise click.UsageError("give the EMAIL of the account to sync, or --all")
    if all_users:
        ok = _sync_all(incremental, as_json)
    else:
        ok = _sync_one(email or "", incremental, as_json)
    if not ok:
        sys.exit(1)


def _sync_one(email: str, incremental: bool, as_json: bool) -> bool:
    from app import jobs

    jobs.recover_on_start(current_app._get_current_object())  # type: ignore[attr-defined]
    try:
        user = _get_user(email)
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
    """The contract's eight keys, filled in when a failed run did not report them."""
    status = "succeeded" if results.get("status") == "succeeded" else "failed"
    out: dict[str, Any] = {"status": status}
    for key in ("courses", "assignments", "requests", "throttled", "retries"):
        value = results.get(key)
        out[key] = int(value) if isinstance(value, int | float) else 0
    duration = results.get("duration_s")
    out["duration_s"] = round(float(duration if isinstance(duration, int | float) else elapsed), 3)
    error = results.get("error")
    if status == "failed":
        out["error"] = _one_line(error or "the sync failed")
    else:
        out["error"] = None
    return {key: out[key] for key in JSON_KEYS}


def _sync_all(incremental: bool, as_json: bool) -> bool:
    """Start a sync for every connected account; with the in-process runner, wait for them."""
    from sqlalchemy import select

    from app import jobs
    from app.extensions import db
    from app.models import SyncRun, User

    jobs.recover_on_start(current_app._get_current_object())  # type: ignore[attr-defined]
    before = datetime.now(UTC)
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
    finished = _wait_for(ours)
    failed = 0
    results = []
    for run_id in ours:
        run = db.session.get(SyncRun, run_id)
        email = emails.get(run.user_id, run.user_id)
        results.append({"run": run.id, "email": email, "status": run.status, "error": run.error})
        if run.status != "succeeded":
            failed += 1
            click.echo(f"Error: sync failed for {email}: {_one_line(run.error)}", err=True)
    click.echo(f"{len(ours) - failed} of {len(ours)} sync(s) succeeded.")
    if as_json:
        status = "succeeded" if finished and not failed else "failed"
        click.echo(json.dumps({"status": status, "users": len(ours), "runs": results}))
    return finished and failed == 0


def _wait_for(run_ids: list[int]) -> bool:
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


def _bar_item(message: str | None) -> str | None:
    """The course being synced, without the "[3/7]" the bar already shows."""
    text = re.sub(r"^\[\d+/\d+\]\s*", "", message or "")
    return text[:50] or None


class _ProgressBar:
    """A click progress bar on stderr driven by the sync service's progress callbacks."""

    def __init__(self, enabled: bool, label: str = "Syncing") -> None:
        self.enabled = enabled
        self.label = label
        self._bar: Any = None

    def __call__(self, progress: Any) -> None:
        self.show(progress.courses_done, progress.courses_total, progress.message)

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
