"""``/gpa``: the GPA page and its forms (scale, default credits, one course's credits)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.extensions import db
from app.grades.gpa import CUSTOM_KEY, SCALES, custom_scale_text
from app.grades.gpa_rows import goal_plan, load_scale, student_gpa
from app.models import CanvasConnection, Course
from app.pages.common import get_owned_or_404
from app.pages.gpa import saving

bp = Blueprint("gpa", __name__)

WHAT_IF_PREFIX = "try-"


def _what_if_letters() -> dict[int, str]:
    """The letters to try, from ``?try-<course id>=B+`` (blank: the course's own)."""
    letters: dict[int, str] = {}
    for name, value in request.args.items():
        if name.startswith(WHAT_IF_PREFIX) and value.strip():
            try:
                letters[int(name.removeprefix(WHAT_IF_PREFIX))] = value.strip()[:8]
            except ValueError:
                continue
    return letters


@bp.get("/gpa")
@login_required
def index() -> Any:
    report, entries = student_gpa(db.session, current_user.id)
    tried = _what_if_letters()
    what_if = None
    error = None
    owned = {entry.course.id for entry in entries}
    tried = {cid: letter for cid, letter in tried.items() if cid in owned}
    if tried:
        try:
            what_if, _ = student_gpa(db.session, current_user.id, what_if=tried)
        except ValueError as exc:
            error = str(exc)[:1].upper() + str(exc)[1:] + "."
    scale = load_scale(db.session, current_user.id)
    goal, goal_error = _goal(scale.rows[0][2] if scale.rows else 4.0)
    plan = goal_plan(db.session, current_user.id, goal) if goal is not None else None
    connections = {entry.connection.id: entry for entry in entries}
    return render_template(
        "gpa/index.html", report=report, entries=entries, what_if=what_if, tried=tried,
        what_if_error=error, scale=scale, scales=SCALES, custom_key=CUSTOM_KEY,
        custom_text=custom_scale_text(scale) if scale.key == CUSTOM_KEY else "",
        outcomes={o.course.id: o for o in report.courses},
        connections=list(connections.values()), prefix=WHAT_IF_PREFIX,
        letters=[row[0] for row in scale.rows], goal=goal, goal_error=goal_error, plan=plan,
        names={entry.course.id: entry.course.name for entry in entries},
        lows={row[0]: row[1] for row in scale.rows},
    )


def _goal(highest: float) -> tuple[float | None, str | None]:
    """The goal GPA from ``?goal=3.5``: (goal, None), (None, error) or (None, None)."""
    text = request.args.get("goal", "").strip()[:10]
    if not text:
        return None, None
    try:
        goal = float(text)
    except ValueError:
        return None, f"The goal must be a GPA such as 3.5 (not {text!r})."
    if not 0 < goal <= highest:
        return None, f"The goal must be between 0 and {highest:g} on this scale."
    return goal, None


@bp.post("/gpa/scale")
@login_required
def scale() -> Any:
    try:
        saving.save_scale(db.session, current_user.id, request.form.get("scale", ""),
                           request.form.get("custom", "")[:2000])
    except saving.GpaInputError as exc:
        flash(str(exc), "error")
    else:
        flash("Scale saved.", "success")
    return redirect(url_for("gpa.index"))


@bp.post("/gpa/courses/<int:course_id>")
@login_required
def course(course_id: int) -> Any:
    row = get_owned_or_404(Course, course_id)
    try:
        saving.save_course(db.session, row, request.form.get("credits"),
                            request.form.get("excluded") == "on",
                            request.form.get("replaces"))
    except saving.GpaInputError as exc:
        flash(f"{row.name}: {exc}", "error")
    else:
        flash(f"Saved {row.name}.", "success")
    return redirect(url_for("gpa.index"))


@bp.post("/gpa/connections/<int:connection_id>")
@login_required
def connection(connection_id: int) -> Any:
    row = get_owned_or_404(CanvasConnection, connection_id)
    try:
        saving.save_connection_default(db.session, row.id, request.form.get("credits"))
    except saving.GpaInputError as exc:
        flash(f"{row.display_name}: {exc}", "error")
    else:
        flash(f"Default credits saved for {row.display_name}.", "success")
    return redirect(url_for("gpa.index"))
