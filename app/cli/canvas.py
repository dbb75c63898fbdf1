"""``flask canvas``: connect accounts to Canvas and sync their grades.

Heavy modules (the Canvas client, the sync engine, the jobs) are imported inside the commands
that need them, so ``flask canvas --help`` and a mistyped command stay fast.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from flask.cli import AppGroup

from app.cli.common import CLIError, configure_logging, get_user, one_line
from app.safe_text import strip_control


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
@click.option("--label", default=None, help='A name for this Canvas, e.g. "State U".')
@click.option(
    "--expires-in-days",
    type=click.IntRange(0, 3650),
    default=None,
    help="Days until the token expires (Canvas shows it beside the token).",
)
def canvas_connect(
    email: str, url: str, token: str, label: str | None, expires_in_days: int | None
) -> None:
    """Check URL and TOKEN with Canvas, then save them as EMAIL's connection for URL
    (added, or updated when EMAIL already has one for that URL)."""
    from app.connections import CanvasConnectionError, connect_canvas, expiry_from_days
    from app.security import InvalidCanvasToken, InvalidCanvasURL

    user = get_user(email)
    try:
        profile = connect_canvas(
            user, url, token, label=label, expires_at=expiry_from_days(expires_in_days)
        )
    except InvalidCanvasURL as exc:
        raise CLIError(f"bad Canvas URL: {exc}") from None
    except (InvalidCanvasToken, CanvasConnectionError, ValueError) as exc:
        raise CLIError(exc) from None
    name = profile.get("name") or f"Canvas user {profile['id']}"
    click.echo(one_line(f"Connected {user.email} to {_url(url)} as {name}."))


def _url(url: str) -> str:
    from app.connections import check_canvas_url

    return check_canvas_url(url)


def _pick(user: Any, url: str | None) -> Any:
    """The connection for ``url`` (or the only one); a one-line error otherwise.

    ``url`` is matched as stored, then as the settings page would store it, so a Canvas that
    no longer resolves can still be named.
    """
    from app.connections import user_connections
    from app.security import InvalidCanvasURL

    connections = user_connections(user.id)
    found = connections
    if url is not None:
        wanted = {url.strip().rstrip("/")}
        try:
            wanted.add(_url(url))
        except InvalidCanvasURL:
            pass
        found = [c for c in connections if c.base_url in wanted]
    if not found:
        raise CLIError(f"{user.email} has no Canvas connection{' for ' + url if url else ''}")
    if len(found) > 1:
        raise CLIError(
            f"{user.email} has {len(found)} Canvas connections: choose one with --url "
            f"({', '.join(str(c.base_url) for c in found)})"
        )
    return found[0]


@canvas_group.command("connections")
@click.argument("email")
@click.option("--json", "as_json", is_flag=True, help="One JSON list instead of a table.")
def canvas_connections(email: str, as_json: bool) -> None:
    """List EMAIL's Canvas connections: url, kind, status, expiry, last sync."""
    from app.connections import connection_views

    views = connection_views(get_user(email).id)
    if as_json:
        click.echo(json.dumps([view.as_dict() for view in views]))
        return
    if not views:
        click.echo(f"{email} has no Canvas connection.")
    for view in views:
        data = view.as_dict()
        click.echo(
            f"{strip_control(view.label)}\t{view.url or '-'}\t{view.kind}\t{view.status}\t"
            f"expires {data['expires_at'] or 'unknown'}\tlast synced "
            f"{data['last_synced_at'] or 'never'}"
        )


@canvas_group.command("test")
@click.argument("email")
@click.option("--url", default=None, help="Which connection (needed when there are several).")
def canvas_test(email: str, url: str | None) -> None:
    """Check EMAIL's saved Canvas credentials with Canvas."""
    from app.connections import CanvasConnectionError, check_canvas_connection
    from app.security import InvalidCanvasToken, InvalidCanvasURL

    user = get_user(email)
    connection = _pick(user, url) if url else None
    try:
        profile = check_canvas_connection(user, connection)
    except (CanvasConnectionError, InvalidCanvasURL, InvalidCanvasToken) as exc:
        raise CLIError(exc) from None
    name = profile.get("name") or f"Canvas user {profile['id']}"
    where = connection.base_url if connection else _only_url(user)
    click.echo(one_line(f"The connection works: {where} knows this token as {name}."))


def _only_url(user: Any) -> str:
    from app.connections import default_connection

    connection = default_connection(user)
    return str(connection.base_url) if connection else "Canvas"


@canvas_group.command("disconnect")
@click.argument("email")
@click.option("--url", default=None, help="Only the connection for this Canvas address.")
def canvas_disconnect(email: str, url: str | None) -> None:
    """Delete EMAIL's Canvas tokens (or only the one for --url); synced grades are kept."""
    from app.connections import disconnect_canvas

    user = get_user(email)
    wanted = _pick(user, url).base_url if url else None
    count = disconnect_canvas(user, wanted)
    where = wanted or "Canvas"
    click.echo(
        f"Disconnected {user.email} from {where}; "
        f"{'the token is' if count == 1 else f'{count} tokens are'} deleted."
    )


@canvas_group.group("oauth-client")
def oauth_client_group() -> None:
    """Developer keys for "Connect with Canvas" (one per Canvas address)."""


@oauth_client_group.command("add")
@click.option("--url", required=True, help="The Canvas address the key belongs to.")
@click.option("--client-id", required=True, help="The developer key's id (a number).")
@click.option(
    "--client-secret",
    default=None,
    help="The developer key's secret (default: GRADESYNC_CANVAS_CLIENT_SECRET or the file "
    "named by GRADESYNC_CANVAS_CLIENT_SECRET_FILE; asked for when none is given).",
)
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    help="A scope the key allows, as Canvas writes it (url:GET|/api/v1/courses); repeat it, "
    "or give several separated by spaces. Default: GradeSync's list ('oauth-client scopes').",
)
def oauth_client_add(url: str, client_id: str, client_secret: str | None,
                     scopes: tuple[str, ...]) -> None:
    """Register (or replace) the developer key for a Canvas; the secret is stored encrypted."""
    client_secret = client_secret or _client_secret_from_env()
    from app.connections.oauth import register_client
    from app.connections.scopes import parse_scopes
    from app.security import InvalidCanvasToken, InvalidCanvasURL

    try:
        asked = parse_scopes(" ".join(scopes))
        row = register_client(url, client_id, client_secret, asked)
    except InvalidCanvasURL as exc:
        raise CLIError(f"bad Canvas URL: {exc}") from None
    except (InvalidCanvasToken, ValueError) as exc:
        raise CLIError(exc) from None
    click.echo(f"Registered developer key {row.client_id} for {row.base_url}.")


@oauth_client_group.command("list")
def oauth_client_list() -> None:
    """The registered developer keys (never their secrets)."""
    from app.connections.oauth import list_clients

    rows = list_clients()
    if not rows:
        click.echo("No developer keys are registered.")
    for row in rows:
        scopes = f"{len(row.scopes.split())} scopes of its own" if row.scopes else "default scopes"
        click.echo(f"{row.base_url}\t{row.client_id}\t{scopes}")


@oauth_client_group.command("scopes")
@click.option("--url", help="The Canvas address of a registered key (default: GradeSync's list).")
def oauth_client_scopes(url: str | None) -> None:
    """The scopes "Connect with Canvas" asks for, one a line: what a Canvas admin enables on a
    key that enforces scopes (with "Allow Include Parameters" on)."""
    from app.connections.keys import client_for, client_scopes
    from app.connections.scopes import DEFAULT_SCOPES

    scopes = DEFAULT_SCOPES
    if url:
        row = client_for(url.strip().rstrip("/")) or client_for(_url(url))
        if row is None:
            raise CLIError(f"no developer key is registered for {url}")
        scopes = client_scopes(row)
    for scope in scopes:
        click.echo(scope)


@oauth_client_group.command("remove")
@click.option("--url", required=True, help="The Canvas address whose key to remove.")
def oauth_client_remove(url: str) -> None:
    """Forget the developer key for a Canvas (connections made with it stay until they fail)."""
    from app.connections.oauth import remove_client

    if not remove_client(url.strip().rstrip("/")) and not remove_client(_url(url)):
        raise CLIError(f"no developer key is registered for {url}")
    click.echo(f"Removed the developer key for {url}.")


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


def _client_secret_from_env() -> str:
    """GRADESYNC_CANVAS_CLIENT_SECRET(_FILE) (declared in app.settings), else asked for (hidden)."""
    from app.settings import ConfigError, value

    try:
        given = value("GRADESYNC_CANVAS_CLIENT_SECRET")
    except ConfigError as exc:
        raise CLIError(exc) from None
    return given or str(click.prompt("Client secret", hide_input=True))
