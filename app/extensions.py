"""Flask extensions, created unbound and bound to the app in ``create_app``.

Flask-Migrate is not here: it imports Alembic (about 0.3 s), so it is bound only when a
migration command runs (:func:`app.init_migrations`).
"""

from __future__ import annotations

from typing import Any

from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy.orm import Session, scoped_session

from app.models.base import Base

db = SQLAlchemy(model_class=Base)
login_manager = LoginManager()
csrf = CSRFProtect()

# db.session (a scoped_session) or a plain Session: both proxy the same methods.
SessionLike = Session | scoped_session[Any]
