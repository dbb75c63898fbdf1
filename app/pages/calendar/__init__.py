"""The calendar feed's public address (``/calendar/<secret>.ics``): no login, the secret is it."""

from app.pages.calendar.views import bp

__all__ = ["bp"]
