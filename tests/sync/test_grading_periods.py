"""Grading periods and letters as Canvas computes and shows them (issue 18).

The simulator against canvas-lms's own API specs, then the real sync over HTTP: weighted
periods read from ``GET /courses/:id/grading_periods`` (the course list has no weights, and no
course-level group), totals equal to Canvas's, letters for scheme 0 and an account's scheme,
Canvas's own letter on the pages, no all-periods total where Canvas hides it, and "what do I
need" answering on a weighted-period total.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from app import grades
from tests.auth_actions import sign_in
from tests.grades.test_grade_check import grades_json, local, sync
from tests.school_year import MIDTERM

# Weighted periods with one closed and graded work in each: the tests live mid-term
# (tests/school_year.py); test_grade_check's fidelity tests cover periods on every date.
pytestmark = pytest.mark.clock(MIDTERM)


def api(simulator: Any, token: str, path: str, **params: Any) -> requests.Response:
    response = requests.get(simulator.base_url + path, params=params,
                            headers={"Authorization": f"Bearer {token}"}, timeout=10)
    response.raise_for_status()
    return response


def course_where(student: Any, **facts: Any) -> int:
    return next(cid for cid, g in student.expected_grades().items()
                if all(g.get(k) == v for k, v in facts.items()))


# --- the simulator, as canvas-lms's specs say --------------------------------------------------


def test_grading_periods_index_lists_weights_and_jsonapi_meta(canvas_user: Any,
                                                              simulator: Any) -> None:
    """Mirrors spec/apis/v1/grading_periods_api_spec.rb "returns all existing grading periods"
    (each period has id, weight, start_date, end_date, title) and "paginates to the jsonapi
    standard" (``meta.pagination``, ``meta.primaryCollection == "grading_periods"``)."""
    _, student = canvas_user
    course_id = course_where(student, period_group_level="term")
    body = api(simulator, "tok-freshman-1", f"/api/v1/courses/{course_id}/grading_periods"
               ).json()
    assert body["meta"]["primaryCollection"] == "grading_periods"
    assert "pagination" in body["meta"]
    periods = body["grading_periods"]
    assert len(periods) == 2
    for period in periods:
        assert {"id", "weight", "start_date", "end_date", "title", "close_date", "is_closed",
                "is_last"} <= set(period)
    assert [p["weight"] for p in periods] == [40.0, 60.0]
    assert [p["is_last"] for p in periods] == [False, True]


def test_course_list_carries_only_the_terms_periods_without_weights(canvas_user: Any,
                                                                    simulator: Any) -> None:
    """canvas-lms lib/api/v1/course.rb ``course_json``: ``include[]=grading_periods`` is the
    term's group only, ``only: id title start_date end_date workflow_state``; a course-level
    group (``GradingPeriod.for``) shows only in ``/grading_periods``."""
    _, student = canvas_user
    listed = {c["id"]: c for c in api(simulator, "tok-freshman-1", "/api/v1/courses",
                                      per_page=100, **{"include[]": [
                                          "grading_periods", "current_grading_period_scores",
                                          "total_scores"]}).json()}
    term = listed[course_where(student, period_group_level="term")]
    assert all(set(p) == {"id", "title", "start_date", "end_date", "workflow_state"}
               for p in term["grading_periods"])
    own_id = course_where(student, period_group_level="course")
    own = listed[own_id]
    assert not own["grading_periods"] and own["has_grading_periods"] is True
    full = api(simulator, "tok-freshman-1", f"/api/v1/courses/{own_id}/grading_periods").json()
    assert len(full["grading_periods"]) == 2
    assert full["grading_periods_read_only"] is False  # the course's own group
    # "Display Totals for 'All Grading Periods'" off: the flag, while the API still sends the
    # total (Canvas's pages hide it: gradebooks_controller_spec.rb "does not display totals
    # if 'All Grading Periods' is selected").
    assert own["enrollments"][0]["totals_for_all_grading_periods_option"] is False
    assert "computed_current_score" in own["enrollments"][0]


def test_scheme_zero_and_an_account_scheme(canvas_user: Any, simulator: Any) -> None:
    """Course#grading_standard_enabled= (``grading_standard_id ||= 0``) and
    lib/api/v1/course.rb (``include[]=grading_scheme`` is ``grading_standard_or_default.data``);
    grading_standards_api_controller.rb#context_show finds only the course's own standards."""
    _, student = canvas_user
    token = "tok-freshman-1"
    default_id = course_where(student, grading_standard_id=0)
    course = api(simulator, token, f"/api/v1/courses/{default_id}",
                 **{"include[]": "grading_scheme"}).json()
    assert course["grading_standard_id"] == 0
    assert course["grading_scheme"] == [[n, v] for n, v in grades.CANVAS_DEFAULT_SCHEME]
    account_id = next(c for c in student.expected_grades()
                      if (s := student.course(c).grading_standard) is not None
                      and s.context_type == "Account")
    sid = student.course(account_id).grading_standard.id
    answer = requests.get(f"{simulator.base_url}/api/v1/courses/{account_id}/grading_standards/"
                          f"{sid}", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert answer.status_code == 404
    scheme = api(simulator, token, f"/api/v1/courses/{account_id}",
                 **{"include[]": "grading_scheme"}).json()["grading_scheme"]
    assert grades.parse_scheme(scheme) == grades.parse_scheme(
        student.expected_grades()[account_id]["grading_scheme"])


# --- the sync, the CLI and the pages ------------------------------------------------------------


def test_weighted_periods_total_equals_canvas_course_and_each_period(
        canvas_user: Any, runner: Any) -> None:
    user, student = canvas_user
    sync(user)
    rows = grades_json(runner, user.email)
    course_id = course_where(student, period_group_level="term")
    expected = student.expected_grades()[course_id]
    row = rows[course_id]
    assert row["weighted_periods"] is True
    assert row["current_score"] == row["canvas_current_score"] == expected["current_score"]
    assert row["current_score"] is not None
    assert row["final_score"] == expected["final_score"]
    assert row["differs"] is False
    assert [(p["weight"], p["current_score"], p["final_score"]) for p in row["grading_periods"]] \
        == [(p["weight"], p["current_score"], p["final_score"])
            for p in expected["grading_periods"]]
    assert [p["is_closed"] for p in row["grading_periods"]] == [True, False]


def test_course_level_period_group_is_read_and_its_total_hidden(
        canvas_user: Any, runner: Any, client: Any) -> None:
    user, student = canvas_user
    sync(user)
    course_id = course_where(student, period_group_level="course")
    expected = student.expected_grades()[course_id]
    row = grades_json(runner, user.email)[course_id]
    # The periods came from /grading_periods (the course list had none), with their weights.
    assert [(p["id"], p["weight"]) for p in row["grading_periods"]] == [
        (p["id"], p["weight"]) for p in expected["grading_periods"]]
    assert [p["current_score"] for p in row["grading_periods"]] == [
        p["current_score"] for p in expected["grading_periods"]]
    # Canvas hides the all-periods total here: no total of ours either, and nothing "differs".
    assert (row["totals_for_all_periods"], row["current_score"], row["letter"]) == (
        False, None, None)
    assert row["differs"] is False
    # ... while the sync still checked our total against the one Canvas's API sends.
    assert local(course_id).our_current_score == expected["current_score"]
    assert local(course_id).score_difference == 0.0
    sign_in(client, user.email)
    page = client.get(f"/courses/{local(course_id).id}").get_data(as_text=True)
    assert "data-total-hidden" in page and "All grading periods" not in page
    dashboard = client.get("/").get_data(as_text=True)
    assert "data-period-scope" in dashboard


def test_letters_for_scheme_zero_and_an_account_scheme_are_canvas_own(
        canvas_user: Any, runner: Any, client: Any) -> None:
    user, student = canvas_user
    sync(user)
    rows = grades_json(runner, user.email)
    default_id = course_where(student, grading_standard_id=0)
    account_id = next(c for c in student.expected_grades()
                      if (s := student.course(c).grading_standard) is not None
                      and s.context_type == "Account")
    for course_id in (default_id, account_id):
        expected = student.expected_grades()[course_id]
        assert rows[course_id]["letter"] == expected["letter"] is not None
        stored = local(course_id)
        # The scheme is stored for what-if and "what do I need" (our letters come from it).
        assert grades.parse_scheme(stored.grading_scheme) == grades.parse_scheme(
            expected["grading_scheme"])
    assert local(default_id).grading_standard_id == 0
    # Canvas's own letter on the dashboard and the course page.
    sign_in(client, user.email)
    with_letter = local(account_id)
    dashboard = client.get("/").get_data(as_text=True)
    name = html_name(with_letter.name)
    row_html = dashboard[dashboard.index(name):]
    row_html = row_html[:row_html.index("</tr>")]
    assert f">{with_letter.canvas_current_grade}</td>" in row_html
    page = client.get(f"/courses/{with_letter.id}").get_data(as_text=True)
    assert with_letter.canvas_current_grade in page


def html_name(name: str) -> str:
    import html
    return html.escape(name)


def test_what_do_i_need_answers_on_a_weighted_period_total(
        canvas_user: Any, client: Any) -> None:
    user, student = canvas_user
    sync(user)
    course = local(course_where(student, period_group_level="term"))
    target = next(a for a in student.course(course.canvas_course_id).visible_assignments()
                  if a.submission.visible_score is None and (a.points_possible or 0) > 0
                  and a.grading_period_id is not None and not a.omit_from_final_grade)
    from app.extensions import db
    from app.models import Assignment
    row = db.session.scalars(db.select(Assignment).where(
        Assignment.course_id == course.id,
        Assignment.canvas_assignment_id == target.id)).one()
    sign_in(client, user.email)
    answer = client.post(f"/courses/{course.id}/what-if?period=all", json={
        "scores": {}, "target": {"assignment_id": row.id, "percent": 1}}).get_json()
    assert answer["current"]["percent"] == pytest.approx(
        student.expected_grades()[course.canvas_course_id]["current_score"], abs=0.01)
    assert answer["needed"] is not None and answer["needed"]["score"] is not None, json.dumps(
        answer)
