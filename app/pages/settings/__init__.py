"""The Settings page: the Canvas connection."""

from app.pages.settings.views import bp

__all__ = ["bp"]
