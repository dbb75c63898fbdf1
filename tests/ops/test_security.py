"""Security: headers, cookies, CSRF on every form, error pages, SSRF, and where tokens may go."""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import make_test_config
from sqlalchemy import select, text

from app import create_app
from app.connections import get_canvas_token
from app.extensions import db as _db
from app.models import User
from tests.auth_actions import AuthActions
from tests.sync_helpers import only_connection

SECRET_TOKEN = "7~SecretCanvasToken-5up3r-s3cr3t-XYZ9"  # distinctive, easy to grep for


@pytest.fixture
def make_app(app: Any, database_url: str) -> Iterator[Any]:
    """Build a variant of the app (other config) on the same test database."""
    made = []

    def _make(**overrides: Any) -> Any:
        variant = create_app(make_test_config(database_url, **overrides))
        made.append(variant)
        return variant

    yield _make
    for variant in made:
        with variant.app_context():
            _db.session.remove()
            _db.engine.dispose()


def _signed_in_client(flask_app: Any) -> Any:
    client = flask_app.test_client()
    AuthActions(client).register()
    return client


# --- Headers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "signed_in", "status"),
    [
        ("/login", False, 200),
        ("/register", False, 200),
        ("/static/style.css", False, 200),
        ("/no/such/page", False, 404),
        ("/logout", False, 405),
        ("/settings", True, 200),
        ("/settings", False, 302),
    ],
)
def test_security_headers_on_every_response(client, path, signed_in, status):
    if signed_in:
        AuthActions(client).register()
    response = client.get(path)
    assert response.status_code == status
    headers = response.headers
    csp = headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"
    assert "camera=()" in headers["Permissions-Policy"]
    if signed_in:
        assert headers["Cache-Control"] == "no-store"


def test_pages_have_no_inline_scripts_or_styles(client):
    """The CSP forbids inline code, so a page that relied on it would silently break."""
    AuthActions(client).register()
    for path in ("/login", "/settings"):
        page = client.get(path).get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)
        assert " style=" not in page and "<style" not in page


def test_hsts_only_when_served_over_https(make_app):
    plain = make_app().test_client().get("/login")
    assert "Strict-Transport-Security" not in plain.headers
    secure = make_app(SESSION_COOKIE_SECURE=True).test_client().get("/login")
    assert "max-age=" in secure.headers["Strict-Transport-Security"]


# --- Cookies -------------------------------------------------------------------------------


def _set_cookies(response: Any) -> dict[str, str]:
    return {h.split("=", 1)[0]: h for h in response.headers.getlist("Set-Cookie")}


def test_session_cookie_is_httponly_and_samesite_lax(client):
    auth = AuthActions(client)
    auth.register()
    auth.logout()
    cookies = _set_cookies(auth.login(remember="y"))
    for name in ("session", "remember_token"):
        assert "HttpOnly" in cookies[name]
        assert "SameSite=Lax" in cookies[name]
        assert "Secure" not in cookies[name]


def test_cookies_are_secure_when_configured(make_app):
    secure_app = make_app(SESSION_COOKIE_SECURE=True)
    client = secure_app.test_client()
    auth = AuthActions(client)
    auth.register()
    auth.logout()
    cookies = _set_cookies(auth.login(remember="y"))
    for name in ("session", "remember_token"):
        assert "Secure" in cookies[name]
        assert "HttpOnly" in cookies[name]


# --- CSRF ----------------------------------------------------------------------------------


def _csrf_token(page: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'name="csrf_token" value="([^"]+)"', page
    )
    assert match, "no CSRF token in the page"
    return match.group(1)


def _post_rules(flask_app: Any) -> list[str]:
    """Every URL of the app that accepts POST (other blueprints' forms included)."""
    paths = []
    for rule in flask_app.url_map.iter_rules():
        if "POST" not in (rule.methods or ()):
            continue
        values = {arg: 1 for arg in rule.arguments}
        paths.append(rule.build(values, append_unknown=False)[1])
    return sorted(paths)


def test_every_state_changing_form_refuses_a_post_without_the_csrf_token(make_app, db):
    csrf_app = make_app(WTF_CSRF_ENABLED=True)
    client = csrf_app.test_client()
    # Positive control: with the token from the page, registering works.
    token = _csrf_token(client.get("/register").get_data(as_text=True))
    ok = client.post(
        "/register",
        data={
            "csrf_token": token,
            "email": "csrf@example.edu",
            "password": "correct horse battery",
            "confirm": "correct horse battery",
        },
    )
    assert ok.status_code == 302
    paths = _post_rules(csrf_app)
    assert {
        "/register",
        "/login",
        "/logout",
        "/settings",
        "/settings/test",
        "/settings/disconnect",
    } <= set(paths)
    # The one exemption: the alert emails' one-click unsubscribe, which mail clients POST
    # without a page (RFC 8058). Its signed token is the credential: a forged one is a 404.
    exempt = [path for path in paths if path.startswith("/alerts/unsubscribe/")]
    assert exempt == ["/alerts/unsubscribe/1"]
    assert client.post(exempt[0]).status_code == 404
    # And the read-only API: it takes no session cookie at all, only a Bearer token, so a page
    # of another site cannot act with the student's cookies; without a token it is a 401.
    api = [path for path in paths if path.startswith("/api/v1/")]
    for path in api:
        assert client.post(path).status_code == 401, path
    exempt += api
    for path in (p for p in paths if p not in exempt):
        response = client.post(path, data={"email": "x@example.edu", "password": "whatever1"})
        assert response.status_code == 400, path
        assert "The form expired" in response.get_data(as_text=True), path
        bad = client.post(path, data={"csrf_token": "forged"})
        assert bad.status_code == 400, path
    # Still signed in: the refused logout did nothing.
    assert client.get("/settings").status_code == 200
    user = db.session.scalar(select(User).where(User.email == "csrf@example.edu"))
    assert user is not None and only_connection(user) is None


def test_logout_and_settings_work_with_the_token(make_app):
    client = make_app(WTF_CSRF_ENABLED=True).test_client()
    token = _csrf_token(client.get("/register").get_data(as_text=True))
    client.post(
        "/register",
        data={
            "csrf_token": token,
            "email": "a@example.edu",
            "password": "correct horse battery",
            "confirm": "correct horse battery",
        },
    )
    page = client.get("/settings").get_data(as_text=True)
    response = client.post("/logout", data={"csrf_token": _csrf_token(page)})
    assert response.status_code == 302
    assert client.get("/settings").status_code == 302


# --- Error pages ---------------------------------------------------------------------------


def test_too_large_request_gets_the_friendly_413_page(client):
    response = client.post("/login", data={"email": "a" * (3 * 1024 * 1024), "password": "x"})
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "Too much data" in page
    assert "<!doctype html>" in page


def test_an_unexpected_error_shows_a_friendly_500_without_a_traceback(make_app, caplog):
    broken = make_app(PROPAGATE_EXCEPTIONS=False)

    @broken.route("/boom")
    def boom() -> str:
        raise RuntimeError("secret internals " + SECRET_TOKEN)

    with caplog.at_level(logging.ERROR):
        response = broken.test_client().get("/boom")
    assert response.status_code == 500
    page = response.get_data(as_text=True)
    assert "Something went wrong" in page
    assert "Traceback" not in page and "secret internals" not in page
    assert "RuntimeError" in caplog.text  # logged for the operator


def test_json_callers_get_json_errors(client):
    response = client.get("/no/such/page", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.get_json()["status"] == 404


# --- SSRF ----------------------------------------------------------------------------------

FAKE_DNS = {
    "canvas.example.edu": ["93.184.216.34"],
    "loopback.example": ["127.0.0.1"],
    "metadata.example": ["169.254.169.254"],
    "intranet.example": ["10.1.2.3"],
    "v6-private.example": ["fd12:3456::1"],
    "mixed.example": ["93.184.216.34", "192.168.0.10"],
}


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Resolve names from FAKE_DNS (IP literals as themselves); nothing reaches a real DNS."""

    def getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        try:
            addresses = [str(ipaddress.ip_address(host.strip("[]")))]
        except ValueError:
            if host not in FAKE_DNS:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
            addresses = FAKE_DNS[host]
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, 0))
            for a in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture
def canvas_never_called(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record (instead of making) any call to Canvas."""
    calls: list[str] = []

    def verify(base_url: str, token: str) -> dict:
        calls.append(base_url)
        return {"id": 42, "name": "Public Canvas Student"}

    monkeypatch.setattr("app.connections.records.verify_canvas_token", verify)
    return calls


REFUSED_URLS = [
    ("http://canvas.example.edu", "must start with https://"),
    ("https://127.0.0.1", "private or reserved"),
    ("https://127.0.0.1:8443", "private or reserved"),
    ("https://loopback.example", "private or reserved"),
    ("https://10.0.0.5", "private or reserved"),
    ("https://172.16.5.4", "private or reserved"),
    ("https://192.168.1.1", "private or reserved"),
    ("https://169.254.169.254", "private or reserved"),
    ("https://metadata.example/latest/meta-data", "private or reserved"),
    ("https://intranet.example", "private or reserved"),
    ("https://mixed.example", "private or reserved"),
    ("https://[::1]", "private or reserved"),
    ("https://[fe80::1]", "private or reserved"),
    ("https://v6-private.example", "private or reserved"),
    ("https://[::ffff:169.254.169.254]", "private or reserved"),
    ("https://0.0.0.0", "private or reserved"),
    ("https://240.0.0.1", "private or reserved"),
    ("https://100.100.100.200", "private or reserved"),
    ("https://no-such-host.example", "cannot resolve"),
    ("ftp://canvas.example.edu", "must start with https://"),
    ("https://user:pw@canvas.example.edu", "malformed"),
]


@pytest.mark.parametrize(("url", "message"), REFUSED_URLS, ids=[u for u, _ in REFUSED_URLS])
def test_settings_refuses_private_and_plain_http_canvas_urls(
    make_app, db, fake_dns, canvas_never_called, url, message
):
    client = _signed_in_client(make_app(CANVAS_ALLOW_PRIVATE_HOSTS=False))
    response = client.post("/settings", data={"url": url, "token": SECRET_TOKEN})
    assert response.status_code == 400
    assert message.lower() in response.get_data(as_text=True).lower()
    assert canvas_never_called == []
    assert only_connection(db.session.scalar(select(User))) is None


@pytest.mark.slow
@pytest.mark.parametrize(("url", "message"), REFUSED_URLS, ids=[u for u, _ in REFUSED_URLS])
def test_cli_connect_refuses_private_and_plain_http_canvas_urls(
    make_app, db, fake_dns, canvas_never_called, url, message
):
    strict = make_app(CANVAS_ALLOW_PRIVATE_HOSTS=False)
    runner = strict.test_cli_runner()
    # Flask's CLI uses the active app context: make it the strict app's.
    with strict.app_context():
        created = runner.invoke(
            args=["user", "create", "a@example.edu", "--password", "correct horse battery"]
        )
        assert created.exit_code == 0
        result = runner.invoke(
            args=["canvas", "connect", "a@example.edu", "--url", url, "--token", SECRET_TOKEN]
        )
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: bad Canvas URL")
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output
    assert canvas_never_called == []
    assert only_connection(db.session.scalar(select(User))) is None


@pytest.mark.parametrize("url", ["https://2130706433", "https://0x7f.1", "https://127.1"])
def test_numeric_tricks_for_loopback_are_refused_with_the_real_resolver(make_app, url):
    client = _signed_in_client(make_app(CANVAS_ALLOW_PRIVATE_HOSTS=False))
    response = client.post("/settings", data={"url": url, "token": SECRET_TOKEN})
    assert response.status_code == 400
    assert "private or reserved" in response.get_data(as_text=True)


def test_a_public_https_canvas_is_accepted(make_app, db, fake_dns, canvas_never_called):
    """Control for the refusals above: the same path lets a public https host through."""
    client = _signed_in_client(make_app(CANVAS_ALLOW_PRIVATE_HOSTS=False))
    response = client.post(
        "/settings", data={"url": "https://canvas.example.edu/courses/1", "token": SECRET_TOKEN}
    )
    assert response.status_code == 302
    assert canvas_never_called == ["https://canvas.example.edu"]
    connection = only_connection(db.session.scalar(select(User)))
    assert connection.base_url == "https://canvas.example.edu"
    assert connection.canvas_user_name == "Public Canvas Student"


def test_private_hosts_are_allowed_only_when_configured(
    make_app, db, fake_dns, canvas_never_called
):
    client = _signed_in_client(make_app(CANVAS_ALLOW_PRIVATE_HOSTS=True))
    response = client.post("/settings", data={"url": "http://127.0.0.1:9", "token": SECRET_TOKEN})
    assert response.status_code == 302
    assert canvas_never_called == ["http://127.0.0.1:9"]


# --- Tokens --------------------------------------------------------------------------------


def _raw_user_rows(db: Any) -> list[tuple]:
    """The users and their Canvas connections (where the tokens live), read raw."""
    with db.engine.connect() as conn:
        return [
            tuple(row)
            for table in ("users", "canvas_connection")
            for row in conn.execute(text(f"SELECT * FROM {table}"))  # noqa: S608 - fixed names
        ]


def _every_stored_value(db: Any) -> list[Any]:
    """Every value in every table, read raw (a dump of the database)."""
    values = []
    with db.engine.connect() as conn:
        for table in db.metadata.sorted_tables:
            for row in conn.execute(table.select()):
                values.extend(row)
    return values


def _contains_token(value: Any, token: str) -> bool:
    if isinstance(value, memoryview):
        value = value.tobytes()
    if isinstance(value, bytes):
        return token.encode() in value or token.encode().hex() in value.hex()
    return token in str(value)


def test_token_is_not_in_pages_database_or_logs(client, db, simulator, caplog):
    student = simulator.add_student(SECRET_TOKEN, preset="freshman")
    caplog.set_level(logging.DEBUG)
    auth = AuthActions(client)
    auth.register()
    saved = client.post("/settings", data={"url": simulator.base_url, "token": SECRET_TOKEN})
    assert saved.status_code == 302
    pages = [client.get(saved.location, follow_redirects=True)]
    pages.append(client.post("/settings/test", follow_redirects=True))
    pages.append(client.get("/settings"))
    pages.append(client.post("/settings", data={"url": simulator.base_url, "token": "wrong-one"}))
    for path in ("/", "/sync/history"):
        pages.append(client.get(path, follow_redirects=True))
    for page in pages:
        assert page.status_code < 500
        body = page.get_data(as_text=True)
        assert SECRET_TOKEN not in body
        assert SECRET_TOKEN[-8:] not in body
    settings_page = pages[2].get_data(as_text=True)
    assert student.name in settings_page and "A token is saved" in settings_page

    user = db.session.scalar(select(User))
    assert get_canvas_token(user) == SECRET_TOKEN  # stored, encrypted
    rows = _raw_user_rows(db)
    assert rows
    for row in rows:
        for value in row:
            assert not _contains_token(value, SECRET_TOKEN), value
    assert SECRET_TOKEN not in caplog.text


def test_token_is_not_in_cli_output_or_logs(runner, db, simulator, caplog):
    simulator.add_student(SECRET_TOKEN, preset="freshman")
    caplog.set_level(logging.DEBUG)
    runner.invoke(args=["user", "create", "a@example.edu", "--password", "correct horse battery"])
    outputs = [
        runner.invoke(
            args=[
                "canvas",
                "connect",
                "a@example.edu",
                "--url",
                simulator.base_url,
                "--token",
                SECRET_TOKEN,
            ]
        ),
        runner.invoke(args=["canvas", "test", "a@example.edu"]),
        runner.invoke(args=["canvas", "sync", "a@example.edu", "--json"]),
        runner.invoke(args=["canvas", "sync", "a@example.edu", "--incremental"]),
        runner.invoke(
            args=[
                "canvas",
                "connect",
                "a@example.edu",
                "--url",
                simulator.base_url,
                "--token",
                SECRET_TOKEN + "-wrong",
            ]
        ),
    ]
    assert [r.exit_code for r in outputs] == [0, 0, 0, 0, 1]
    for result in outputs:
        assert SECRET_TOKEN not in result.output
    assert "sync run" in caplog.text  # the sync did log, at every level
    assert SECRET_TOKEN not in caplog.text
    values = _every_stored_value(db)
    assert len(values) > 100  # courses and assignments were stored
    for value in values:
        assert not _contains_token(value, SECRET_TOKEN)


def test_signed_out_json_callers_get_401_not_a_login_page(client):
    response = client.get("/settings", headers={"Accept": "application/json"})
    assert response.status_code == 401
    assert response.get_json()["status"] == 401
    page = client.get("/settings")
    assert page.status_code == 302 and "/login?next=%2Fsettings" in page.location


@pytest.mark.parametrize(
    ("code", "title"),
    [
        (400, "Bad request"),
        (403, "Not allowed"),
        (404, "Page not found"),
        (413, "Too much data"),
        (429, "Too many attempts"),
        (500, "Something went wrong"),
    ],
)
def test_error_pages_are_friendly(make_app, code, title):
    variant = make_app()

    @variant.route("/abort")
    def abort_here() -> str:
        from flask import abort

        abort(code)

    response = variant.test_client().get("/abort")
    assert response.status_code == code
    page = response.get_data(as_text=True)
    assert f'<h1 id="error-title">{title}</h1>' in page
    assert "Content-Security-Policy" in response.headers


def test_error_page_still_renders_when_the_database_is_gone(client, monkeypatch):
    from flask import g
    from sqlalchemy.exc import OperationalError

    AuthActions(client).register()

    def gone(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("SELECT 1", {}, ConnectionError("server closed the connection"))

    monkeypatch.setattr(_db.session, "get", gone)
    # The test shares one app context (and ``g``) across requests: forget the cached user.
    g.pop("_login_user", None)
    response = client.get("/settings")
    assert response.status_code == 500
    page = response.get_data(as_text=True)
    assert "Something went wrong" in page
    assert "server closed the connection" not in page
    assert response.headers["X-Frame-Options"] == "DENY"
