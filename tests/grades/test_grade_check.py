"""The grade check (issue 12), on SQLite and Postgres: ``flask grades --json`` equals Canvas.

After a full and after an incremental sync, our score of every course and every grading
period of every preset equals the simulator's Canvas score (``expected_grades()``, an oracle
independent of ``app.grades``); hidden totals are an estimate, never "differs"; the course page
shows late deductions and switches between grading periods.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

import pytest
from sqlalchemy import select

from app.connections import create_canvas_sync_service
from app.extensions import db
from app.models import Assignment, Course
from tests.auth_actions import sign_in
from tests.conftest import connect_user
from tests.school_year import MIDTERM

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
        assert row["differs"] is False, where
        if expected["grading_periods"] and not expected["totals_for_all_grading_periods_option"]:
            # Canvas shows no total over all periods here: neither do we (periods below).
            assert row["totals_for_all_periods"] is False, where
            assert (row["current_score"], row["canvas_current_score"], row["letter"]) == (
                None, None, None), where
        elif not expected["hide_final_grades"]:
            assert row["canvas_current_score"] == expected["current_score"], where
            assert row["current_score"] == expected["current_score"], where
            assert row["final_score"] == expected["final_score"], where
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
                assert got["final_score"] == period["final_score"], (where, period)
            if period["id"] == expected["current_grading_period_id"]:
                assert got["canvas_current_score"] == period["current_score"], where
                assert got["letter"] == period["letter"], where


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


# --- the pages -----------------------------------------------------------------------------




def course_with_periods(student: Any) -> tuple[int, dict[str, Any]]:
    return next((cid, g) for cid, g in student.expected_grades().items()
                if g["grading_periods"] and g["current_grading_period_id"]
                and not g["hide_final_grades"])


def local(canvas_course_id: int) -> Course:
    return db.session.scalars(
        select(Course).where(Course.canvas_course_id == canvas_course_id)).one()


@pytest.mark.clock(MIDTERM)  # needs a term in progress with graded work
def test_course_page_opens_on_the_current_period_and_switches(
    canvas_user: Any, client: Any
) -> None:
    user, student = canvas_user
    sync(user)
    sign_in(client, user.email)
    canvas_id, expected = course_with_periods(student)
    course = local(canvas_id)
    current = expected["current_grading_period_id"]
    other = next(p for p in expected["grading_periods"] if p["id"] != current)
    names = {a.canvas_assignment_id: a.name for a in db.session.scalars(
        select(Assignment).where(Assignment.course_id == course.id))}
    in_period = {pid: {names[aid] for aid, p in expected["assignment_periods"].items()
                       if p == pid} for pid in (current, other["id"])}

    page = client.get(f"/courses/{course.id}").get_data(as_text=True)
    selected = re.search(r'data-period="(\w+)" aria-current="page"', page)
    assert selected and selected.group(1) == str(current)  # opens on the current period
    rows = set(re.findall(r'<td class="cell-name">([^<]*)</td>', page))
    assert rows == {html.escape(n) for n in in_period[current]}

    # The switcher is plain links: the other period, then every period.
    assert f'href="/courses/{course.id}?period={other["id"]}"' in page
    assert f'href="/courses/{course.id}?period=all"' in page
    page = client.get(f"/courses/{course.id}?period={other['id']}").get_data(as_text=True)
    rows = set(re.findall(r'<td class="cell-name">([^<]*)</td>', page))
    assert rows == {html.escape(n) for n in in_period[other["id"]]}
    score = other["current_score"]
    shown = re.search(r"data-period-score><span data-current-percent>([^<]*)<", page)
    assert shown and shown.group(1) == ("—" if score is None else f"{score:.2f}%")
    page = client.get(f"/courses/{course.id}?period=all").get_data(as_text=True)
    assert len(re.findall(r'<td class="cell-name">', page)) == len(names)
    total = re.search(r"data-current-percent data-course-total>([^<]*)<", page)
    assert total and total.group(1) == f"{expected['current_score']:.2f}%"

    # What-if for one period answers with that period's grade, and the total without.
    period = next(p for p in expected["grading_periods"] if p["id"] == current)
    answer = client.post(f"/courses/{course.id}/what-if?period={current}", json={"scores": {}})
    assert answer.get_json()["current"]["percent"] == pytest.approx(period["current_score"],
                                                                    abs=0.005)
    answer = client.post(f"/courses/{course.id}/what-if?period=all", json={"scores": {}})
    assert answer.get_json()["current"]["percent"] == pytest.approx(expected["current_score"],
                                                                    abs=0.005)


@pytest.mark.clock(MIDTERM)  # needs a term in progress with graded work
def test_late_deduction_shown_on_the_course_page(canvas_user: Any, client: Any) -> None:
    user, _student = canvas_user
    sync(user)
    sign_in(client, user.email)
    late = db.session.scalars(select(Assignment).where(Assignment.points_deducted > 0)).first()
    assert late is not None and late.entered_score is not None
    # The page of the item's own grading period (a course whose teacher hides the all-periods
    # total has no "all" view, as on Canvas: CourseReport.shows_total).
    period = late.grading_period_id or "all"  # ?period= takes Canvas's period id
    page = client.get(f"/courses/{late.course_id}?period={period}").get_data(as_text=True)
    row = page[page.index(f'data-assignment-id="{late.id}"'):]
    row = row[:row.index("</tr>")]

    def num(value: float) -> str:
        return f"{value:.2f}".rstrip("0").rstrip(".")

    assert (f"entered {num(late.entered_score)}, −{num(late.points_deducted)} late = "
            f"{num(late.score)}") in row


def test_hidden_totals_are_our_estimate_and_never_differ(app: Any, simulator: Any,
                                                         client: Any) -> None:
    user, student = connect_user(app, simulator, email="hid@example.edu", token="tok-hid",
                                 preset="senior")
    sync(user)
    hidden = [cid for cid, g in student.expected_grades().items() if g["hide_final_grades"]]
    assert hidden
    course = local(hidden[0])
    assert course.score_difference is None and course.our_current_score is not None
    sign_in(client, user.email)
    page = client.get("/").get_data(as_text=True)
    row = page[page.index(f'data-course-id="{course.id}"'):]
    row = row[:row.index("</tr>")]
    assert "our estimate" in row and "data-differs" not in row
    assert f"{course.our_current_score:.2f}%" in row
    page = client.get(f"/courses/{course.id}").get_data(as_text=True)
    assert "our estimate" in page and "data-differs" not in page


def test_the_grade_check_stores_the_difference(canvas_user: Any, client: Any) -> None:
    user, student = canvas_user
    sync(user)
    for canvas_id, expected in student.expected_grades().items():
        course = local(canvas_id)
        assert course.our_current_score == expected["current_score"]
        if expected["current_score"] is not None:
            assert course.score_difference == 0.0
        if expected["current_grading_period_id"]:
            assert course.period_score_difference in (0.0, None)


@pytest.mark.clock(MIDTERM)  # needs a term in progress with graded work
def test_grading_schemes_are_read_once_and_again_only_when_they_change(
    canvas_user: Any, simulator: Any, runner: Any
) -> None:
    from simulator.model import GradingStandard

    user, student = canvas_user
    sync(user)
    schemes = r"/grading_standards/"
    simulator.reset_stats()
    sync(user)
    sync(user, incremental=True)
    assert simulator.stats.by_path(schemes) == []  # unchanged: no request
    canvas_id = next(cid for cid, g in student.expected_grades().items()
                     if g["grading_scheme"] and not g["hide_final_grades"])
    with student.lock:  # the teacher picks another scheme: pass/fail at 50%
        course = student.course(canvas_id)
        course.grading_standard = GradingStandard(990001, "Pass/fail", (("Pass", 0.5),
                                                                          ("Fail", 0.0)))
        course.touch()
    sync(user, incremental=True)
    assert len(simulator.stats.by_path(schemes)) == 1
    row = grades_json(runner, user.email)[canvas_id]
    assert row["letter"] == student.expected_grades()[canvas_id]["letter"]
    assert row["letter"] in ("Pass", "Fail")


def test_a_no_change_sync_skips_the_grade_maths_and_a_changed_fact_redoes_it(
    app: Any, simulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.grades import check as gradecheck  # where the sync's grade check calls the maths

    user, student = connect_user(app, simulator, email="chk@example.edu", token="tok-chk",
                                 preset="senior")
    sync(user)
    before = {c.canvas_course_id: (c.our_current_score, c.score_difference)
              for c in db.session.scalars(select(Course))}
    checked: list[int] = []
    real = gradecheck.check_values

    def counting(row: Any, *args: Any) -> Any:
        checked.append(row["canvas_course_id"])
        return real(row, *args)

    monkeypatch.setattr(gradecheck, "check_values", counting)
    sync(user, incremental=True)
    assert checked == []  # nothing the check reads changed: the stored result stands
    db.session.expire_all()
    assert {c.canvas_course_id: (c.our_current_score, c.score_difference)
            for c in db.session.scalars(select(Course))} == before

    # A fact the check reads changes without a gradebook change: that course is checked again.
    shown = next(cid for cid, g in student.expected_grades().items()
                 if g["current_score"] is not None and not g["hide_final_grades"]
                 and not g["current_grading_period_id"] and not local(cid).hide_final_grades
                 and local(cid).workflow_state == "available")
    with student.lock:
        student.course(shown).hide_final_grades = True
    sync(user, incremental=True)
    assert checked == [shown]
    db.session.expire_all()
    assert local(shown).score_difference is None  # hidden totals: nothing to differ from


@pytest.mark.clock(MIDTERM)
def test_grades_json_names_each_course_term_and_whether_it_is_concluded_or_an_estimate(
    app: Any, simulator: Any, runner: Any
) -> None:
    user, student = connect_user(app, simulator, email="terms@example.edu",
                                 token="tok-gc-terms", preset="senior")
    sync(user)
    rows = grades_json(runner, "terms@example.edu")
    expected = student.expected()
    for course_id, row in rows.items():
        assert row["term"] == expected[course_id]["term"]["name"], row["name"]
        assert row["concluded"] is expected[course_id]["concluded"], row["name"]
        hidden = student.expected_grades()[course_id]["hide_final_grades"]
        assert row["estimate"] is bool(hidden), row["name"]
    assert len({row["term"] for row in rows.values()}) > 1  # a senior has past terms
