"""The Settings page: the Canvas connection, automatic syncs, alerts and the calendar feed."""

from app.pages.settings import alerts, automation  # noqa: F401  (their routes join the blueprint)
from app.pages.settings.views import bp

__all__ = ["bp"]
