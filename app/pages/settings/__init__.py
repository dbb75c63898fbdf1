"""The Settings page: the Canvas connection, automatic syncs, alerts (and their phone and ntfy
channels) and the calendar feed."""

# Their routes join the blueprint.
from app.pages.settings import (  # noqa: F401
    alerts,
    automation,
    channels,
    demo,
    oauth_views,
)
from app.pages.settings.views import bp

__all__ = ["bp"]
