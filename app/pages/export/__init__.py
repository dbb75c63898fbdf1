"""Export: the student's courses, assignments, grades and change ledger as CSV or JSON."""

from app.pages.export.views import bp

__all__ = ["bp"]
