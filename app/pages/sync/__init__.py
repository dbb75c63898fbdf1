"""The sync pages: start a sync, its live progress, and the history."""

from app.pages.sync.views import bp

__all__ = ["bp"]
