"""``flask canvas``: connect accounts to Canvas and sync their grades.

Heavy modules (the Canvas client, the sync engine, the jobs) are imported inside the commands
that need them, so ``flask canvas --help`` and a mistyped command stay fast.
"""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from app.cli.common import CLIError, configure_logging, get_user


@click.group("canvas", cls=AppGroup)
@click.option("-v", "--verbose", is_flag=True, help="Log what happens (to stderr).")
def canvas_group(verbose: bool) -> None:
    """Connect accounts to Canvas and sync their grades."""
    configure_logging(verbose)


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

    user = get_user(email)
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

    user = get_user(email)
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

    user = get_user(email)
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
    from app.cli.sync import sync_all, sync_one

    if all_users:
        ok = sync_all(incremental, as_json)
    else:
        ok = sync_one(email or "", incremental, as_json)
    if not ok:
        sys.exit(1)
