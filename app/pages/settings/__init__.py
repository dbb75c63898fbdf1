"""The Settings page: the Canvas connection, automatic syncs and the calendar feed."""

from app.pages.settings import automation  # noqa: F401  (its routes join the blueprint)
from app.pages.settings.views import bp

__all__ = ["bp"]
