"""Installable app: the web app manifest and the service worker, served from the site root.

The service worker must be served from ``/`` to control every page (a worker under
``/static/`` could only see ``/static/``). It is a static file, sent with ``no-cache`` so a
new version is picked up on the next visit. See ``app/static/sw.js`` for what it caches.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, send_from_directory

bp = Blueprint("install", __name__)


@bp.get("/manifest.webmanifest")
def manifest() -> Any:
    response = send_from_directory(current_app.static_folder or "static", "manifest.webmanifest",
                                   mimetype="application/manifest+json", max_age=3600)
    return response


@bp.get("/sw.js")
def service_worker() -> Any:
    response = send_from_directory(current_app.static_folder or "static", "sw.js",
                                   mimetype="text/javascript", max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Service-Worker-Allowed"] = "/"
    return response
