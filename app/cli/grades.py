"""``flask grades EMAIL [--json]``: a student's grades, ours beside Canvas's, per period.

The numbers are the grade check's (:mod:`app.grades.check`): the same the dashboard shows.
With ``--json`` the last line printed is one JSON array, one object per course.
"""

from __future__ import annotations

import json
from typing import Any

import click
from flask.cli import with_appcontext

from app.cli.common import configure_logging, get_user
from app.safe_text import strip_control


@click.command("grades")
@click.argument("email")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array (the last line).")
@with_appcontext
def grades_command(email: str, as_json: bool) -> None:
    """Show EMAIL's course grades (ours and Canvas's), course and grading periods."""
    from app.extensions import db
    from app.grades.check import course_reports

    configure_logging(False)
    user = get_user(email)
    from sqlalchemy import select

    from app.models import Term

    reports = course_reports(db.session, user.id)
    terms = {t.id: t.name for t in db.session.scalars(select(Term).where(Term.user_id == user.id))}
    rows = [_course_json(report, terms) for report in reports]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    if not rows:
        click.echo(f"{email}: no courses synced yet (run 'flask --app app canvas sync {email}').")
        return
    click.echo(f"{'Course':40}  {'Ours':>8}  {'Canvas':>8}  {'Letter':6}  Note")
    for row, report in zip(rows, reports, strict=True):
        note = "estimate (totals hidden)" if report.hidden else (
            "DIFFERS" if row["differs"] else
            "Canvas updating (grade just changed)" if report.settling else "")
        click.echo(f"{strip_control(row['name'])[:40]:40}  {_pct(row['current_score']):>8}  "
                   f"{_pct(row['canvas_current_score']):>8}  {row['letter'] or '—':6}  {note}")
        for period in row["grading_periods"]:
            title = ("  " + strip_control(period["title"]))[:40]
            click.echo(f"{title:40}  {_pct(period['current_score']):>8}  "
                       f"{_pct(period['canvas_current_score']):>8}")


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}%"


def _course_json(report: Any, terms: dict[int, str]) -> dict[str, Any]:
    """One course: the total over all periods is null where Canvas hides it
    (``totals_for_all_periods`` false); ``letter`` is Canvas's own; ``estimate`` is true where
    the teacher hid the totals in Canvas, so the score is GradeSync's own estimate."""
    course = report.course
    total = report.shows_total
    return {
        "canvas_course_id": course.canvas_course_id,
        "name": course.name,
        "term": terms.get(course.term_id) if course.term_id is not None else None,
        "concluded": bool(course.concluded),
        "estimate": bool(report.hidden),
        "current_score": report.current_score if total else None,
        "final_score": report.final_score if total else None,
        "canvas_current_score": report.canvas_current_score,
        "letter": report.letter,
        "totals_for_all_periods": total,
        "weighted_periods": bool(course.has_weighted_grading_periods),
        "grading_periods": [
            {"id": p.id, "title": p.title, "weight": p.weight, "is_closed": p.is_closed,
             "is_current": p.is_current, "current_score": p.current_score,
             "final_score": p.final_score, "canvas_current_score": p.canvas_current_score,
             "letter": p.canvas_letter}
            for p in report.periods
        ],
        "differs": report.flagged,  # not while Canvas may still be recomputing its total
    }
