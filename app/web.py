"""Web-wide wiring: the login loader, security headers and error pages (to be written)."""

from __future__ import annotations

from flask import Flask


def register_web(app: Flask) -> None:
    from app.extensions import db, login_manager
    from app.models import User

    @login_manager.user_loader
    def load_user(user_id: str) -> User | None:
        return db.session.get(User, int(user_id)) if user_id.isdigit() else None
