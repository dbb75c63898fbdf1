"""``/metrics``: the Prometheus exposition, when ``METRICS_ENABLED``, behind ``METRICS_TOKEN``
(``Authorization: Bearer <token>``). With ``METRICS_PORT`` the metrics are served on that port
instead (``gunicorn.conf.py``) and this address answers 404."""

from __future__ import annotations

import hmac

from flask import Response, abort, current_app, request

from app import metrics
from app.extensions import csrf
from app.ops.overview import DatabaseCollector
from app.pages.ops.blueprint import bp


@bp.get("/metrics")
@csrf.exempt
def metrics_view() -> Response:
    config = current_app.config
    if not metrics.enabled() or config.get("METRICS_PORT") or not config.get("METRICS_TOKEN"):
        abort(404)
    given = request.headers.get("Authorization", "")
    expected = f"Bearer {config['METRICS_TOKEN']}"
    if not hmac.compare_digest(given.encode(), expected.encode()):
        return Response("a metrics token is required\n", status=401, mimetype="text/plain",
                        headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    return Response(metrics.exposition(DatabaseCollector(app)), mimetype=None,
                    content_type=metrics.CONTENT_TYPE, headers={"Cache-Control": "no-store"})
