"""A big gradebook fetched as concurrent pages stores exactly what the one request stores.

The split plan (app.sync.fetch.fetch_split: the groups alone beside
``/courses/:id/assignments?include[]=submission`` in pages) is used for a course whose last
written gradebook held ``SPLIT_AT`` assignments or more. Here the threshold is lowered so that
every course with an assignment takes it, in pages of a few assignments, on every simulator
preset; every stored column of every course, group and assignment must be what the one-request
plan stored.
"""

from __future__ import annotations

from typing import Any

import pytest
from school_year import MIDTERM
from sqlalchemy import select

from app.connections import create_canvas_sync_service
from app.extensions import db
from app.models import Assignment, Course, GradeCategory
from app.sync import fetch
from app.sync.parse import Gradebook
from simulator.datasets import PRESETS
from tests.conftest import connect_user
from tests.sync_helpers import assert_db_matches

# Columns that say when or from which bytes a row was written, not what it holds.
NOT_CONTENT = {"id", "created_at", "updated_at", "last_synced_canvas", "response_digest"}


def stored_rows(user_id: int) -> dict[str, Any]:
    """Every content column of the user's courses, groups and assignments, keyed by Canvas id."""
    courses = db.session.scalars(select(Course).where(Course.user_id == user_id)).all()
    local = {c.id: c.canvas_course_id for c in courses}

    def columns(row: Any, *skip: str) -> dict[str, Any]:
        return {c.key: getattr(row, c.key) for c in row.__table__.columns
                if c.key not in NOT_CONTENT and c.key not in skip}

    groups = db.session.scalars(
        select(GradeCategory).where(GradeCategory.course_id.in_(local))).all()
    canvas_group = {g.id: g.canvas_group_id for g in groups}
    assignments = db.session.scalars(
        select(Assignment).where(Assignment.course_id.in_(local))).all()
    rows = {
        "courses": {c.canvas_course_id: columns(c) for c in courses},
        "groups": {(local[g.course_id], g.canvas_group_id): columns(g, "course_id")
                   for g in groups},
        "assignments": {
            (local[a.course_id], a.canvas_assignment_id): {
                **columns(a, "course_id", "grade_category_id"),
                "group": canvas_group.get(a.grade_category_id)}
            for a in assignments},
    }
    db.session.commit()
    return rows


def _sync(user: Any, incremental: bool = False) -> Any:
    results = create_canvas_sync_service(user).sync_all_data(use_incremental=incremental)
    assert results["status"] == "succeeded", results["error"]
    return results


@pytest.mark.clock(MIDTERM)
@pytest.mark.parametrize("preset", PRESETS)
def test_split_plan_stores_what_the_one_request_plan_stores(
    app: Any, simulator: Any, monkeypatch: pytest.MonkeyPatch, preset: str
) -> None:
    user, student = connect_user(app, simulator, email=f"split-{preset}@example.edu",
                                 token=f"tok-split-{preset}", preset=preset)
    _sync(user)  # no sizes stored yet: one request per course
    one_request = stored_rows(user.id)
    sizes = {cid: c["gradebook_size"] for cid, c in one_request["courses"].items()}
    assert any(sizes.values())

    monkeypatch.setattr(fetch, "SPLIT_AT", 1)
    monkeypatch.setattr(fetch, "PAGE_SIZE", 3)  # several pages, planned from rel="last"
    simulator.stats.reset()
    _sync(user)
    assignment_pages = simulator.stats.by_path(r"/courses/\d+/assignments$")
    split_courses = {int(r.path.split("/")[4]) for r in assignment_pages}
    assert split_courses == {cid for cid, size in sizes.items() if size}
    assert all(r.query.get("include[]") == ["submission"] for r in assignment_pages)
    pages: dict[int, list[str]] = {}
    for r in assignment_pages:
        pages.setdefault(int(r.path.split("/")[4]), []).append(r.query.get("page", ["1"])[0])
    assert any(len(numbers) > 1 for numbers in pages.values())  # several pages a course
    for numbers in pages.values():  # each page once, all planned from the stored size
        assert sorted(numbers, key=int) == [str(n) for n in range(1, len(numbers) + 1)]
    assert simulator.stats.snapshot()["throttled"] == 0  # inside the bucket

    assert stored_rows(user.id) == one_request
    assert_db_matches(user, student)


@pytest.mark.clock(MIDTERM)  # courses in progress: a no-change sync reads their gradebooks
def test_split_pages_write_no_row_for_their_digest_and_skip_the_parse_after_a_change(
    app: Any, simulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first split sync of unchanged courses writes nothing (not even the new plan's
    digest: they are parsed instead); a change in a split course is written with its pages'
    digest, and its next no-change sync is not parsed."""
    user, student = connect_user(app, simulator, email="split-digest@example.edu",
                                 token="tok-split-digest")
    _sync(user)
    monkeypatch.setattr(fetch, "SPLIT_AT", 1)
    monkeypatch.setattr(fetch, "PAGE_SIZE", 4)
    parses: list[int] = []
    real_parse = fetch.parse_gradebook

    def counting_parse(canvas_course_id: int, *args: Any, **kwargs: Any) -> Gradebook:
        parses.append(canvas_course_id)
        return real_parse(canvas_course_id, *args, **kwargs)

    monkeypatch.setattr(fetch, "parse_gradebook", counting_parse)
    first = _sync(user, incremental=True)
    assert parses and first["rows_written"] == 0  # other bytes, the same rows

    course_id, assignment_id = student.any_assignment()
    student.delete_assignment(course_id, assignment_id)
    parses.clear()
    changed = _sync(user, incremental=True)
    assert course_id in parses and changed["rows_written"] > 0
    assert_db_matches(user, student)
    parses.clear()
    again = _sync(user, incremental=True)
    assert course_id not in parses and again["rows_written"] == 0
    assert_db_matches(user, student)


def test_a_list_longer_than_planned_is_read_again_whole(simulator: Any) -> None:
    """Pages planned from a stale size: when the last planned page says there is more, the
    list is read again from page 1's ``rel="last"``, so no assignment is left out."""
    from app.canvas.client import CanvasAPIService
    from app.outbound import OutboundPolicy

    student = simulator.add_student("tok-split-grown", preset="freshman")
    expected = student.expected()
    course_id = max(expected, key=lambda cid: len(expected[cid]["assignments"]))
    with CanvasAPIService(simulator.base_url, "tok-split-grown",
                          policy=OutboundPolicy(allow_private=True)) as client:
        whole = client.get_assignments(course_id, include_submission=True)
        assert len(whole) > 4
        for planned in (1, 2, 100):  # too few pages, then far too many (empty ones)
            pages = client.get_assignment_pages(course_id, per_page=2, pages=planned)
            items = client.decode_pages(course_id, pages, "assignments")
            assert [a["id"] for a in items] == [a["id"] for a in whole]


def test_pages_without_any_submission_fall_back_to_the_one_request(
    app: Any, simulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Assignments that all lack ``submission`` (a key that strips ``include[]``) are not read
    as "nothing submitted": the one request is sent, and its include check decides."""

    class Stripped:
        base_url = "https://canvas.test"

        def __init__(self) -> None:
            self.one_request = 0

        def get_group_pages(self, course_id: int) -> list[bytes]:
            return [b'[{"id": 7, "name": "HW", "position": 1, "group_weight": 0, "rules": {}}]']

        def get_assignment_pages(self, course_id: int, per_page: int,
                                 pages: int = 1) -> list[bytes]:
            return [b'[{"id": 70, "name": "A", "assignment_group_id": 7, "published": true}]']

        def get_assignment_groups_pages(self, course_id: int) -> list[bytes]:
            self.one_request += 1
            return [b'[{"id": 7, "name": "HW", "position": 1, "group_weight": 0, "rules": {},'
                    b' "assignments": [{"id": 70, "name": "A", "assignment_group_id": 7,'
                    b' "published": true, "submission": {"score": 1.0}}]}]']

        def decode_pages(self, course_id: int, pages: list[bytes], name: str = "") -> list[Any]:
            import json
            return [item for body in pages for item in json.loads(body)]

    client = Stripped()
    gradebook = fetch.fetch_gradebook(client, 1, None, size=500)  # type: ignore[arg-type]
    assert client.one_request == 1
    assert isinstance(gradebook, Gradebook)
    assert [a["canvas_assignment_id"] for a in gradebook.assignments] == [70]
