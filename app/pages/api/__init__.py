"""The read-only JSON API (``/api/v1``) and the Settings routes for its personal tokens."""

from app.pages.api.settings_views import settings_bp
from app.pages.api.views import bp

__all__ = ["bp", "settings_bp"]
