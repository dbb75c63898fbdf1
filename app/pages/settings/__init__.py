"""The Settings page: the Canvas connection, automatic syncs, alerts and the calendar feed."""

# Their routes join the blueprint.
from app.pages.settings import alerts, automation, demo, oauth_views  # noqa: F401
from app.pages.settings.views import bp

__all__ = ["bp"]
