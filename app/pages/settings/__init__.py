"""The settings blueprint."""

from flask import Blueprint

bp = Blueprint("settings", __name__)

from app.pages.settings import views  # noqa: E402, F401
