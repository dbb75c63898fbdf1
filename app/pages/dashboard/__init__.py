"""The dashboard blueprint."""

from flask import Blueprint

bp = Blueprint("dashboard", __name__)

from app.pages.dashboard import views  # noqa: E402, F401
