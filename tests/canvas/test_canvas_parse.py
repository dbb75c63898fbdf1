"""Canvas JSON -> rows: the documented samples, Canvas's quirks, and junk that must not crash."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from app.sync.parse import (
    clean_text,
    parse_bool,
    parse_course_list,
    parse_datetime,
    parse_float,
    parse_gradebook,
    parse_int,
)

# The example payloads from ../shared/canvas_samples, copied into the repository so a clone
# runs these tests instead of skipping them.
SAMPLES = Path(__file__).resolve().parents[1] / "canvas_samples"


def sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text(encoding="utf-8"))["body"]


def test_course_list_sample() -> None:
    courses = parse_course_list(sample("courses_list_page1.json"))
    assert courses.restricted == [45102]
    by_id = {c.canvas_course_id: c for c in courses.courses}
    bio = by_id[48213].row
    assert bio["name"] == "Bio 2"  # the nickname Canvas puts in `name`
    assert bio["apply_group_weights"] is True
    assert (bio["canvas_current_score"], bio["canvas_final_score"]) == (87.42, 61.3)
    assert by_id[48213].term == {
        "canvas_term_id": 87,
        "name": "Spring 2025",
        "start_at": datetime(2025, 1, 13, 6, tzinfo=UTC),
        "end_at": datetime(2025, 5, 16, 4, 59, 59, tzinfo=UTC),
    }
    # hide_final_grades: the computed_* keys are absent -> NULL, not 0
    orientation = by_id[47761]
    assert orientation.row["canvas_current_score"] is None
    assert orientation.term == {
        "canvas_term_id": 1,
        "name": "Default Term",
        "start_at": None,
        "end_at": None,
    }
    assert by_id[48990].row["name"] == "Éthique & Société — 社会学 101 🧪"
    assert courses.enrolled_ids == {48213, 48990, 45102, 47761}


def test_gradebook_sample_hidden_excused_and_rules() -> None:
    book = parse_gradebook(48213, sample("assignment_groups_with_assignments.json"))
    groups = {g["canvas_group_id"]: g for g in book.groups}
    assert groups[20411]["drop_lowest"] == 1 and groups[20411]["never_drop"] == [771204]
    assert groups[20412]["drop_lowest"] == 0 and groups[20412]["never_drop"] == []
    rows = {a["canvas_assignment_id"]: a for a in book.assignments}
    assert rows[771204]["score"] == 18.0 and rows[771204]["grade"] == "18"
    hidden = rows[771388]  # graded but not posted: the keys are absent
    assert hidden["score"] is None and hidden["grade"] is None
    assert hidden["graded_at"] == datetime(2025, 3, 10, 13, 40, tzinfo=UTC)
    excused = rows[771950]
    assert excused["is_excused"] is True and excused["score"] is None
    assert excused["due_at"] is None
    bonus = rows[772001]
    assert bonus["omit_from_final_grade"] is True and bonus["points_possible"] == 0.0
    assert bonus["grading_type"] == "pass_fail"
    assert {a["canvas_group_id"] for a in book.assignments} == {20411, 20412, 20413}


def test_three_request_plan_joins_submissions_by_assignment() -> None:
    groups = [{"id": 1, "name": "Labs", "position": 1, "group_weight": 40, "rules": {}}]
    assignments = [
        {"id": 10, "name": "Lab", "assignment_group_id": 1, "published": True},
        {"id": 11, "name": "Draft", "assignment_group_id": 1, "published": False},
    ]
    submissions = [
        {"assignment_id": 10, "score": 3, "grade": "3", "posted_at": "2025-01-01T00:00:00Z"},
        {"assignment_id": 11, "score": 1},
    ]
    book = parse_gradebook(5, groups, assignments, submissions)
    assert [a["canvas_assignment_id"] for a in book.assignments] == [10]
    assert book.assignments[0]["score"] == 3.0
    one = parse_gradebook(
        5, [{**groups[0], "assignments": [{**assignments[0], "submission": submissions[0]}]}]
    )
    assert one.content_hash == book.content_hash


def test_content_hash_changes_with_any_stored_field() -> None:
    base = [
        {
            "id": 1,
            "name": "G",
            "assignments": [{"id": 10, "name": "A", "submission": {"score": 1.0}}],
        }
    ]
    digest = parse_gradebook(1, base).content_hash
    assert parse_gradebook(1, json.loads(json.dumps(base))).content_hash == digest
    posted = json.loads(json.dumps(base))
    posted[0]["assignments"][0]["submission"]["posted_at"] = "2025-01-01T00:00:00Z"
    assert parse_gradebook(1, posted).content_hash != digest
    reweighted = json.loads(json.dumps(base))
    reweighted[0]["group_weight"] = 10
    assert parse_gradebook(1, reweighted).content_hash != digest
    noise = json.loads(json.dumps(base))
    noise[0]["assignments"][0]["html_url"] = "https://elsewhere"  # not stored: same hash
    assert parse_gradebook(1, noise).content_hash == digest


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-01-24T05:59:59Z", datetime(2025, 1, 24, 5, 59, 59, tzinfo=UTC)),
        ("2025-01-24T00:59:59-05:00", datetime(2025, 1, 24, 5, 59, 59, tzinfo=UTC)),
        ("2025-01-24T05:59:59", datetime(2025, 1, 24, 5, 59, 59, tzinfo=UTC)),
        ("not a date", None),
        ("", None),
        (None, None),
        (12345, None),
        ("9" * 500, None),
    ],
)
def test_parse_datetime(value: Any, expected: datetime | None) -> None:
    parsed = parse_datetime(value)
    assert parsed == expected
    if parsed is not None:
        assert parsed.tzinfo is not None and parsed.utcoffset().total_seconds() == 0


def test_scalar_coercion_of_junk() -> None:
    assert parse_float("9.5") == 9.5 and parse_float(True) is None
    assert parse_float("NaN") is None and parse_float(float("inf")) is None
    assert parse_float({"a": 1}) is None
    assert parse_int("42") == 42 and parse_int(4.0) == 4 and parse_int(4.5) is None
    assert parse_int(2**40) is None  # does not fit the INTEGER columns
    assert parse_bool("true") is True and parse_bool(None) is False and parse_bool([1]) is False
    assert clean_text("a\x00b") == "ab"
    assert clean_text("x\ud800y") == "x\ufffdy"  # a lone surrogate cannot be stored as UTF-8
    assert clean_text("What? ✔") == "What? ✔"
    assert clean_text("é" * 300, 255) == "é" * 255
    assert clean_text(["list"]) is None and clean_text(7.5) == "7.5"


def test_junk_gradebook_is_stored_or_skipped_never_fatal(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    payload = [
        "not a group",
        None,
        {"name": "group without id", "assignments": [{"id": 99}]},
        {
            "id": "7",
            "name": None,
            "group_weight": "heavy",
            "position": "first",
            "rules": {"drop_lowest": "2", "drop_highest": -1, "never_drop": [1, "x", None]},
            "assignments": [
                {
                    "id": 100,
                    "name": "y" * 5000,
                    "points_possible": "ten",
                    "due_at": "soon",
                    "submission": {"score": "9.5", "grade": 9.5, "excused": None, "late": "yes"},
                },
                {"name": "assignment without id"},
                None,
                {"id": 101, "workflow_state": "deleted"},
                {
                    "id": 102,
                    "assignment_group_id": 999,
                    "submission": "junk",
                    "unknown_field": {"deep": [1, 2]},
                },
                {"id": 103, "submission": {"excused": True, "score": 5, "grade": "5"}},
            ],
        },
    ]
    book = parse_gradebook(1, payload)
    assert [g["canvas_group_id"] for g in book.groups] == [7]
    group = book.groups[0]
    assert group["name"] == "Group 7" and group["weight"] is None and group["position"] is None
    assert (group["drop_lowest"], group["drop_highest"], group["never_drop"]) == (2, 0, [1])
    rows = {a["canvas_assignment_id"]: a for a in book.assignments}
    assert sorted(rows) == [100, 102, 103]
    assert len(rows[100]["name"]) == 255
    assert rows[100]["score"] == 9.5 and rows[100]["grade"] == "9.5"
    assert rows[100]["points_possible"] is None and rows[100]["due_at"] is None
    assert rows[100]["is_late"] is True
    assert rows[102]["canvas_group_id"] == 999 and rows[102]["score"] is None
    assert rows[103]["is_excused"] is True and rows[103]["score"] is None
    assert book.skipped >= 4
    assert any("without a usable id" in m for m in caplog.messages)


def test_junk_course_list_entries_are_counted() -> None:
    courses = parse_course_list(
        [
            {"name": "no id"},
            "string",
            {"id": 1},
            {"id": 1, "name": "dupe"},
            {
                "id": 2,
                "name": None,
                "course_code": "C2",
                "term": {"id": None},
                "enrollments": [
                    {
                        "type": "student",
                        "enrollment_state": "completed",
                        "computed_current_score": "88.5",
                    }
                ],
            },
        ]
    )
    assert courses.invalid == 2
    by_id = {c.canvas_course_id: c for c in courses.courses}
    assert by_id[1].name == "Course 1"
    assert by_id[2].name == "C2" and by_id[2].term is None
    assert by_id[2].concluded is True and by_id[2].row["canvas_current_score"] == 88.5
