"""The Settings page: the Canvas connection."""

from app.pages.settings import oauth_views  # noqa: F401 - adds the OAuth2 routes to bp
from app.pages.settings.views import bp

__all__ = ["bp"]
