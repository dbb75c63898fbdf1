"""``flask changes EMAIL [--since ISO8601] [--json]``: the grade ledger of one account.

``--json`` prints, as its last line, one JSON array of events, oldest first:
``{"kind", "canvas_course_id", "canvas_assignment_id", "before", "after", "at"}``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click

from app.cli.common import get_user, one_line


def parse_since(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime | None:
    """An ISO 8601 moment in UTC; one without a zone is taken as UTC."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO 8601 date or time; use e.g. 2026-11-29 or "
            "2026-11-29T08:00:00Z"
        ) from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)  # the database compares in UTC
    except OverflowError:  # 0001-01-01T00:00+14:00 is before the first UTC moment
        raise click.BadParameter(
            f"{value!r} is outside the dates this command can compare; use a date between "
            "0001-01-02 and 9999-12-30"
        ) from None


@click.command("changes")
@click.argument("email")
@click.option(
    "--since",
    callback=parse_since,
    metavar="ISO8601",
    help="Only changes recorded at or after this moment (UTC unless it names a zone).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON array of events, oldest first.")
def changes_command(email: str, since: datetime | None, as_json: bool) -> None:
    """What changed in EMAIL's grades, oldest first, as the syncs recorded it."""
    from app.grades import history

    user = get_user(email)
    events = history.events_for(user.id, since=since, newest_first=False)
    if as_json:
        click.echo(json.dumps([history.as_json(e) for e in events]))
        return
    if not events:
        click.echo("No changes recorded" + (" since then." if since else " yet."))
        return
    for change in history.as_changes(user.id, events):
        effect = f", {change.effect}" if change.effect else ""
        when = change.at.strftime("%Y-%m-%d %H:%M UTC")
        click.echo(one_line(f"{when}  {change.course_name}: {change.text}{effect}"))
