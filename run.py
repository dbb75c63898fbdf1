"""Run GradeSync with the development server.

    python run.py --demo     # SQLite + an embedded Canvas simulator + a connected demo account
    python run.py            # the app on the configured database (DATABASE_URL)

Options: ``--host`` / ``--port`` (default 127.0.0.1:5000); with ``--demo`` also ``--preset``
(the simulated student's dataset) and ``--latency`` (seconds added to every simulated Canvas
response, so the progress bar has something to show). For production, serve
``app:create_app()`` with gunicorn and run Celery workers (see the README).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import logging
import sys
from pathlib import Path

from flask import Flask
from werkzeug.serving import make_server

from config import INSTANCE_DIR, value
from demo import DemoCanvas, adopt_address, load_or_create_secret_key, sync_demo_accounts
from demo_mail import DemoMailbox

logger = logging.getLogger("gradesync.run")

# ".local" is a reserved name the e-mail validator refuses; ".example" is meant for this.
DEMO_EMAIL = "demo@gradesync.example"
DEMO_TOKEN = "demo-canvas-token"  # noqa: S105 - the simulator's, not a real Canvas token
DEMO_DB = INSTANCE_DIR / "demo.sqlite3"
DEMO_CANVAS_STATE = INSTANCE_DIR / "demo-canvas.json"  # the simulator's port and its changes
DEMO_MAIL = INSTANCE_DIR / "demo-mail.txt"  # the alert emails the demo's mailbox received
DEMO_KEY = INSTANCE_DIR / "secret_key"  # generated on the first demo start (mode 0600)
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Run the GradeSync web app.")
    parser.add_argument("--demo", action="store_true",
                        help="SQLite, an embedded Canvas simulator and a ready demo account")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=5000, help="port (0 picks a free one)")
    parser.add_argument("--preset", default="senior",
                        choices=["freshman", "senior", "heavy", "benchmark"],
                        help="the simulated student's Canvas data (demo only)")
    # 0.15 s per response makes a demo sync last a couple of seconds: long enough to watch the
    # progress bar name each course, short enough not to bore.
    parser.add_argument("--latency", type=float, default=0.15,
                        help="seconds added to each simulated Canvas response (demo only)")
    parser.add_argument("--canvas-changes-every", type=float, default=90.0,
                        help="seconds between changes in the simulated Canvas, on average "
                             "(demo only; 0 keeps it still)")
    parser.add_argument("--verbose", action="store_true",
                        help="log every request (the demo keeps the log quiet by default)")
    return parser.parse_args(argv)


def demo_password(secret_key: str | bytes) -> str:
    """The demo account's password: stable for this instance, unguessable from outside it.

    Derived from the instance's secret key, so every start prints the same login and a signed-in
    browser stays valid, while two clones never share a password.
    """
    key = secret_key.encode() if isinstance(secret_key, str) else secret_key
    digest = hmac.new(key, b"gradesync demo password", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest)[:12].decode()


def prepare_schema(app: Flask) -> None:
    """Bring the database schema up to date with the migrations."""
    import flask_migrate
    from sqlalchemy import inspect

    from app import init_migrations
    from app.extensions import db

    init_migrations(app)
    with app.app_context():
        tables = set(inspect(db.engine).get_table_names())
        if "users" in tables and "alembic_version" not in tables:
            # A database made by create_all() earlier: adopt it at the current revision.
            flask_migrate.stamp(directory=str(MIGRATIONS))
        flask_migrate.upgrade(directory=str(MIGRATIONS))


def demo_key() -> dict[str, str]:
    """The demo's SECRET_KEY: the one set in the environment, else the instance's generated one
    (the only start that may go without setting it)."""
    if value("SECRET_KEY"):
        return {}  # create_app reads it too
    return {"SECRET_KEY": load_or_create_secret_key(INSTANCE_DIR)}


def demo_account(app: Flask, canvas_url: str) -> str:
    """Create or refresh the demo user, connected to the simulator; returns its password."""
    from app.accounts import create_user, find_user
    from app.connections import connect_canvas
    from app.extensions import db

    password = demo_password(app.config["SECRET_KEY"])
    with app.app_context():
        user = find_user(DEMO_EMAIL)
        if user is None:
            user = create_user(DEMO_EMAIL, password)
        else:
            user.set_password(password)
            user.failed_logins = 0
            db.session.commit()
        # As a student connects: Canvas (the simulator) confirms the token, and its profile
        # brings the name and the time zone the due dates are shown in.
        connect_canvas(user, canvas_url, DEMO_TOKEN)
    return password


def start_simulator(preset: str, latency: float) -> DemoCanvas:
    """The simulated Canvas on this instance's saved port, with its saved changes replayed."""
    canvas = DemoCanvas(DEMO_CANVAS_STATE, DEMO_TOKEN, preset, latency)
    canvas.start()
    return canvas


def main(argv: list[str] | None = None) -> int:
    from config import ConfigError

    try:
        return serve(parse_args(argv))
    except ConfigError as exc:  # a setting to fix: one line, not a traceback
        sys.stderr.write(f"Error: {' '.join(str(exc).split())}\n")
        return 1


def serve(args: argparse.Namespace) -> int:
    """Start the app (and, with ``--demo``, its simulated Canvas) and serve until Ctrl-C."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Alembic's plugin set-up chatter would bury the demo's login line.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    if args.demo and not args.verbose:
        # One line per request (and a summary block per sync) would push the login off screen.
        for name in ("werkzeug", "app"):
            logging.getLogger(name).setLevel(logging.WARNING)
    from app import create_app

    simulator = None
    if args.demo:
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
        app = create_app({
            **demo_key(),
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{DEMO_DB}",
            "CANVAS_ALLOW_PRIVATE_HOSTS": True,
            "CELERY_BROKER_URL": None,  # the demo runs syncs in-process
            "DEMO_MODE": True,
        })
        prepare_schema(app)
        simulator = start_simulator(args.preset, args.latency)
        # Accounts connected to an earlier start's address keep their connection, moved here.
        adopt_address(app, simulator.base_url, simulator.previous_url)
        password = demo_account(app, simulator.base_url)
        # Settings offers these to accounts registered during the demo, and its "Simulate a
        # week of Canvas" button calls simulate_week.
        app.config.update(DEMO_CANVAS_URL=simulator.base_url, DEMO_CANVAS_TOKEN=DEMO_TOKEN,
                          DEMO_SIMULATE_WEEK=simulator.simulate_week)
        # Alerts arrive as email in a local mailbox (printed here, kept in demo-mail.txt).
        mailbox = DemoMailbox(DEMO_MAIL).start()
        app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=mailbox.port, MAIL_USE_TLS=False,
                          MAIL_DEFAULT_SENDER="GradeSync demo <alerts@gradesync.example>")
        if args.canvas_changes_every > 0:
            every = args.canvas_changes_every
            # Each change is followed by a quick sync of the accounts on the demo Canvas, so
            # the feed, the chart and an alert follow without a click.
            demo_app = app
            simulator.live((every / 2, every * 1.5),
                           after=lambda: sync_demo_accounts(demo_app, simulator.base_url))
    else:
        app = create_app()
    from app.jobs import recover_on_start, start_scheduler

    recover_on_start(app)  # the start-up step: runs a dead predecessor left "running"
    start_scheduler(app)  # automatic syncs, in this process (none with a broker: Celery beat)

    server = make_server(args.host, args.port, app, threaded=True)
    url = f"http://{args.host}:{server.server_port}/"
    if simulator is not None:
        app.config["PUBLIC_URL"] = url.rstrip("/")  # the unsubscribe link in alert emails
    lines = [f"GradeSync is running at {url}  (Ctrl-C to stop)"]
    if simulator is not None:
        lines += [
            f"Demo login:  {DEMO_EMAIL}  /  {password}",
            f"Simulated Canvas ({args.preset}): {simulator.base_url}  token: {DEMO_TOKEN}",
            f"Database: {DEMO_DB}  (the CLI: SECRET_KEY_FILE={DEMO_KEY} "
            f"DATABASE_URL=sqlite:///{DEMO_DB} flask --app app ...)",
            f"Alert emails: printed here and kept in {DEMO_MAIL}",
            "Log in and click Sync Canvas. New accounts find the simulated Canvas in Settings.",
        ]
    # The banner is the program's output, not a log line: it must show whatever the log level.
    sys.stdout.write("\n".join(["", *lines, ""]) + "\n")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        if simulator is not None:
            simulator.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
