"""``/settings/export/...``: the student's data as downloads (CSV per table, or one JSON)."""

from __future__ import annotations

from flask import Blueprint, Response, abort
from flask_login import current_user, login_required

from app.models import utcnow
from app.pages.export import data

bp = Blueprint("export", __name__, url_prefix="/settings/export")


def _download(body: str, filename: str, mimetype: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.get("/gradesync.json")
@login_required
def as_json() -> Response:
    body = data.export_json(current_user.id, current_user.email, utcnow())
    return _download(body, "gradesync.json", "application/json")


@bp.get("/<name>.csv")
@login_required
def as_csv(name: str) -> Response:
    columns = data.TABLES.get(name)
    if columns is None:
        abort(404)
    records = data.export_rows(current_user.id)[name]
    return _download(data.write_csv(records, columns), f"gradesync-{name}.csv",
                     "text/csv")
