"""The planner: what is due in the next 14 days and what is overdue, across every course."""

from app.pages.planner.views import bp

__all__ = ["bp"]
