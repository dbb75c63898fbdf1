"""The dashboard and course pages."""

from app.pages.dashboard.views import bp

__all__ = ["bp"]
