"""The read-only API (``/api/v1``): a personal token reads its owner's data and nothing else.

Every route answers the owner with data that matches the OpenAPI document's schema; another
student's token gets 404 for the owner's objects (and none of the owner's rows in a list); a
missing, unknown or revoked token gets a JSON 401, as does a signed-in browser without one;
the per-token rate limit answers 429 with Retry-After, counted in the database so two web
processes share one count. The Settings page creates (shown once) and revokes tokens.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from jsonschema import Draft202012Validator, FormatChecker
from openapi_spec_validator import validate

import clock
from app import create_app
from app.extensions import db
from app.logs import redact
from app.models import ApiToken, Course, GradeEvent, User
from app.pages.api import tokens
from app.pages.outward import redact as redact_request_line
from tests.auth_actions import AuthActions
from tests.conftest import make_test_config
from tests.grades.test_planner import _biology
from tests.live_server import gunicorn
from tests.school_year import MIDTERM

pytestmark = pytest.mark.clock(MIDTERM)


def _seed(email: str) -> tuple[User, dict[str, int], str]:
    """A student with Biology (see test_planner), a ledger row, and a token of their own."""
    user, ids = _biology(email)
    course = db.session.query(Course).filter_by(user_id=user.id).one()
    course.canvas_current_score, course.canvas_current_grade = 88.5, "B+"
    db.session.add(GradeEvent(user_id=user.id, course_id=course.id, canvas_course_id=7,
                              canvas_assignment_id=5, kind="grade_changed",
                              before={"score": 3.0}, after={"score": 4.0},
                              at=datetime(2026, 11, 2, tzinfo=UTC)))
    db.session.commit()
    _row, token = tokens.create_token(user, f"{email}'s script")
    return user, {"course": course.id, **ids}, token


@pytest.fixture
def two(app: Any) -> dict[str, Any]:
    owner, ids, token = _seed("student@example.edu")
    other, other_ids, other_token = _seed("other@example.edu")
    return {"owner": owner, "ids": ids, "token": token, "other": other,
            "other_ids": other_ids, "other_token": other_token}


# (path template, schema name, whether it names an object of the owner)
ROUTES = [
    ("/courses", "CourseList", False),
    ("/courses/{course}", "OneCourse", True),
    ("/courses/{course}/assignments", "AssignmentList", True),
    ("/assignments", "AssignmentList", False),
    ("/assignments/{Lab report}", "OneAssignment", True),
    ("/grades", "GradeList", False),
    ("/gpa", "Gpa", False),
    ("/changes", "ChangePage", False),
    ("/planner", "Planner", False),
]


def _path(template: str, ids: dict[str, int]) -> str:
    return "/api/v1" + template.format(**{name: value for name, value in ids.items()})


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _course_ids(body: Any) -> set[int]:
    """Every course id a body names: ``course_id`` anywhere, and a course record's ``id``."""
    found: set[int] = set()

    def walk(value: Any, course_record: bool = False) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "course_id" or (course_record and key == "id"):
                    found.add(item)
                walk(item, key in ("course", "courses"))
        elif isinstance(value, list):
            for item in value:
                walk(item, course_record)

    walk(body)
    return found


def _schema_check(document: dict[str, Any], schema_name: str, body: Any) -> None:
    schema = {"$ref": f"#/components/schemas/{schema_name}",
              "components": document["components"]}
    Draft202012Validator(schema, format_checker=FormatChecker()).validate(body)


def _document(client: Any) -> dict[str, Any]:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.get_json()
    return document


def test_the_openapi_document_validates_and_lists_every_route(app: Any, client: Any) -> None:
    document = _document(client)
    validate(document)
    assert set(document["paths"]) == {
        template.replace("{course}", "{course_id}").replace("{Lab report}", "{assignment_id}")
        for template, _schema, _owned in ROUTES}
    for template, schema_name, _owned in ROUTES:
        key = template.replace("{course}", "{course_id}").replace("{Lab report}",
                                                                  "{assignment_id}")
        ok = document["paths"][key]["get"]["responses"]["200"]
        assert ok["content"]["application/json"]["schema"]["$ref"].endswith("/" + schema_name)


@pytest.mark.parametrize(("template", "schema_name", "owned"), ROUTES)
def test_every_route_gives_the_owner_data_that_matches_its_schema(
    app: Any, client: Any, two: dict[str, Any], template: str, schema_name: str, owned: bool
) -> None:
    document = _document(client)
    response = client.get(_path(template, two["ids"]), headers=_auth(two["token"]))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    _schema_check(document, schema_name, body)
    # The owner's course is there, and nothing of the other student's.
    assert _course_ids(body) == {two["ids"]["course"]}


def test_the_shapes_are_the_exports_and_the_pages_numbers(
    app: Any, client: Any, two: dict[str, Any]
) -> None:
    headers = _auth(two["token"])
    [course] = client.get("/api/v1/courses", headers=headers).get_json()["courses"]
    assert (course["name"], course["canvas_current_grade"]) == ("Biology", "B+")
    [grade] = client.get("/api/v1/grades", headers=headers).get_json()["grades"]
    assert grade["canvas_score"] == 88.5 and grade["course_id"] == course["id"]
    gpa = client.get("/api/v1/gpa", headers=headers).get_json()
    # B+ is 3.3 on the default 4.0 scale with +/-; the course is in progress: projected.
    assert gpa["cumulative"] == 3.3 and gpa["cumulative_projected"] is True
    planner = client.get("/api/v1/planner", headers=headers).get_json()
    assert [i["name"] for i in planner["upcoming"]] == ["Lab report", "Problem set"]
    assert planner["upcoming"][0]["local_day"] == "2026-11-18"  # 23:59 in Chicago
    assert planner["upcoming"][0]["worth"] == pytest.approx(8.0)  # % of the course grade
    assert [i["name"] for i in planner["overdue"]] == ["Reading quiz"]
    [change] = client.get("/api/v1/changes", headers=headers).get_json()["changes"]
    assert change["before"] == {"score": 3.0} and change["at"] == "2026-11-02T00:00:00Z"


def test_changes_come_a_page_at_a_time_and_bad_paging_is_named(
    app: Any, client: Any, two: dict[str, Any]
) -> None:
    user = two["owner"]
    for score in (5.0, 6.0):
        db.session.add(GradeEvent(user_id=user.id, course_id=two["ids"]["course"],
                                  canvas_course_id=7, canvas_assignment_id=5,
                                  kind="grade_changed", before={"score": score - 1},
                                  after={"score": score}, at=MIDTERM))
    db.session.commit()
    headers = _auth(two["token"])
    seen = []
    after = 0
    for _page in range(5):
        page = client.get(f"/api/v1/changes?limit=2&after={after}", headers=headers).get_json()
        seen += [c["after"]["score"] for c in page["changes"]]
        if page["next_after"] is None:
            break
        after = page["next_after"]
    assert seen == [4.0, 5.0, 6.0]
    bad = client.get("/api/v1/changes?limit=lots", headers=headers)
    assert bad.status_code == 400 and "'limit' must be a whole number" in bad.get_json()["message"]
    assert client.get("/api/v1/changes?limit=501", headers=headers).status_code == 400


@pytest.mark.parametrize(("template", "schema_name", "owned"), ROUTES)
def test_another_students_token_answers_404_for_the_owners_objects(
    app: Any, client: Any, two: dict[str, Any], template: str, schema_name: str, owned: bool
) -> None:
    response = client.get(_path(template, two["ids"]), headers=_auth(two["other_token"]))
    if owned:
        assert response.status_code == 404
        assert response.get_json()["status"] == 404
    else:  # a list: the other student's own rows only
        assert response.status_code == 200
        assert _course_ids(response.get_json()) == {two["other_ids"]["course"]}


@pytest.mark.parametrize(("template", "schema_name", "owned"), ROUTES)
def test_no_token_a_wrong_one_or_a_revoked_one_answers_401(
    app: Any, client: Any, two: dict[str, Any], template: str, schema_name: str, owned: bool
) -> None:
    path = _path(template, two["ids"])
    row = db.session.query(ApiToken).filter_by(user_id=two["owner"].id).one()
    assert tokens.revoke_token(two["owner"].id, row.id) is not None
    for headers in ({}, _auth(two["token"]), _auth(two["token"][:-1] + "x"),
                    {"Authorization": two["token"]}, _auth("gsk_short")):
        response = client.get(path, headers=headers)
        assert response.status_code == 401, headers
        assert response.mimetype == "application/json"
        assert response.get_json()["status"] == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    # The other student's token still works.
    assert client.get(_path(template, two["other_ids"]),
                      headers=_auth(two["other_token"])).status_code == 200


def test_a_signed_in_browser_without_a_token_gets_401(
    app: Any, client: Any, two: dict[str, Any]
) -> None:
    AuthActions(client).login()
    assert client.get("/settings").status_code == 200  # the session works for pages
    response = client.get("/api/v1/courses")
    assert response.status_code == 401 and response.get_json()["error"] == "Unauthorized"


def test_the_api_is_read_only_and_unknown_paths_are_json(
    app: Any, client: Any, two: dict[str, Any]
) -> None:
    headers = _auth(two["token"])
    posted = client.post("/api/v1/courses", headers=headers, json={})
    assert posted.status_code == 405 and posted.headers["Allow"] == "GET"
    assert posted.get_json()["status"] == 405
    missing = client.get("/api/v1/nothing-here", headers=headers)
    assert missing.status_code == 404 and missing.get_json()["status"] == 404
    huge = client.get("/api/v1/courses/99999999999999999999", headers=headers)
    assert huge.status_code == 404 and huge.mimetype == "application/json"
    assert client.get("/api/v1/nothing-here").status_code == 401


def test_with_csrf_on_a_post_is_still_the_apis_json_405(
    app: Any, two: dict[str, Any], database_url: str
) -> None:
    """Token only, no cookie: the API is exempt from CSRF, so a POST is the API's own answer."""
    guarded = create_app(make_test_config(database_url, WTF_CSRF_ENABLED=True))
    with guarded.test_client() as client:
        posted = client.post("/api/v1/courses", headers=_auth(two["token"]), data={"a": "1"})
        ok = client.get("/api/v1/courses", headers=_auth(two["token"]))
    with guarded.app_context():
        db.engine.dispose()
    assert posted.status_code == 405 and posted.get_json()["status"] == 405
    assert ok.status_code == 200


@pytest.mark.parametrize(("template", "schema_name", "owned"), ROUTES)
def test_the_rate_limit_answers_429_with_retry_after(
    app: Any, client: Any, two: dict[str, Any], template: str, schema_name: str, owned: bool
) -> None:
    app.config.update(API_RATE_LIMIT=2, API_RATE_WINDOW_S=60)
    path = _path(template, two["ids"])
    headers = _auth(two["token"])
    assert [client.get(path, headers=headers).status_code for _ in range(2)] == [200, 200]
    refused = client.get(path, headers=headers)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.get_json()["status"] == 429
    # Another student's token has its own allowance.
    assert client.get("/api/v1/courses", headers=_auth(two["other_token"])).status_code == 200
    # After the window, the token works again.
    clock.pin(clock.now() + timedelta(seconds=61))
    assert client.get(path, headers=headers).status_code == 200


def test_two_web_processes_share_one_count(
    app: Any, client: Any, two: dict[str, Any], database_url: str
) -> None:
    """gunicorn runs two workers: the count lives in the database, so each does not get its
    own allowance."""
    app.config.update(API_RATE_LIMIT=3)
    second = create_app(make_test_config(database_url, API_RATE_LIMIT=3))
    headers = _auth(two["token"])
    with second.test_client() as other_worker:
        codes = [client.get("/api/v1/courses", headers=headers).status_code,
                 other_worker.get("/api/v1/courses", headers=headers).status_code,
                 client.get("/api/v1/courses", headers=headers).status_code,
                 other_worker.get("/api/v1/courses", headers=headers).status_code]
    with second.app_context():
        db.engine.dispose()
    assert codes == [200, 200, 200, 429]
    row = db.session.query(ApiToken).filter_by(user_id=two["owner"].id).one()
    db.session.refresh(row)
    assert row.last_used_at is not None


@pytest.mark.slow
def test_under_gunicorn_two_workers_allow_exactly_the_limit(
    app: Any, two: dict[str, Any], database_url: str, tmp_path: Path
) -> None:
    """Twenty requests at once over fresh connections to ``gunicorn -w 2``: exactly the limit
    get through (a count per process would let up to twice as many), the rest are 429s, and
    the token is nowhere in gunicorn's log."""
    limit = 6
    results: list[int] = []
    lock = threading.Lock()

    def one(base: str) -> None:
        code = requests.get(f"{base}/api/v1/courses", headers=_auth(two["token"]),
                            timeout=60).status_code
        with lock:
            results.append(code)

    with gunicorn(database_url, tmp_path, env={"API_RATE_LIMIT": str(limit)}) as base:
        threads = [threading.Thread(target=one, args=(base,)) for _ in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not any(thread.is_alive() for thread in threads)
    assert sorted(results) == [200] * limit + [429] * (20 - limit)
    assert two["token"] not in (tmp_path / "gunicorn.log").read_text()


def test_tokens_are_stored_hashed_and_never_logged(
    app: Any, client: Any, two: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    token = two["token"]
    row = db.session.query(ApiToken).filter_by(user_id=two["owner"].id).one()
    assert token.startswith("gsk_") and len(token) == 47
    assert row.prefix == token[:12] and token not in (row.token_hash, row.name)
    with caplog.at_level(logging.DEBUG):
        client.get("/api/v1/courses", headers=_auth(token))
        client.get(f"/api/v1/courses?access_token={token}")
    assert token not in caplog.text
    # The last lines of defence: the log redaction and the request-line filter.
    assert token not in redact(f"Authorization: Bearer {token}")
    assert token not in redact(f"GET /api/v1/courses?x={token}")
    for line in (f'"GET /api/v1/courses?access_token={token} HTTP/1.1" 401 -',
                 f'"GET /api/v1/{token}/courses HTTP/1.1" 401 -',
                 f'"GET /api/v1/courses?api_key={token}&a=1 HTTP/1.1" 401 -'):
        hidden = redact_request_line(line)
        assert token not in hidden and token[4:12] not in hidden and "[redacted]" in hidden


def test_settings_creates_shows_once_and_revokes_a_token(app: Any, client: Any) -> None:
    owner, _ids, _token = _seed("student@example.edu")
    other, _other_ids, other_token = _seed("other@example.edu")
    AuthActions(client).login()
    page = client.get("/settings").get_data(as_text=True)
    assert 'id="api-tokens-title"' in page and "student@example.edu&#39;s script" in page

    refused = client.post("/settings/api-tokens", data={"name": "  "}, follow_redirects=True)
    assert "Give the token a name" in refused.get_data(as_text=True)

    created = client.post("/settings/api-tokens", data={"name": "My spreadsheet"})
    assert created.status_code == 200
    text = created.get_data(as_text=True)
    token = text.split("data-api-token-value>")[1].split("</code>")[0]
    assert token.startswith("gsk_") and "shown only this once" in text
    assert f"Bearer {token}" in text and "http://localhost/api/v1/grades" in text
    assert client.get("/api/v1/courses", headers=_auth(token)).status_code == 200

    page = client.get("/settings").get_data(as_text=True)
    assert token not in page and token[:12] in page and "My spreadsheet" in page

    row = db.session.query(ApiToken).filter_by(name="My spreadsheet").one()
    # Another student's token cannot be revoked from here: 404, as for every row.
    other_row = db.session.query(ApiToken).filter_by(user_id=other.id).one()
    assert client.post(f"/settings/api-tokens/{other_row.id}/revoke").status_code == 404
    assert client.get("/api/v1/courses", headers=_auth(other_token)).status_code == 200

    revoked = client.post(f"/settings/api-tokens/{row.id}/revoke", follow_redirects=True)
    assert "it no longer works" in revoked.get_data(as_text=True)
    assert "My spreadsheet" not in client.get("/settings").get_data(as_text=True).split(
        'id="api-tokens-title"')[1].split("</section>")[0].replace(
        "Revoked the token", "")
    assert client.get("/api/v1/courses", headers=_auth(token)).status_code == 401
    assert owner.id != other.id


def test_the_settings_routes_need_a_sign_in(app: Any, client: Any) -> None:
    response = client.post("/settings/api-tokens", data={"name": "x"})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
