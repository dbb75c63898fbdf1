"""``/planner``: the next 14 days and what is overdue, with a local "done" checkbox."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.models import Assignment
from app.pages.common import get_owned_or_404
from app.pages.planner import items

bp = Blueprint("planner", __name__)


@bp.get("/planner")
@login_required
def index() -> str:
    return render_template("planner/index.html", planner=items.build_planner(current_user),
                           window_days=items.WINDOW.days)


@bp.post("/planner/done/<int:assignment_id>")
@login_required
def done(assignment_id: int) -> Any:
    """Mark an assignment done (``done=on``) or not done, here only; Canvas is not told."""
    row = get_owned_or_404(Assignment, assignment_id)
    items.set_done(current_user, row, request.form.get("done") == "on")
    return redirect(url_for("planner.index") + f"#item-{row.id}")
