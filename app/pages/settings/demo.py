"""Demo mode only: "Simulate a week of Canvas" makes the simulated Canvas change at once.

``run.py --demo`` puts the simulator's ``simulate_week`` into ``DEMO_SIMULATE_WEEK``; outside
the demo there is no such setting and the route is a 404, so a real deployment never offers it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort, current_app, flash, redirect, url_for
from flask_login import login_required
from flask_wtf import FlaskForm

from app.pages.settings.views import bp


def simulate_week_hook() -> Callable[[], list[str]] | None:
    """The demo's "a week of Canvas" action, or None outside the demo."""
    config = current_app.config
    hook = config.get("DEMO_SIMULATE_WEEK")
    return hook if config.get("DEMO_MODE") and callable(hook) else None


@bp.post("/demo/simulate-week")
@login_required
def simulate_week() -> Any:
    hook = simulate_week_hook()
    if hook is None:
        abort(404)
    if not FlaskForm().validate_on_submit():
        flash("The form expired. Reload the page and try again.", "error")
        return redirect(url_for("dashboard.index"))
    done = hook()
    if done:
        flash(f"A week passed in the simulated Canvas: {'; '.join(done)}. "
              "Click Sync Canvas to see what changed.", "success")
    else:
        flash("Nothing changed in the simulated Canvas this time.", "info")
    return redirect(url_for("dashboard.index"))
