"""Shared fixtures: the app on SQLite or Postgres, a clean database per test, the simulator.

The suite runs on a SQLite file by default. With ``TEST_DATABASE_URL`` set to a Postgres
server (plain ``postgresql://`` form), a fresh database is created on that server for the test
session and dropped afterwards. ``REQUIRE_POSTGRES=1`` (CI) turns "no Postgres" into an error.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

os.environ.setdefault(
    "GRADESYNC_INSTANCE_DIR", os.path.join(os.path.dirname(__file__), ".instance")
)
TEST_SECRET = "test-secret-key-not-for-production"
# The tests give their own key (only the demo generates one): the apps they build and every
# process they start (flask, gunicorn, a worker) inherit it.
os.environ.setdefault("SECRET_KEY", TEST_SECRET)

import clock  # noqa: E402

# The date the session runs on. ``GRADESYNC_NOW=2028-02-29 python -m pytest`` pins the one
# clock (clock.py) that the app and the simulator read; export() hands it on, running, to every
# server and worker a test starts. Unset, the suite runs on the real date.
clock.export()

from app import create_app  # noqa: E402
from app.extensions import db as _db  # noqa: E402
from config import normalize_database_url  # noqa: E402
from tests.auth_actions import AuthActions  # noqa: E402

PROXY_VARS = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy")


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loopback traffic to the simulator must never go through a proxy."""
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


def _marked_moment(node: Any) -> Any:
    """The moment of ``node``'s own ``clock(moment)`` marker (not one it inherits), or None."""
    marker = next((m for m in getattr(node, "own_markers", ()) if m.name == "clock"), None)
    if marker is None:
        return None
    if len(marker.args) != 1:
        raise pytest.UsageError("@pytest.mark.clock takes one aware datetime")
    return marker.args[0]


@pytest.fixture(scope="module", autouse=True)
def _module_clock(request: pytest.FixtureRequest) -> Iterator[None]:
    """A module marked ``pytestmark = pytest.mark.clock(moment)`` runs on that date, its
    module-scoped fixtures (a simulator built once) included."""
    moment = _marked_moment(request.node)
    if moment is None:
        yield
        return
    saved = clock.state()
    clock.pin(moment)
    clock.export()
    yield
    clock.restore(saved)
    clock.export()


@pytest.fixture(autouse=True)
def _clock_restored(request: pytest.FixtureRequest) -> Iterator[None]:
    """``@pytest.mark.clock(moment)`` pins the test's date; whatever a test does to the clock
    is undone after it."""
    saved = clock.state()
    moment = _marked_moment(request.node)
    if moment is not None:
        clock.pin(moment)
        clock.export()
    yield
    clock.restore(saved)
    clock.export()


@pytest.fixture
def pin_clock() -> Iterator[Any]:
    """``pin_clock(moment)`` pins the clock for the rest of the test (children included)."""
    def pin(moment: Any) -> None:
        clock.pin(moment)
        clock.export()

    yield pin
    clock.export()


def _create_postgres_database(server_url: str) -> str:
    url = make_url(normalize_database_url(server_url))
    name = f"gradesync_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def _drop_postgres_database(db_url: str) -> None:
    url = make_url(db_url)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh, empty database for this test session."""
    server = os.environ.get("TEST_DATABASE_URL")
    if not server:
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.exit("REQUIRE_POSTGRES=1 but TEST_DATABASE_URL is not set", returncode=3)
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
        return
    url = _create_postgres_database(server)
    try:
        yield url
    finally:
        _drop_postgres_database(url)


@pytest.fixture(scope="session")
def is_postgres(database_url: str) -> bool:
    return database_url.startswith("postgresql")


def make_test_config(database_url: str, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "TESTING": True,
        "SECRET_KEY": TEST_SECRET,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "WTF_CSRF_ENABLED": False,
        "CANVAS_ALLOW_PRIVATE_HOSTS": True,
        "CANVAS_ALLOWED_HOSTS": [],
        "CELERY_BROKER_URL": None,
        # The test client's host: absolute links (the OAuth redirect_uri) come from PUBLIC_URL.
        "PUBLIC_URL": "http://localhost",
    }
    config.update(overrides)
    return config


@pytest.fixture(scope="session")
def _schema(database_url: str) -> Iterator[None]:
    app = create_app(make_test_config(database_url))
    with app.app_context():
        _db.create_all()
        yield
        _db.session.remove()
        _db.engine.dispose()


def _empty_all_tables() -> None:
    tables = list(reversed(_db.metadata.sorted_tables))
    if _db.engine.dialect.name == "postgresql":
        names = ", ".join(f'"{t.name}"' for t in tables)
        with _db.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        with _db.engine.begin() as conn:
            for table in tables:
                conn.execute(table.delete())


@pytest.fixture
def app(database_url: str, _schema: None) -> Iterator[Any]:
    """The app bound to the session's database; every table is emptied after the test."""
    app = create_app(make_test_config(database_url))
    with app.app_context():
        yield app
        _db.session.remove()
        _empty_all_tables()
        _db.engine.dispose()


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture
def auth(client: Any) -> AuthActions:
    """Register, log in and log out ``client`` through the real forms (flaskr's pattern)."""
    return AuthActions(client)


@pytest.fixture
def signed_in(client: Any) -> Any:
    """``client``, signed in as a newly registered student (through the real forms)."""
    AuthActions(client).register()
    return client


@pytest.fixture
def runner(app: Any) -> Any:
    return app.test_cli_runner()


@pytest.fixture
def db(app: Any) -> Any:
    return _db


# --- The Canvas simulator -------------------------------------------------------------------

@pytest.fixture
def simulator() -> Iterator[Any]:
    """A real Canvas simulator on a loopback port, no latency, hwm 600."""
    from simulator import CanvasSimulator, SimulatorConfig

    with CanvasSimulator(SimulatorConfig()) as sim:
        yield sim


def connect_user(app: Any, simulator: Any, *, email: str, token: str, preset: str = "freshman",
                 seed: int = 0) -> tuple[Any, Any]:
    """Create a user connected to a fresh simulated student; returns (user, student)."""
    from app.accounts import create_user
    from app.connections import set_canvas_credentials

    student = simulator.add_student(token, preset=preset, seed=seed)
    user = create_user(email, "correct horse battery")
    set_canvas_credentials(user, simulator.base_url, token)
    return user, student


@pytest.fixture
def canvas_user(app: Any, simulator: Any) -> tuple[Any, Any]:
    """A user connected to a 'freshman' student on the simulator: (user, student)."""
    return connect_user(app, simulator, email="student@example.edu", token="tok-freshman-1")
