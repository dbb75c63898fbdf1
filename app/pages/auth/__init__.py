"""The auth blueprint."""

from flask import Blueprint

bp = Blueprint("auth", __name__)

from app.pages.auth import views  # noqa: E402, F401
