"""The byte digest of a gradebook (app.sync.digest) is never wrong.

The same bytes skip the parse, the compare and the grade check; a change anywhere in a body,
even one that leaves the parsed rows equal (whitespace, key order, a field the sync does not
read), takes the normal path and stores exactly what a full sync stores.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest

from app.canvas.client import CanvasAPIService
from app.canvas.errors import BadResponse
from app.connections import create_canvas_sync_service
from app.sync import fetch
from app.sync.digest import Unparsed, response_digest
from app.sync.fetch import fetch_gradebook
from app.sync.parse import Gradebook
from tests.school_year import MIDTERM
from tests.sync_helpers import assert_db_matches, db_snapshot

GROUPS: list[dict[str, Any]] = [
    {"id": 7, "name": "Homework", "position": 1, "group_weight": 40.0, "rules": {},
     "assignments": [
         {"id": 70, "name": "HW 1", "points_possible": 10.0, "published": True,
          "workflow_state": "published", "assignment_group_id": 7, "html_url": "https://x/70",
          "submission": {"assignment_id": 70, "score": 9.0, "grade": "9",
                         "workflow_state": "graded", "excused": False,
                         "posted_at": "2026-10-01T10:00:00Z"}},
     ]},
]


class RawCanvas:
    """Serves one course's gradebook as fixed raw pages; counts the decodes."""

    def __init__(self, pages: Sequence[bytes]) -> None:
        self.pages = list(pages)
        self.decoded = 0
        self.base_url = "https://canvas.test"

    def get_assignment_groups_pages(self, course_id: int) -> list[bytes]:
        return list(self.pages)

    def decode_pages(self, course_id: int, pages: Sequence[bytes]) -> list[Any]:
        self.decoded += 1
        return [item for body in pages for item in json.loads(body)]

    def get_assignment_groups(self, course_id: int, **_: Any) -> list[Any]:
        raise AssertionError("the raw path is used")


def body(groups: Any = GROUPS, **dumps: Any) -> bytes:
    return json.dumps(groups, **dumps).encode()


def test_same_bytes_are_not_parsed_and_any_changed_byte_is() -> None:
    """Every one-byte edit of the body (inserted, replaced, removed) is parsed again."""
    original = body()
    known = response_digest([original])
    client = RawCanvas([original])
    assert isinstance(fetch_gradebook(client, 1, known), Unparsed)
    assert client.decoded == 0
    variants = set()
    for i in range(len(original) + 1):
        variants.add(original[:i] + b" " + original[i:])
        if i < len(original):
            variants.add(original[:i] + original[i + 1:])
            variants.add(original[:i] + bytes([original[i] ^ 1]) + original[i + 1:])
    variants.discard(original)
    for variant in variants:
        assert response_digest([variant]) != known
    # Parsing them all is slow-ish; the fetch path only sees the digest, so a sample of real
    # fetches (each kind of edit, start, middle, end) shows the branch taken.
    for variant in sorted(variants)[:: max(1, len(variants) // 50)]:
        client = RawCanvas([variant])
        try:
            got = fetch_gradebook(client, 1, known)
        except (ValueError, BadResponse):  # an edit that breaks the JSON: decoded, refused
            assert client.decoded == 1
            continue
        assert isinstance(got, Gradebook) and client.decoded == 1


def test_pages_split_differently_never_share_a_digest() -> None:
    whole = body()
    assert response_digest([whole]) != response_digest([whole[:10], whole[10:]])
    assert response_digest([whole[:10], whole[10:]]) != response_digest([whole[:11], whole[11:]])
    assert response_digest([]) != response_digest([b""])


def test_equal_rows_from_other_bytes_take_the_normal_path() -> None:
    """Whitespace, key order and an unused field change the bytes, not the rows: parsed."""
    original = body()
    parsed = fetch_gradebook(RawCanvas([original]), 1, None)
    assert isinstance(parsed, Gradebook)
    renamed_url = json.loads(original)
    renamed_url[0]["assignments"][0]["html_url"] = "https://x/other"
    for variant in (body(indent=1), body(sort_keys=True), original + b"\n", body(renamed_url)):
        client = RawCanvas([variant])
        got = fetch_gradebook(client, 1, parsed.response_digest)
        assert isinstance(got, Gradebook) and client.decoded == 1
        assert got.content_hash == parsed.content_hash  # the same rows
        assert got.response_digest != parsed.response_digest


def test_same_bytes_but_other_course_facts_are_parsed_and_checked() -> None:
    """The grade check reads the course list's scores and periods too: when those moved, the
    same gradebook bytes are parsed and the check is done again; a pending difference too."""
    from app.sync.digest import prepare
    from app.sync.parse import CourseData

    original = body()
    parsed = fetch_gradebook(RawCanvas([original]), 1, None)
    assert isinstance(parsed, Gradebook)
    row = {"canvas_course_id": 1, "name": "C", "apply_group_weights": False,
           "canvas_current_score": 90.0, "hide_final_grades": False,
           "has_weighted_grading_periods": False, "canvas_current_period_id": None,
           "canvas_period_current_score": None}
    course = CourseData(canvas_course_id=1, row=row, term=None)
    first = prepare(parsed, None, course, incremental=False)
    stored = {**first.course.row, "content_hash": first.content_hash, "id": 1}
    calls: list[int] = []

    def again(stored_row: dict[str, Any], new_row: dict[str, Any]) -> Any:
        unparsed = Unparsed(parsed.response_digest or "", lambda: calls.append(1) or parsed)
        return prepare(unparsed, stored_row, CourseData(1, new_row, None), incremental=True)

    kept = again(stored, row)
    assert calls == [] and kept.same and kept.content_hash == first.content_hash
    assert {k: kept.course.row[k] for k in stored if k != "id"} == \
        {k: stored[k] for k in stored if k != "id"}
    moved = again(stored, {**row, "canvas_current_score": 80.0})
    assert calls == [1] and moved.course.row["score_difference"] == \
        first.course.row["our_current_score"] - 80.0
    calls.clear()
    again({**stored, "difference_status": "settling"}, row)
    assert calls == [1]
    calls.clear()
    prepare(  # a full sync always parses
        Unparsed(parsed.response_digest or "", lambda: calls.append(1) or parsed), stored,
        course, incremental=False)
    assert calls == [1]


@pytest.fixture
def canvas_user(app: Any, simulator: Any) -> tuple[Any, Any]:
    from tests.conftest import connect_user

    return connect_user(app, simulator, email="digest@example.edu", token="tok-freshman-1")


def _sync(user: Any, incremental: bool) -> Any:
    results = create_canvas_sync_service(user).sync_all_data(use_incremental=incremental)
    assert results["status"] == "succeeded", results["error"]
    return results


@pytest.mark.clock(MIDTERM)  # needs courses in progress (a gradebook a no-change sync reads)
def test_sync_skips_the_parse_only_for_identical_bytes(
    canvas_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A no-change incremental parses nothing; a body that differs by one trailing space (the
    same rows) is parsed, writes nothing, and the database is what a full sync writes."""
    user, student = canvas_user
    parses: list[int] = []
    real_parse = fetch.parse_gradebook

    def counting_parse(canvas_course_id: int, *args: Any, **kwargs: Any) -> Gradebook:
        parses.append(canvas_course_id)
        return real_parse(canvas_course_id, *args, **kwargs)

    monkeypatch.setattr(fetch, "parse_gradebook", counting_parse)
    _sync(user, incremental=False)
    full = db_snapshot(user.id)
    active = [cid for cid, c in student.expected().items() if not c["concluded"]]
    assert active

    parses.clear()
    unchanged = _sync(user, incremental=True)
    assert parses == [] and unchanged["rows_written"] == 0
    assert unchanged["courses_unchanged"] == len(active)
    assert db_snapshot(user.id) == full

    real_pages = CanvasAPIService.get_assignment_groups_pages

    def one_more_space(self: CanvasAPIService, course_id: int) -> list[bytes]:
        pages = real_pages(self, course_id)
        return [*pages[:-1], pages[-1] + b" "]  # valid JSON, the same items

    monkeypatch.setattr(CanvasAPIService, "get_assignment_groups_pages", one_more_space)
    parses.clear()
    for _ in range(2):  # the same rows: nothing written, not even the digest, so parsed again
        parses.clear()
        spaced = _sync(user, incremental=True)
        assert sorted(parses) == sorted(active)  # the normal path, every course
        assert spaced["rows_written"] == 0
        assert db_snapshot(user.id) == full
    assert_db_matches(user, student)

    # A real change is seen, and then the same bytes are skipped again.
    monkeypatch.setattr(CanvasAPIService, "get_assignment_groups_pages", real_pages)
    course_id, assignment_id = student.any_assignment()
    student.delete_assignment(course_id, assignment_id)
    _sync(user, incremental=True)
    assert_db_matches(user, student)
    parses.clear()
    again = _sync(user, incremental=True)
    assert parses == [] and again["rows_written"] == 0
    assert_db_matches(user, student)
