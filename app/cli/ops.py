"""``flask worker-check``: whether a Celery worker answers (for a container's health probe)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

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
