"""The dashboard (terms, courses, grades), the course page and the what-if calculator."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request
from flask_login import current_user, login_required

from app.models import Course
from app.pages.common import get_owned_or_404
from app.pages.dashboard import course_page, view_data
from app.pages.dashboard import what_if as calculator
from app.pages.inputs import BadJSON, parse_json_body

bp = Blueprint("dashboard", __name__)


@bp.get("/")
@login_required
def index() -> str:
    return render_template("dashboard/index.html", view=view_data.build_dashboard(current_user))


@bp.get("/courses/<int:course_id>")
@login_required
def course(course_id: int) -> str:
    row = get_owned_or_404(Course, course_id)
    return render_template(
        "dashboard/course.html",
        view=course_page.build_course_page(row, request.args.get("period")),
        assumptions=calculator.ASSUMPTION_CHOICES,
        margin=calculator.EXTRA_CREDIT_MARGIN,
    )


@bp.post("/courses/<int:course_id>/what-if")
@login_required
def what_if(course_id: int) -> Any:
    """Recompute the course grade with hypothetical scores; synced data is never changed.

    Body: ``{"scores": {"<assignment id>": 9.5, ...},
    "target": {"assignment_id": id, "percent": 90}}`` (target optional). ``?period=<id>``
    answers for that grading period's grade, ``?period=all`` (or none) for the course total.
    """
    row = get_owned_or_404(Course, course_id)
    try:
        payload = parse_json_body(request.get_data())
    except BadJSON as exc:
        return {"error": str(exc)[:1].upper() + str(exc)[1:] + "."}, 400
    if not isinstance(payload, dict):
        return {"error": "Send a JSON object with a 'scores' mapping."}, 400
    return calculator.what_if(row, payload.get("scores"), payload.get("target"),
                              period=request.args.get("period"))


@bp.app_template_filter("pct")
def pct(value: float | None) -> str:
    """A percentage with two decimals, or a dash when there is none."""
    return "—" if value is None else f"{value:.2f}%"


@bp.app_template_filter("num")
def num(value: float | None) -> str:
    """A score without useless decimals: 9, 9.5, 9.25."""
    if value is None:
        return "—"
    return f"{value:.2f}".rstrip("0").rstrip(".")
