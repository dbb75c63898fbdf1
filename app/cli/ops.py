"""Operators' commands (issue 23): ``flask worker-check`` (for a container's health probe),
``flask user delete`` / ``user export`` (a student's right to leave) and ``flask retention
prune``."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from app.cli.common import CLIError


@click.command("worker-check")
@click.option("--timeout", default=5.0, show_default=True, type=click.FloatRange(0.1, 60),
              help="Seconds to wait for a worker's answer.")
@with_appcontext
def worker_check_command(timeout: float) -> None:
    """Exit 0 only when a Celery worker answers a ping within TIMEOUT seconds."""
    from app.ops.health import ping_workers

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if not app.config.get("CELERY_BROKER_URL"):
        raise CLIError("CELERY_BROKER_URL is not set: there is no worker to check")
    try:
        workers = ping_workers(app, timeout)
    except Exception as exc:  # noqa: BLE001 - broker down: one line, exit 1
        raise CLIError(f"the broker did not answer ({type(exc).__name__})") from None
    if not workers:
        raise CLIError(f"no Celery worker answered within {timeout:g} s")
    click.echo(f"{len(workers)} worker(s) answered: {', '.join(workers)}")


@click.command("delete")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def user_delete_command(email: str, yes: bool) -> None:
    """Delete EMAIL's account and every row of theirs, after revoking their Canvas sign-ins."""
    from app.cli.common import get_user
    from app.ops.erase import DeletionRefused, delete_account

    user = get_user(email)
    if not yes:
        click.confirm(f"Delete the account {user.email} and all of its data? This cannot be "
                      "undone", abort=True)
    try:
        report = delete_account(user)
    except DeletionRefused as exc:
        raise CLIError(exc) from None
    for line in report.lines():
        click.echo(line)


@click.command("export")
@click.argument("email")
@click.option("--csv", "table", type=click.Choice(["courses", "assignments", "grade_events"]),
              help="One table as CSV instead of everything as JSON.")
def user_export_command(email: str, table: str | None) -> None:
    """Print EMAIL's data: the same export as Settings' download (JSON, or one CSV table)."""
    from app.cli.common import get_user
    from app.models import utcnow
    from app.pages.export import data

    user = get_user(email)
    if table:
        click.echo(data.write_csv(data.export_rows(user.id)[table], data.TABLES[table]),
                   nl=False)
    else:
        click.echo(data.export_json(user.id, user.email, utcnow()), nl=False)


@click.group("retention", cls=AppGroup)
def retention_group() -> None:
    """Keep grade changes and sync history only as long as configured."""


@retention_group.command("prune")
def retention_prune_command() -> None:
    """Delete grade changes and sync history older than GRADE_EVENTS_KEPT_DAYS and
    RUN_HISTORY_KEPT_DAYS (0: kept forever)."""
    from app.jobs.retention import prune

    pruned = prune(current_app._get_current_object())  # type: ignore[attr-defined]
    click.echo(f"Pruned {pruned.grade_events} grade event(s) and {pruned.runs} run(s).")
