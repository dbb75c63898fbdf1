"""Sign-up, sign-in and sign-out pages."""

from app.pages.auth.views import bp

__all__ = ["bp"]
