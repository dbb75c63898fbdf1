"""The GPA page: term and cumulative GPA, credits, the scale, and a what-if."""

from app.pages.gpa.views import bp

__all__ = ["bp"]
