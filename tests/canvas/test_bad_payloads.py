"""Odd Canvas payloads never crash a sync: each item is stored (coerced) or skipped, logged.

Three routes in: the simulator with odd data (1 MB descriptions, unicode, null points), a
Canvas mocked at the HTTP layer (``responses``) that sends missing keys, nulls, wrong types,
unknown fields and a megabyte of description over the wire, and a Hypothesis property test
that feeds generated assignment-group payloads through the parse and upsert path.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

import pytest
import responses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.accounts import create_user
from app.canvas.client import CanvasAPIService, ClientOptions, RetryPolicy
from app.connections import create_canvas_sync_service
from app.safe_text import strip_control
from tests.sync_helpers import assert_db_matches, connection_id_for, db_snapshot, row_counts

MEGABYTE = 1024 * 1024
UNICODE_NAMES = (
    "Économie 101 — Übung ①",
    "数学分析 (第二学期)",
    "תרגיל בית 3",  # right-to-left
    "e\u0301te\u0301 combining accents",
    "Emoji 🎓📚 week 𝟙𝟚",
)


def sync(user: Any, client: Any = None) -> dict[str, Any]:
    connection_id_for(user)  # the rows go under a connection (a stand-in one if none)
    results = create_canvas_sync_service(user, client=client).sync_all_data()
    assert results["status"] == "succeeded", results["error"]
    return results


# --- the simulator with odd data -------------------------------------------------------------

def test_huge_descriptions_unicode_and_null_points_sync_exactly(canvas_user: Any) -> None:
    user, student = canvas_user
    course_id, assignment_id = student.any_assignment()
    group_id = student.expected()[course_id]["assignments"][assignment_id]["group_id"]
    for name in UNICODE_NAMES:
        new = student.add_assignment(course_id, group_id, name, points_possible=None,
                                     description="<p>" + "x" * MEGABYTE + "</p>")
        student.grade(course_id, new, 3.5)
    student.edit_assignment(course_id, assignment_id, description="ü" * MEGABYTE)
    student.rename_course(course_id, "Cours d’été 🌞 " + "ß" * 200)

    sync(user)

    assert_db_matches(user, student)
    stored = db_snapshot(user.id)[course_id]
    names = {a["name"] for a in stored["assignments"].values()}
    assert set(UNICODE_NAMES) <= names
    for assignment in stored["assignments"].values():
        if assignment["name"] in UNICODE_NAMES:
            assert assignment["points_possible"] is None and assignment["score"] == 3.5


# --- a Canvas that sends junk over HTTP ------------------------------------------------------

BASE = "https://canvas.example.edu"


def course(course_id: Any, **fields: Any) -> dict[str, Any]:
    return {"id": course_id, "name": f"Course {course_id}", "course_code": f"C{course_id}",
            "enrollments": [{"type": "student", "enrollment_state": "active"}], **fields}


COURSES = [
    course(1, term={"id": 7, "name": "Fall ☃", "start_at": None, "end_at": "not a date"},
           public_description="d" * MEGABYTE, brand_new_field={"nested": [1, None, "x"]}),
    course(2, name=None, course_code=None, apply_assignment_group_weights="yes",
           enrollments=[{"type": "student", "computed_current_score": None,
                         "computed_final_score": "87.5"}]),
    {"name": "a course without an id"},
    course("three"),
    course(4, enrollments=None, term=None),
]
GRADEBOOKS = {
    1: [
        {"id": 11, "name": "Homework 📚", "group_weight": None, "position": None,
         "rules": None, "future_field": True,
         "assignments": [
             {"id": 101, "name": "Essay ✍ " + "é" * 400, "points_possible": None,
              "description": "w" * MEGABYTE, "due_at": "2026-13-45T99:00:00Z",
              "submission": {"score": None, "grade": None, "excused": None}},
             {"id": 102, "name": None, "points_possible": "20", "position": "3",
              "submission": {"score": "17.5", "grade": 17.5, "late": "yes", "missing": None,
                             "submitted_at": "2026-02-01T10:00:00Z"}},
             {"name": "an assignment without an id", "points_possible": 5},
             {"id": "one hundred three", "points_possible": 5},
             {"id": 104, "points_possible": {"value": 10}, "submission": ["not", "a", "dict"],
              "grading_type": "letter_grade" * 10},
             "not an assignment",
             None,
         ]},
        {"name": "a group without an id", "assignments": [{"id": 199}]},
        ["not", "a", "group"],
    ],
    2: [],
    4: [{"id": 41, "assignments": None}],
}


@pytest.fixture
def junk_canvas() -> Any:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.GET, f"{BASE}/api/v1/courses", json=COURSES)  # every list
        mock.add(responses.GET, f"{BASE}/api/v1/users/self/enrollments",
                 json=[{"course_id": 1, "grades": "junk"}, {"course_id": "x"}, "junk"])
        for course_id, groups in GRADEBOOKS.items():
            mock.add(responses.GET, f"{BASE}/api/v1/courses/{course_id}/assignment_groups",
                     body=json.dumps(groups, ensure_ascii=False).encode(),
                     content_type="application/json; charset=utf-8")
        yield mock


def test_junk_over_http_is_stored_or_skipped_with_a_logged_reason(
    app: Any, junk_canvas: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    user = create_user("junk-http@example.edu", "correct horse battery")
    client = CanvasAPIService(
        BASE, "junk-token", options=ClientOptions(retry=RetryPolicy(max_retries=0))
    )
    try:
        results = sync(user, client)
        again = sync(user, client)
    finally:
        client.close()

    stored = db_snapshot(user.id)
    assert sorted(stored) == [1, 2, 4]
    assert results["items_skipped"] >= 2 + 5  # 2 courses; 2 assignments, 2 groups, 2 non-dicts
    assert any("without a usable id" in m for m in caplog.messages)
    assert stored[1]["term"]["name"] == "Fall ☃" and stored[1]["term"]["end_at"] is None
    assert stored[2]["name"] == "C2" or stored[2]["name"] == "Course 2"
    assert stored[2]["computed_final_score"] == 87.5
    assert stored[2]["computed_current_score"] is None
    assert stored[4]["term"] is None and stored[4]["groups"][41]["name"] == "Group 41"

    assignments = stored[1]["assignments"]
    assert sorted(assignments) == [101, 102, 104]
    essay = assignments[101]
    assert essay["name"] == ("Essay ✍ " + "é" * 400)[:255]
    assert essay["points_possible"] is None and essay["due_at"] is None
    assert essay["score"] is None and essay["excused"] is False
    second = assignments[102]
    assert second["name"] == "Assignment 102" and second["points_possible"] == 20.0
    assert second["score"] == 17.5 and second["grade"] == "17.5" and second["late"] is True
    assert second["position"] == 3 and second["group_id"] == 11
    odd = assignments[104]
    assert odd["points_possible"] is None and odd["score"] is None
    assert len(odd["grading_type"]) <= 32
    assert stored[1]["groups"][11]["name"] == "Homework 📚"
    assert stored[1]["groups"][11]["drop_lowest"] == 0

    assert again["rows_written"] == 0  # the same junk again changes nothing


# --- property: generated assignment groups -----------------------------------------------------

NAME_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
NUMBER = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e9, max_value=1e9)
JUNK = st.one_of(st.none(), st.text(max_size=5), st.lists(st.integers(), max_size=2),
                 st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
BAD_ID = st.one_of(st.none(), st.just("abc"), st.integers(min_value=2**63),  # past BIGINT
                   st.integers(max_value=0), st.lists(st.integers(), max_size=1),
                   st.dictionaries(st.text(max_size=2), st.integers(), max_size=1))


ASSIGNMENT_KEYS = {"id", "name", "points_possible", "submission", "published", "position",
                   "due_at", "grading_type", "omit_from_final_grade", "workflow_state",
                   "assignment_group_id", "updated_at"}


def _points(value: Any) -> float | None:
    """What ``points_possible`` must become: a finite number, or numeric text (as Canvas may
    send "20", see the hand-written case above); anything else is junk and becomes NULL."""
    if isinstance(value, float):
        return value
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


@st.composite
def assignment(draw: Any, ident: int) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(payload, the row it must become) or (payload, None) when it must be skipped."""
    kind = draw(st.sampled_from(["good", "good", "good", "bad_id", "missing_id", "hidden"]))
    name = draw(st.one_of(st.none(), st.text(NAME_CHARS, max_size=300)))
    points = draw(st.one_of(st.none(), NUMBER, JUNK))
    payload: dict[str, Any] = {"id": ident, "name": name, "points_possible": points}
    if draw(st.booleans()):
        payload[draw(st.text(min_size=1, max_size=8).filter(lambda k: k not in ASSIGNMENT_KEYS))
                ] = draw(JUNK)  # a field Canvas may add one day
    excused = draw(st.booleans())
    score = draw(st.one_of(st.none(), NUMBER))
    grade = draw(st.one_of(st.none(), st.text(NAME_CHARS, max_size=80)))
    if draw(st.booleans()):
        payload["submission"] = {"score": score, "grade": grade, "excused": excused}
    else:
        score, grade, excused = None, None, False
    if kind == "bad_id":
        payload["id"] = draw(BAD_ID)
        return payload, None
    if kind == "missing_id":
        del payload["id"]
        return payload, None
    if kind == "hidden":
        payload["published"] = False
        return payload, None
    shown = strip_control(name) if name else ""  # names reach terminals and logs: no escapes
    return payload, {
        "name": shown[:255] if shown else f"Assignment {ident}",
        "points_possible": _points(points),
        "score": None if excused else score,
        "grade": None if excused or grade is None else strip_control(grade)[:64],
        "excused": excused,
    }


@st.composite
def gradebook(draw: Any) -> tuple[list[Any], dict[int, dict[str, Any]], set[int]]:
    """(assignment_groups payload, expected rows by assignment id, group ids)."""
    groups: list[Any] = []
    expected: dict[int, dict[str, Any]] = {}
    group_ids: set[int] = set()
    next_id = 1000
    for group_index in range(draw(st.integers(0, 3))):
        group_id = 10 + group_index
        group_ids.add(group_id)
        items: list[Any] = []
        for _ in range(draw(st.integers(0, 5))):
            next_id += 1
            payload, row = draw(assignment(next_id))
            items.append(payload)
            if row is not None:
                expected[next_id] = {**row, "group_id": group_id}
        if draw(st.booleans()):
            items.append(draw(JUNK))  # not an assignment at all
        groups.append({"id": group_id, "name": draw(st.text(NAME_CHARS, max_size=20)),
                       "group_weight": draw(st.one_of(st.none(), NUMBER, JUNK)),
                       "assignments": items})
    if draw(st.booleans()):
        groups.append(draw(st.one_of(JUNK, st.fixed_dictionaries({"id": BAD_ID}))))
    return groups, expected, group_ids


class OneCourseCanvas:
    """A client for one course whose gradebook the test sets; payloads go through JSON."""

    def __init__(self) -> None:
        self.groups: Any = []

    def get_courses(self, **_: Any) -> list[Any]:
        return [course(1)]

    def get_completed_courses(self) -> list[Any]:
        return []

    def get_student_enrollments(self) -> list[Any]:
        return []

    def get_assignment_groups(self, course_id: int, **_: Any) -> Any:
        return json.loads(json.dumps(self.groups))


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@pytest.mark.slow
@given(case=gradebook())
def test_generated_gradebooks_store_exactly_the_well_formed_items(app: Any, case: Any) -> None:
    payload, expected, group_ids = case
    from app.accounts import find_user

    user = find_user("property@example.edu") or create_user("property@example.edu",
                                                            "correct horse battery")
    canvas = OneCourseCanvas()
    canvas.groups = payload

    sync(user, canvas)

    stored = db_snapshot(user.id)[1]
    assert sorted(stored["groups"]) == sorted(group_ids)
    assert sorted(stored["assignments"]) == sorted(expected)
    for assignment_id, want in expected.items():
        got = stored["assignments"][assignment_id]
        for key, value in want.items():
            assert got[key] == value, (assignment_id, key, got[key], value)
    assert row_counts(user.id)["assignment"] == len(expected)
    assert sync(user, canvas)["rows_written"] == 0  # the same payload again writes nothing
