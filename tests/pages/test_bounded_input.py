"""Hostile ids and JSON bodies get a clear 4xx, never a 500 (issue 11, finding 10)."""

from __future__ import annotations

from typing import Any

import pytest

from app.accounts import create_user
from app.models import Assignment
from app.pages.inputs import BadJSON, parse_id, parse_json_body
from tests.auth_actions import sign_in
from tests.pages.test_dashboard import make_course
from tests.sync_helpers import add_fake_connection

HUGE = "99999999999999999999"


@pytest.fixture
def student(app: Any, db: Any) -> Any:
    user = create_user("a@example.edu", "correct horse battery")
    add_fake_connection(user)
    return user




@pytest.mark.parametrize(
    "path",
    [f"/sync/{HUGE}", f"/sync/{HUGE}/status.json", f"/sync/{HUGE}/events",
     f"/courses/{HUGE}", f"/sync/{2**63}", f"/sync/{2**63 - 1}", f"/sync/{2**31}"],
)
def test_huge_route_ids_are_404(client: Any, student: Any, path: str) -> None:
    sign_in(client, student)
    response = client.get(path)
    assert response.status_code == 404
    assert "Traceback" not in response.get_data(as_text=True)


def test_huge_course_id_in_what_if_is_404(client: Any, student: Any) -> None:
    sign_in(client, student)
    assert client.post(f"/courses/{HUGE}/what-if", json={"scores": {}}).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        '{"scores": {}, "target": {"assignment_id": Infinity, "percent": 90}}',
        '{"scores": {}, "target": {"assignment_id": 1e400, "percent": 90}}',
        '{"scores": {}, "target": {"assignment_id": -Infinity, "percent": 90}}',
        '{"scores": {}, "target": {"assignment_id": NaN, "percent": 90}}',
        '{"scores": {"1": 1e400}}',
        '{"scores": {}, "target": {"assignment_id": 1, "percent": 1e999}}',
        "[" * 100_000 + "]" * 100_000,
        '{"scores": ' + "[" * 50 + "]" * 50 + "}",
        '{"a": "' + "x" * 70_000 + '"}',
        '{"scores": {',
        "\xff\xfe",
    ],
    ids=["Infinity", "1e400", "-Infinity", "NaN", "score-1e400", "percent-1e999",
         "deep-100k", "deep-50", "70KB", "truncated", "not-utf8"],
)
def test_what_if_hostile_json_is_400(client: Any, db: Any, student: Any, body: str) -> None:
    course = make_course(db, student, name="Biology")
    sign_in(client, student)
    response = client.post(f"/courses/{course.id}/what-if", data=body.encode("latin-1"),
                           content_type="application/json")
    assert response.status_code == 400
    assert "error" in response.get_json()


@pytest.mark.parametrize(
    "target",
    [{"assignment_id": 10**30, "percent": 90}, {"assignment_id": 1.5, "percent": 90},
     {"assignment_id": True, "percent": 90}, {"assignment_id": "1e400", "percent": 90},
     {"assignment_id": 1, "percent": 10**400}],
)
def test_what_if_out_of_range_ids_and_numbers_answer_in_words(
    client: Any, db: Any, student: Any, target: dict[str, Any]
) -> None:
    course = make_course(db, student, name="Biology")
    sign_in(client, student)
    scores = {str(10**30): 5, "1.5": 1, HUGE: 10**400}
    response = client.post(f"/courses/{course.id}/what-if",
                           json={"scores": scores, "target": target})
    assert response.status_code == 200
    data = response.get_json()
    assert data["needed"]["score"] is None
    assert len(data["errors"]) == 3


def test_what_if_still_accepts_plain_ids(client: Any, db: Any, student: Any) -> None:
    course = make_course(db, student, name="Biology")
    final = db.session.scalar(db.select(Assignment).where(Assignment.name == "Final Exam"))
    sign_in(client, student)
    data = client.post(f"/courses/{course.id}/what-if", json={
        "scores": {str(final.id): 100},
        "target": {"assignment_id": str(final.id), "percent": 80}}).get_json()
    assert data["errors"] == [] and data["changed"] is True


def test_parse_helpers() -> None:
    assert parse_id("42") == 42 and parse_id(2**31 - 1) == 2**31 - 1
    for bad in (2**31, 2**63, -1, 1.0, True, "1e3", "", "٣", None):
        with pytest.raises(ValueError):
            parse_id(bad)
    assert parse_json_body(b'{"a": [1, 2.5]}') == {"a": [1, 2.5]}
    with pytest.raises(BadJSON, match="nested too deeply"):
        parse_json_body(b"[" * 9 + b"]" * 9)
    assert parse_json_body(b'["[[[[[[[[[[[[[["]') == ["[[[[[[[[[[[[[["]  # brackets in strings
