"""Web helpers: ownership checks, date formatting, safe redirects, optional links."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from flask_login import login_user
from werkzeug.exceptions import NotFound

from app.accounts import create_user
from app.models import Assignment, CanvasConnection, Course, NotifyChannel, SyncRun, Term
from app.pages.api.tokens import create_token
from app.pages.common import format_dt, get_owned_or_404, safe_next_url, timeago, url_if
from tests.sync_helpers import connection_id_for

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def two_users(app, db):
    """Alice owns a course, an assignment and a sync run; Bob owns nothing."""
    alice = create_user("alice@example.edu", "correct horse battery")
    bob = create_user("bob@example.edu", "correct horse battery")
    term = Term(user_id=alice.id, connection_id=connection_id_for(alice),
                canvas_term_id=1, name="Spring")
    db.session.add(term)
    db.session.flush()
    course = Course(user_id=alice.id, connection_id=term.connection_id,
                    term_id=term.id, canvas_course_id=10, name="Biology")
    db.session.add(course)
    db.session.flush()
    assignment = Assignment(
        course_id=course.id, canvas_assignment_id=100, canvas_course_id=10, name="Lab 1"
    )
    run = SyncRun(user_id=alice.id, kind="full", status="succeeded")
    channel = NotifyChannel(user_id=alice.id, kind="ntfy", masked="https://ntfy.sh/al****",
                            url_encrypted=b"not read: the route must 404 first")
    db.session.add_all([assignment, run, channel])
    db.session.commit()
    token, _ = create_token(alice, "laptop")
    connection = db.session.get(CanvasConnection, term.connection_id)
    return alice, bob, {
        "course": course,
        "assignment": assignment,
        "run": run,
        "term": term,
        "connection": connection,
        "channel": channel,
        "token": token,
    }


@pytest.mark.parametrize("kind", ["course", "assignment", "run", "term"])
def test_owner_gets_the_row_and_others_get_404(app, two_users, kind):
    alice, bob, rows = two_users
    row = rows[kind]
    model = type(row)
    with app.test_request_context():
        login_user(alice)
        assert get_owned_or_404(model, row.id).id == row.id
        assert get_owned_or_404(model, str(row.id)).id == row.id
    with app.test_request_context():
        login_user(bob)
        with pytest.raises(NotFound):
            get_owned_or_404(model, row.id)


@pytest.mark.parametrize("bad_id", [None, "", "abc", "1; DROP TABLE users", -1, 2**40, "9" * 50])
def test_malformed_or_missing_ids_are_404(app, two_users, bad_id):
    alice, _, _ = two_users
    with app.test_request_context():
        login_user(alice)
        with pytest.raises(NotFound):
            get_owned_or_404(Course, bad_id)


def test_anonymous_gets_404(app, two_users):
    _, _, rows = two_users
    with app.test_request_context(), pytest.raises(NotFound):
        get_owned_or_404(Course, rows["course"].id)


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=10), "just now"),
        (timedelta(minutes=3), "3 minutes ago"),
        (timedelta(minutes=1), "1 minute ago"),
        (timedelta(hours=2), "2 hours ago"),
        (timedelta(days=1), "1 day ago"),
        (timedelta(days=15), "2 weeks ago"),
        (timedelta(days=400), "1 year ago"),
        (-timedelta(days=2), "in 2 days"),
    ],
)
def test_timeago(delta, text):
    assert timeago(NOW - delta, now=NOW) == text


def test_timeago_treats_naive_values_as_utc():
    naive = (NOW - timedelta(hours=5)).replace(tzinfo=None)
    assert timeago(naive, now=NOW) == "5 hours ago"


def test_format_dt_renders_a_time_element_with_the_iso_time():
    html = str(format_dt(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)))
    assert html.startswith('<time datetime="2026-01-02T03:04:05Z" title="2026-01-02 03:04 UTC">')
    assert str(format_dt(None)) == "never"
    assert "2026-01-02" in str(format_dt(datetime(2026, 1, 2, tzinfo=UTC), "%Y-%m-%d"))


@pytest.mark.parametrize(
    ("target", "safe"),
    [
        ("/", "/"),
        ("/courses/3?tab=grades#x", "/courses/3?tab=grades#x"),
        (None, None),
        ("", None),
        ("//evil.example", None),
        ("https://evil.example/", None),
        ("/\\evil.example", None),
        ("javascript:alert(1)", None),
        ("/\r\nSet-Cookie: x=1", None),
        ("/" + "a" * 3000, None),
    ],
)
def test_safe_next_url(target, safe):
    assert safe_next_url(target) == safe


def test_url_if_returns_none_for_unknown_endpoints(app):
    with app.test_request_context():
        assert url_if("settings.index") == "/settings"
        assert url_if("no.such_endpoint") is None


def _owned_urls(app, rows) -> list[tuple[str, str]]:
    """(method, url) for every route that takes an id, filled with Alice's ids."""
    ids = {
        "course": rows["course"].id,
        "run": rows["run"].id,
        "assignment": rows["assignment"].id,
        "term": rows["term"].id,
        "connection": rows["connection"].id,
        "channel": rows["channel"].id,
        "token": rows["token"].id,
    }
    urls = []
    for rule in app.url_map.iter_rules():
        int_args = re.findall(r"<int:(\w+)>", rule.rule)
        if not int_args or rule.rule.startswith("/api/"):
            continue  # the API takes no session: tests/pages/test_api.py tries other tokens
        values = {}
        for arg in int_args:
            kind = next(k for k in ids if k in arg)
            values[arg] = ids[kind]
        url = rule.build(values, append_unknown=False)[1]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            urls.append((method, url))
    return urls


def test_another_users_ids_answer_404_on_every_page(app, client, two_users):
    """Id guessing: Bob gets 404 on every URL that names one of Alice's rows; Alice does not."""
    _, _, rows = two_users
    urls = _owned_urls(app, rows)
    assert ("GET", f"/courses/{rows['course'].id}") in urls
    assert ("GET", f"/sync/{rows['run'].id}") in urls

    client.post("/login", data={"email": "bob@example.edu", "password": "correct horse battery"})
    for method, url in urls:
        response = client.open(url, method=method, data={})
        assert response.status_code == 404, (method, url)
        response.close()
    client.post("/logout")

    client.post("/login", data={"email": "alice@example.edu", "password": "correct horse battery"})
    for method, url in urls:
        if method != "GET":
            continue
        response = client.get(url, buffered=False)
        assert response.status_code == 200, url
        response.close()
