"""``/healthz`` (alive, no database call) and ``/readyz`` (ready to serve, or 503 naming what
is failing)."""

from __future__ import annotations

from flask import Response, current_app, jsonify

from app.extensions import csrf
from app.ops.health import readiness
from app.pages.ops.blueprint import bp


@bp.get("/healthz")
@csrf.exempt
def healthz() -> Response:
    """The process answers: nothing else is checked (no database, no broker)."""
    return Response("ok\n", mimetype="text/plain", headers={"Cache-Control": "no-store"})


@bp.get("/readyz")
@csrf.exempt
def readyz() -> tuple[Response, int]:
    state = readiness(current_app._get_current_object())  # type: ignore[attr-defined]
    response = jsonify(state.as_dict())
    response.headers["Cache-Control"] = "no-store"
    return response, 200 if state.ready else 503
