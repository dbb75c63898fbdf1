"""The sync blueprint."""

from flask import Blueprint

bp = Blueprint("sync", __name__)

from app.pages.sync import views  # noqa: E402, F401
