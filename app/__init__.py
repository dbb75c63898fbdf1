"""GradeSync: keep a student's Canvas gradebook in a SQL database.

``create_app`` only wires things together: configuration (:mod:`app.settings`), extensions,
blueprints and the CLI. It does no network or database I/O and writes no file; the only files
it reads are the ``NAME_FILE`` secrets an operator points at. Without ``SECRET_KEY`` (from the
environment or the caller's config) it refuses to start: the demo (``run.py --demo``) and the
tests pass their own.

Start-up work that touches the database is a separate, explicit step:
:func:`app.jobs.recover_on_start`, called by ``run.py``, ``app.wsgi``, the Celery worker and
the CLI's sync commands.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
from flask import Flask, g
from flask.cli import with_appcontext
from werkzeug.middleware.proxy_fix import ProxyFix

from app.settings import INSTANCE_DIR, ConfigError, load


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_path=str(INSTANCE_DIR), instance_relative_config=True)
    try:
        app.config.from_mapping(load(overrides=test_config))
    except ConfigError as exc:
        if click.get_current_context(silent=True) is not None:
            # Loaded by the ``flask`` command: one "Error: ..." line, exit 1, no traceback.
            raise click.ClickException(" ".join(str(exc).split())) from None
        raise
    if app.config.get("METRICS_ENABLED"):
        from app import metrics

        metrics.enable()
    if app.config.get("LOG_FORMAT") == "json":
        from app.logs import configure_logging

        configure_logging("json")

    from app.extensions import csrf, db, login_manager
    from app.security import TokenCipher

    _tune_engine(app)
    _trust_proxies(app)
    db.init_app(app)
    app.cli.add_command(_LazyDbGroup(app))
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message_category = "info"
    app.extensions["token_cipher"] = TokenCipher(
        app.config.get("TOKEN_ENCRYPTION_KEY") or app.config["SECRET_KEY"]
    )

    from app import db_events, models  # noqa: F401  (tables and SQLite pragmas)
    from app.pages.inputs import BoundedIntConverter

    # Before the blueprints: every <int:id> in a route is bounded to what the database holds.
    app.url_map.converters["int"] = BoundedIntConverter

    from app.pages.api import bp as api_bp
    from app.pages.api import settings_bp as api_settings_bp
    from app.pages.auth import bp as auth_bp
    from app.pages.calendar import bp as calendar_bp
    from app.pages.dashboard import bp as dashboard_bp
    from app.pages.export import bp as export_bp
    from app.pages.gpa import bp as gpa_bp
    from app.pages.install import bp as install_bp
    from app.pages.ops import bp as ops_bp
    from app.pages.planner import bp as planner_bp
    from app.pages.settings import bp as settings_bp
    from app.pages.sync import bp as sync_bp

    app.register_blueprint(api_bp)
    app.register_blueprint(api_settings_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(calendar_bp)
    app.register_blueprint(dashboard_bp)
    app.register_blueprint(ops_bp)
    app.register_blueprint(export_bp)
    app.register_blueprint(gpa_bp)
    app.register_blueprint(install_bp)
    app.register_blueprint(planner_bp)
    app.register_blueprint(settings_bp)
    app.register_blueprint(sync_bp)

    from app.cli import register_cli

    register_cli(app)

    from app.pages.common import register_web

    register_web(app)

    return app


def init_migrations(app: Flask) -> click.Group:
    """Bind Flask-Migrate to ``app`` (once) and return its ``db`` command group.

    ``run.py`` calls it before ``flask_migrate.upgrade()``; ``flask db ...`` through
    :class:`_LazyDbGroup`.
    """
    from flask_migrate import Migrate
    from flask_migrate.cli import db as db_group

    from app.extensions import db

    if "migrate" not in app.extensions:
        Migrate(app, db, directory=str(_migrations_dir()))
    group: click.Group = db_group
    return group


def _remember_db_options(directory: str | None, x_arg: tuple[str, ...]) -> None:
    g.directory = directory  # Flask-Migrate's commands read these
    g.x_arg = x_arg


class _LazyDbGroup(click.Group):
    """``flask db``: Flask-Migrate and Alembic load only when a migration command runs."""

    def __init__(self, app: Flask) -> None:
        super().__init__(
            "db",
            help="Perform database migrations (Flask-Migrate).",
            # The same options and effect as Flask-Migrate's own group.
            params=[
                click.Option(["-d", "--directory"], default=None,
                             help='Migration script directory (default is "migrations")'),
                click.Option(["-x", "--x-arg"], multiple=True,
                             help="Additional arguments consumed by custom env.py scripts"),
            ],
            callback=with_appcontext(_remember_db_options),
        )
        self._app = app

    def list_commands(self, ctx: click.Context) -> list[str]:
        return init_migrations(self._app).list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return init_migrations(self._app).get_command(ctx, cmd_name)


def _migrations_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "migrations"


def _trust_proxies(app: Flask) -> None:
    """Behind ``TRUSTED_PROXIES`` proxies, take the client address and scheme from them."""
    hops = int(app.config.get("TRUSTED_PROXIES") or 0)
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]


def _tune_engine(app: Flask) -> None:
    """Engine options per backend: SQLite waits for locks instead of failing at once."""
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        options.setdefault("connect_args", {"timeout": 30, "check_same_thread": False})
    else:
        options.setdefault("pool_pre_ping", True)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
