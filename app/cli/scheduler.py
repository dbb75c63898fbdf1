"""``flask scheduler run``: the automatic-sync scheduler in the foreground.

    flask --app app scheduler run           # tick every SCHEDULER_TICK_S seconds until Ctrl-C
    flask --app app scheduler run --once    # one tick, wait for its syncs, exit (tests, cron)

With a broker the tick queues the syncs for the Celery workers (then ``celery beat`` is the
usual way to tick); without one they run in this process's thread pool.
"""

from __future__ import annotations

import time

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from app.cli.common import configure_logging, one_line, require_schema
from app.extensions import db
from app.models import SyncRun, User


@click.group("scheduler", cls=AppGroup)
@click.option("-v", "--verbose", is_flag=True, help="Log what happens (to stderr).")
def scheduler_group(verbose: bool) -> None:
    """Run automatic (scheduled) syncs."""
    configure_logging(verbose)


@scheduler_group.command("run")
@click.option("--once", is_flag=True, help="Run one tick, wait for its syncs, then exit.")
def scheduler_run(once: bool) -> None:
    """Start an incremental sync for every account that is due, every tick."""
    from app import jobs
    from app.jobs.scheduler import tick, tick_seconds

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    require_schema()  # a tick logs database errors and carries on: say the fix once, here
    jobs.recover_on_start(app)
    if once:
        if not _report(tick(app)):
            raise SystemExit(1)
        return
    interval = tick_seconds(app)
    click.echo(f"Scheduler running: a tick every {interval:.0f} s (Ctrl-C to stop).")
    try:
        while True:
            started = time.monotonic()
            if ids := tick(app):
                click.echo(f"Started {len(ids)} scheduled sync(s).")
            time.sleep(max(0.0, interval - (time.monotonic() - started)))
    except KeyboardInterrupt:
        click.echo("Scheduler stopped; syncs already started in this process stop with it.")


def _report(ids: list[int]) -> bool:
    """Print what one tick started; with the in-process runner, wait and print the outcome."""
    from app import jobs
    from app.cli.sync import wait_for_runs

    if not ids:
        click.echo("No account is due for a scheduled sync.")
        return True
    if isinstance(jobs.get_runner(), jobs.CeleryRunner):
        click.echo(f"Queued {len(ids)} scheduled sync(s) for the Celery workers.")
        return True
    finished = wait_for_runs(ids)
    failed = 0
    rows = db.session.execute(
        select(SyncRun, User.email).join(User, User.id == SyncRun.user_id)
        .where(SyncRun.id.in_(ids)).order_by(SyncRun.id)
    ).all()
    for run, email in rows:
        click.echo(f"Scheduled sync run {run.id} ({run.kind}) for {email}: {run.status}")
        if run.status != "succeeded":
            failed += 1
            click.echo(f"Error: scheduled sync failed for {email}: {one_line(run.error)}",
                       err=True)
    click.echo(f"{len(ids) - failed} of {len(ids)} scheduled sync(s) succeeded.")
    return finished and failed == 0
