"""``flask gpa EMAIL [--json]``: a student's term and cumulative GPA, as the GPA page shows it.

With ``--json`` the last line printed is exactly ``{"terms": [{"term", "gpa", "credits",
"projected"}], "cumulative", "scale"}``.
"""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext

from app.cli.common import configure_logging, get_user
from app.safe_text import strip_control


@click.command("gpa")
@click.argument("email")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (the last line).")
@with_appcontext
def gpa_command(email: str, as_json: bool) -> None:
    """Show EMAIL's GPA per term and cumulative, on the scale chosen on the GPA page."""
    from app.extensions import db
    from app.grades.gpa_rows import student_gpa

    configure_logging(False)
    user = get_user(email)
    report, _entries = student_gpa(db.session, user.id)
    if as_json:
        click.echo(json.dumps(report.as_json(), ensure_ascii=False))
        return
    click.echo(f"Scale: {report.scale.label}")
    for term in report.terms:
        note = " (projected)" if term.projected else ""
        click.echo(f"{strip_control(term.term)[:40]:40}  {_gpa(term.gpa):>5}  "
                   f"{term.credits:g} credits{note}")
    note = " (includes projected letters)" if report.cumulative_projected else ""
    click.echo(f"{'Cumulative':40}  {_gpa(report.cumulative):>5}  "
               f"{report.cumulative_credits:g} credits{note}")


def _gpa(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"
