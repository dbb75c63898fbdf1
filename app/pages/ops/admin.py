"""``/admin``: the operator's view, for accounts marked admin (``flask user create --admin``).

Connections by status, expiring tokens, scheduler lag, the last day's failures by error kind
and Canvas host, the 20 stalest accounts. No student's grades: nothing here reads a course's
or an assignment's scores.
"""

from __future__ import annotations

from flask import abort, current_app, render_template
from flask_login import current_user, login_required

from app.ops.overview import overview
from app.pages.ops.blueprint import bp


@bp.get("/admin")
@login_required
def admin() -> str:
    if not current_user.is_admin:
        abort(404)  # not even a hint that the page exists
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    return render_template("ops/admin.html", view=overview(app),
                           tick_s=float(app.config["SCHEDULER_TICK_S"]))
