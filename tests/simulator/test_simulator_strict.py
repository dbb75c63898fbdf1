"""The simulator is as strict as Canvas on CANVAS_API.md "Read first" and §7, over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

import clock
from app.grades import parse_scheme, scheme_letter
from simulator import CanvasSimulator, SimulatorConfig
from simulator.specs import SHARD_FACTOR
from simulator.student import Student
from tests.school_year import MIDTERM

UA = {"User-Agent": "gradesync-tests/1.0"}


@pytest.fixture(scope="module")
def sim() -> Iterator[CanvasSimulator]:
    with CanvasSimulator(SimulatorConfig()) as simulator:
        simulator.add_student("fresh", preset="freshman", seed=3)
        simulator.add_student("senior", preset="senior", seed=1)
        yield simulator


@pytest.fixture(scope="module")
def sim_midterm() -> Iterator[CanvasSimulator]:
    """The freshman of ``sim``, built mid-term: a term in progress, Quarter 1 closed."""
    with CanvasSimulator(SimulatorConfig()) as simulator:
        with clock.pinned(MIDTERM):  # only while the dataset is built: no clock leaks out
            simulator.add_student("fresh", preset="freshman", seed=3)
        yield simulator


def get(sim: CanvasSimulator, token: str, path: str, **params: Any) -> requests.Response:
    headers = {**UA, "Authorization": f"Bearer {token}"}
    return requests.get(sim.base_url + path, params=params, headers=headers, timeout=10)


def course_ids(sim: CanvasSimulator, token: str, **params: Any) -> set[int]:
    return {c["id"] for c in get(sim, token, "/api/v1/courses", per_page=100, **params).json()}


def ended(student: Student, how: str) -> int:
    """A readable student course of a past term that ended ``how``."""
    for c in student.courses.values():
        if not (c.visible and c.is_student and c.date_concluded):
            continue
        kind = ("teacher" if c.workflow_state == "completed" else
                "registrar" if c.enrollment_state == "completed" else "date")
        if kind == how:
            return c.id
    raise LookupError(how)


STUDENT = {"state[]": "current_and_concluded", "type[]": "StudentEnrollment"}


def own_enrollments(sim: CanvasSimulator, token: str, **params: Any) -> list[dict[str, Any]]:
    return get(sim, token, "/api/v1/users/self/enrollments", per_page=100, **params).json()


def test_default_list_keeps_date_concluded_and_each_ending_has_its_list(
        sim: CanvasSimulator) -> None:
    """Corrected (an earlier version asserted that ``enrollment_state=completed`` held the
    teacher-concluded and registrar-completed courses: on Canvas it holds neither)."""
    senior = sim.student("senior")
    by_date, by_teacher, by_registrar = (ended(senior, h) for h in
                                         ("date", "teacher", "registrar"))
    default = course_ids(sim, "senior")
    assert by_date in default and by_teacher not in default and by_registrar not in default
    # enrollment_state=completed alone: the default list's courses over by date, no more.
    completed = course_ids(sim, "senior", enrollment_state="completed")
    assert by_date in completed and completed <= default
    assert not {by_teacher, by_registrar} & completed
    active = course_ids(sim, "senior", enrollment_state="active")
    assert not {by_date, by_teacher, by_registrar} & active
    # state[]=completed: the teacher-concluded courses; state[]=available: active or invited
    # enrollments in available courses (over by date too), never a completed enrollment.
    assert by_teacher in course_ids(sim, "senior", **{"state[]": "completed"})
    available = course_ids(sim, "senior", **{"state[]": "available"})
    assert by_date in available and not {by_teacher, by_registrar} & available
    # The registrar's completion is in no /courses list; the enrollments list has it.
    lists = default | course_ids(sim, "senior", **{"state[]": ["available", "completed"]})
    assert by_registrar not in lists
    rows = own_enrollments(sim, "senior", **STUDENT)
    assert {r["course_id"] for r in rows} >= {by_date, by_teacher, by_registrar}
    assert all(r["type"] == "StudentEnrollment" for r in rows)
    # Together the lists hold every student course: nothing is lost when a term ends
    assert set(senior.expected()) <= lists | {r["course_id"] for r in rows}
    for course_id in (by_teacher, by_registrar):
        row = next(r for r in rows if r["course_id"] == course_id)
        assert row["enrollment_state"] == "completed"
        assert row["grades"]["current_score"] == senior.expected()[course_id][
            "computed_current_score"]


@pytest.mark.clock(MIDTERM)  # needs a term in progress: after it, every course is over by date
def test_enrollment_state_alone_filters_the_default_list_by_date() -> None:
    """CL courses_controller.rb#courses_for_user without state[]: the currentish enrollments,
    then ``enrollments.select!(&:completed?)`` (by date) for ``enrollment_state=completed``;
    ``enrollment_state=active`` is ``participating_enrollments``. Mirrors courses_api_spec.rb
    describe "enrollment_state": "returns courses with completed enrollments" (only the
    course over by its dates) and "returns courses with active enrollments" (not that one)."""
    with CanvasSimulator() as simulator:
        student = simulator.add_student("e", preset="freshman", seed=5)
        current, over, by_teacher, by_registrar = student.visible_course_ids()[:4]
        student.conclude_by_date(over)
        student.conclude_course(by_teacher)
        student.registrar_complete(by_registrar)
        typed = {"enrollment_type": "student"}
        assert course_ids(simulator, "e", enrollment_state="completed", **typed) == {over}
        active = course_ids(simulator, "e", enrollment_state="active", **typed)
        assert current in active and not {over, by_teacher, by_registrar} & active
        default = course_ids(simulator, "e", **typed)
        assert {current, over} <= default and not {by_teacher, by_registrar} & default


@pytest.mark.clock(MIDTERM)  # needs a term in progress: after it, every course is over by date
def test_course_state_lists_go_by_the_course_workflow_state() -> None:
    """CL ``Enrollment::QueryBuilder.new(nil, course_workflow_state: s,
    enforce_course_workflow_state: true)`` per state[] (COURSE_ENROLLMENT_STATE_MAP: available
    -> current_and_invited, completed -> completed); ``enrollment_state`` then filters in SQL
    by date. Mirrors courses_api_spec.rb describe "course state": "returns only courses with
    state available on ?state[]=available" (every listed course is available), and the same
    for state[]=completed. state[]=completed needs no enrollment_state: adding
    ``completed_by_date`` changes nothing, a teacher-concluded enrollment is completed."""
    with CanvasSimulator() as simulator:
        student = simulator.add_student("s", preset="freshman", seed=6)
        current, over, by_teacher, by_registrar = student.visible_course_ids()[:4]
        student.conclude_by_date(over)
        student.conclude_course(by_teacher)
        student.registrar_complete(by_registrar)
        for state in ("available", "completed"):
            listed = get(simulator, "s", "/api/v1/courses", per_page=100,
                         **{"state[]": state}).json()
            assert {c["workflow_state"] for c in listed if "workflow_state" in c} == {state}
        assert {current, over} <= course_ids(simulator, "s", **{"state[]": "available"})
        assert course_ids(simulator, "s", **{"state[]": "completed"}) == {by_teacher}
        assert course_ids(simulator, "s", enrollment_state="completed",
                          **{"state[]": "completed"}) == {by_teacher}
        assert course_ids(simulator, "s", enrollment_state="completed",
                          **{"state[]": "available"}) == {over}
        both = course_ids(simulator, "s", **{"state[]": ["available", "completed"]})
        assert by_teacher in both and by_registrar not in both


@pytest.mark.clock(MIDTERM)  # needs a term in progress: after it, every course is over by date
def test_a_registrar_completed_enrollment_is_only_in_the_enrollments_list() -> None:
    """CL enrollments_api_controller.rb#user_index_enrollments (own enrollments, state[]):
    ``enrollment_index_conditions(true)`` ORs a QueryBuilder per state and
    ``enrollment_states_for_state_param`` turns current_and_concluded into active and
    completed. Mirrors enrollments_api_spec.rb "accepts multiple state[] filters" (an
    enrollment set to completed is listed with state[]=active&state[]=completed)."""
    with CanvasSimulator() as simulator:
        student = simulator.add_student("r", preset="freshman", seed=7)
        course_id = student.visible_course_ids()[0]
        student.registrar_complete(course_id)
        both = own_enrollments(simulator, "r", **{"state[]": ["active", "completed"]})
        pending = next(c.id for c in student.courses.values() if c.restricted)  # by date
        assert sorted(r["course_id"] for r in both) == sorted(
            set(student.course_ids()) - {pending})
        row = next(r for r in own_enrollments(simulator, "r", **STUDENT)
                   if r["course_id"] == course_id)
        assert row["enrollment_state"] == "completed" and row["type"] == "StudentEnrollment"
        want = student.expected()[course_id]
        assert row["grades"]["current_score"] == want["computed_current_score"]
        assert row["grades"]["final_score"] == want["computed_final_score"]
        assert course_id not in course_ids(simulator, "r", **{
            "state[]": ["available", "completed", "unpublished", "deleted"]})
        assert course_id not in course_ids(simulator, "r", enrollment_state="completed")
        bad = get(simulator, "r", "/api/v1/users/self/enrollments",
                  **{"state[]": "finished"})
        assert bad.status_code == 400 and bad.json() == {"error": "Invalid state finished"}


@pytest.mark.clock(MIDTERM)  # needs a term in progress: after it, every course is over by date
def test_own_enrollments_without_state_leave_out_the_ones_over_by_date() -> None:
    """Without state[]: ``current_and_invited`` enrollments whose state by date is not
    completed. Mirrors enrollments_api_spec.rb "excludes invited enrollments in
    soft-concluded courses" (a course of a term that ended is not listed)."""
    with CanvasSimulator() as simulator:
        student = simulator.add_student("d", preset="freshman", seed=8)
        over, current = student.visible_course_ids()[:2]
        student.conclude_by_date(over)
        listed = {r["course_id"] for r in own_enrollments(
            simulator, "d", **{"type[]": "StudentEnrollment"})}
        assert current in listed and over not in listed
        assert over in {r["course_id"] for r in own_enrollments(simulator, "d", **STUDENT)}


def test_enrollment_grades_hide_with_the_totals_and_only_students_have_them(
        sim: CanvasSimulator) -> None:
    """CL lib/api/v1/user.rb#enrollment_json: ``grades`` only for a student enrollment
    (``grades_hash``), scores only under ``grade_permissions?`` (the student's own, while the
    course does not hide totals). Mirrors enrollments_api_spec.rb "does not display grades
    when hide_final_grades is true for the course" (grades keys == html_url) and "properly
    filters by multiple enrollment types" (no grades on a teacher's enrollment)."""
    senior = sim.student("senior")
    hidden = next(c for c in senior.courses.values() if c.hide_final_grades)
    rows = {r["course_id"]: r for r in own_enrollments(sim, "senior",
                                                       **{"state[]": "current_and_concluded"})}
    assert list(rows[hidden.id]["grades"]) == ["html_url"]
    roles = [r for r in rows.values() if r["type"] != "StudentEnrollment"]
    assert roles and all("grades" not in r for r in roles)


def test_enrollments_are_bookmark_pages_in_type_name_id_order(sim: CanvasSimulator) -> None:
    """CL enrollments_api_controller.rb#index: ``BookmarkedCollection`` on (type,
    sortable_name, id). Mirrors enrollments_api_spec.rb describe "pagination", "bookmarked
    pagination": "properly paginates" (page=1&per_page=1 gives current, next and first
    links; the next link's bookmark gives the second enrollment; never prev or last)."""
    first = get(sim, "senior", "/api/v1/users/self/enrollments", page=1, per_page=1,
                **{"state[]": "current_and_concluded"})
    assert set(first.links) == {"current", "next", "first"}
    bookmark = parse_qs(urlsplit(first.links["next"]["url"]).query)["page"][0]
    assert bookmark.startswith("bookmark:")
    second = get(sim, "senior", "/api/v1/users/self/enrollments", page=bookmark, per_page=1,
                 **{"state[]": "current_and_concluded"})
    everything = own_enrollments(sim, "senior", **{"state[]": "current_and_concluded"})
    assert [first.json()[0]["id"], second.json()[0]["id"]] == [e["id"] for e in everything[:2]]
    assert "prev" not in second.links and "last" not in second.links
    types = [e["type"] for e in everything]
    assert types == sorted(types)  # same user: by type, then by id
    for kind in set(types):
        ids = [e["id"] for e in everything if e["type"] == kind]
        assert ids == sorted(ids)


def test_show_of_a_completed_enrollment_answers_no_enrollments() -> None:
    """CL courses_controller.rb#show renders ``@course.current_enrollments`` of the user, and
    Course#current_enrollments leaves completed enrollments out. Mirrors courses_api_spec.rb
    describe "#show": "gets individual course data" (``enrollments`` is the user's current
    enrollment), with the enrollment completed by the registrar or the teacher."""
    with CanvasSimulator() as simulator:
        student = simulator.add_student("c", preset="freshman", seed=9)
        current, by_teacher, by_registrar = student.visible_course_ids()[:3]
        student.conclude_course(by_teacher)
        student.registrar_complete(by_registrar)
        params = {"include[]": ["term", "total_scores", "concluded"]}
        body = get(simulator, "c", f"/api/v1/courses/{current}", **params).json()
        assert [e["enrollment_state"] for e in body["enrollments"]] == ["active"]
        assert "computed_current_score" in body["enrollments"][0]
        for course_id in (by_teacher, by_registrar):
            body = get(simulator, "c", f"/api/v1/courses/{course_id}", **params).json()
            assert body["id"] == course_id and body["enrollments"] == []
        assert get(simulator, "c", f"/api/v1/courses/{by_teacher}").json()["workflow_state"] == (
            "completed")


def test_roles_are_listed_but_carry_no_student_data(sim: CanvasSimulator) -> None:
    senior = sim.student("senior")
    roles = senior.role_course_ids()
    listed = get(sim, "senior", "/api/v1/courses", per_page=100,
                 **{"include[]": "total_scores"}).json()
    types = {c["id"]: c["enrollments"][0]["type"] for c in listed if "enrollments" in c}
    assert {types[r] for r in roles if r in types} == {"observer", "ta"}
    assert not set(roles) & course_ids(sim, "senior", enrollment_type="student")
    assert not set(roles) & set(senior.expected())
    observer = next(c for c in listed if types.get(c["id"]) == "observer")
    assert "computed_current_score" not in observer["enrollments"][0]
    subs = get(sim, "senior", f"/api/v1/courses/{observer['id']}/students/submissions").json()
    assert subs == []
    rows = get(sim, "senior", "/api/v1/users/self/enrollments", per_page=100,
               **{"state[]": "current_and_concluded"}).json()
    assert {"ObserverEnrollment", "TaEnrollment"} <= {r["type"] for r in rows}
    fresh_ta = sim.student("fresh").role_course_ids()[0]
    assert fresh_ta in course_ids(sim, "fresh")
    assert fresh_ta not in course_ids(sim, "fresh", enrollment_type="student")


def test_cross_shard_course_has_64_bit_ids_everywhere(sim: CanvasSimulator) -> None:
    fresh = sim.student("fresh")
    big = [c for c in fresh.visible_course_ids() if c > 2**31]
    assert len(big) == 1 and big[0] // SHARD_FACTOR == 7
    groups = get(sim, "fresh", f"/api/v1/courses/{big[0]}/assignment_groups", per_page=100,
                 **{"include[]": ["assignments", "submission"]}).json()
    assert groups and all(g["id"] > 2**31 for g in groups)
    assignments = [a for g in groups for a in g["assignments"]]
    assert all(a["id"] > 2**31 and a["submission"]["id"] > 2**31 for a in assignments)
    assert get(sim, "fresh", f"/api/v1/courses/{big[0]}").json()["id"] == big[0]


@pytest.mark.clock(MIDTERM)  # needs a term in progress with graded work
def test_weighted_grading_periods_one_closed(sim_midterm: CanvasSimulator) -> None:
    fresh = sim_midterm.student("fresh")
    course_id = next(c for c in fresh.visible_course_ids() if fresh.course(c).grading_periods)
    body = get(sim_midterm, "fresh", f"/api/v1/courses/{course_id}/grading_periods").json()
    periods = body["grading_periods"]
    assert [p["is_closed"] for p in periods] == [True, False]
    assert [p["weight"] for p in periods] == [40.0, 60.0]
    listed = next(c for c in get(sim_midterm, "fresh", "/api/v1/courses", per_page=100, **{
        "include[]": ["grading_periods", "current_grading_period_scores", "total_scores"]}
    ).json() if c["id"] == course_id)
    assert listed["has_weighted_grading_periods"] is True
    assert [p["id"] for p in listed["grading_periods"]] == [p["id"] for p in periods]
    enrollment = listed["enrollments"][0]
    assert enrollment["has_grading_periods"] is True
    assert enrollment["current_grading_period_id"] == periods[1]["id"]
    grades = fresh.expected_grades()[course_id]
    q1, q2 = grades["grading_periods"]
    assert enrollment["current_period_computed_current_score"] == q2["current_score"]
    # The builder guarantees a graded, posted item in each period, whatever the day, so the
    # current score counts both weights (lib/grade_calculator.rb
    # apply_grading_period_weights_to_scores: a period's weight counts in the current score
    # only when it has a current score; in the final score always).
    assert q1["current_score"] is not None and q2["current_score"] is not None
    want = (q1["current_score"] * 40 + q2["current_score"] * 60) / 100
    assert enrollment["computed_current_score"] == pytest.approx(want, abs=0.011)
    final = (q1["final_score"] * 40 + q2["final_score"] * 60) / 100
    assert enrollment["computed_final_score"] == pytest.approx(final, abs=0.011)
    # Submissions carry grading_period_id; assignments only in_closed_grading_period
    subs = get(sim_midterm, "fresh", f"/api/v1/courses/{course_id}/students/submissions",
               per_page=100).json()
    assert {s["grading_period_id"] for s in subs} <= {periods[0]["id"], periods[1]["id"]}
    assert {s["grading_period_id"] for s in subs} == {periods[0]["id"], periods[1]["id"]}
    assignments = get(sim_midterm, "fresh", f"/api/v1/courses/{course_id}/assignments",
                      per_page=100).json()
    assert all("grading_period_id" not in a for a in assignments)
    assert any(a["in_closed_grading_period"] for a in assignments)


@pytest.mark.clock(MIDTERM)  # needs a term in progress with graded work
def test_pending_review_and_late_deductions(sim_midterm: CanvasSimulator) -> None:
    fresh = sim_midterm.student("fresh")
    pending = late = 0
    for course_id in fresh.visible_course_ids():
        for s in get(sim_midterm, "fresh", f"/api/v1/courses/{course_id}/students/submissions",
                     per_page=100).json():
            if s["workflow_state"] == "pending_review":
                pending += 1
                assert s["score"] is not None
            if s.get("points_deducted"):
                late += 1
                assert s["late"] is True
                assert s["score"] == pytest.approx(s["entered_score"] - s["points_deducted"])
    assert pending >= 1 and late >= 1


def test_pending_review_leaves_the_current_score(sim: CanvasSimulator) -> None:
    with CanvasSimulator() as simulator:
        student = simulator.add_student("t", preset="freshman", seed=9)
        course_id, assignment_id = student.any_assignment()
        points = student.assignment(course_id, assignment_id).points_possible or 10.0
        student.grade(course_id, assignment_id, 0)
        zero = student.expected()[course_id]["computed_current_score"]
        student.await_review(course_id, assignment_id, points / 2)
        pending = student.expected()[course_id]
        # The 0 no longer counts in the current score; the final counts the partial score
        assert pending["computed_current_score"] != zero
        assert pending["assignments"][assignment_id]["workflow_state"] == "pending_review"


def test_grading_schemes_and_letters(sim: CanvasSimulator) -> None:
    senior = sim.student("senior")
    seen_none = seen_scheme = False
    listed = {c["id"]: c for c in get(sim, "senior", "/api/v1/courses", per_page=100,
                                      **{"include[]": "total_scores"}).json()}
    for course_id, grades in senior.expected_grades().items():
        if course_id not in listed or grades["hide_final_grades"]:
            continue
        enrollment = listed[course_id]["enrollments"][0]
        standard_id = listed[course_id]["grading_standard_id"]
        standards = get(sim, "senior", f"/api/v1/courses/{course_id}/grading_standards").json()
        if standard_id is None:
            seen_none = True
            assert standards == [] and enrollment["computed_current_grade"] is None
            continue
        seen_scheme = True
        assert [s["id"] for s in standards] == [standard_id]
        one = get(sim, "senior", f"/api/v1/courses/{course_id}/grading_standards/{standard_id}")
        scheme = parse_scheme(one.json()["grading_scheme"])
        assert enrollment["computed_current_grade"] == scheme_letter(
            enrollment["computed_current_score"], scheme) == grades["letter"]
    assert seen_none and seen_scheme


def test_hidden_totals_and_nicknames(sim: CanvasSimulator) -> None:
    senior = sim.student("senior")
    hidden = next(c for c in senior.courses.values() if c.hide_final_grades)
    listed = {c["id"]: c for params in ({}, {"state[]": "completed"})
              for c in get(sim, "senior", "/api/v1/courses", per_page=100,
                           **{"include[]": "total_scores"}, **params).json()}
    if hidden.id in listed:
        assert "computed_current_score" not in listed[hidden.id]["enrollments"][0]
    else:  # registrar-completed: only the enrollments list has it, without scores
        row = next(r for r in own_enrollments(sim, "senior", **STUDENT)
                   if r["course_id"] == hidden.id)
        assert list(row["grades"]) == ["html_url"]
    assert senior.expected_grades()[hidden.id]["current_score"] is None
    nick = next(c for c in senior.courses.values() if c.nickname)
    body = listed[nick.id]
    assert body["name"] == nick.nickname and body["original_name"] == nick.name
    assert senior.expected()[nick.id]["name"] == nick.nickname
    plain = next(c for c in listed.values() if "original_name" not in c
                 and not c.get("access_restricted_by_date"))
    assert plain["name"] == senior.course(plain["id"]).name


@pytest.mark.clock(MIDTERM)  # needs a term in progress with graded work
def test_term_end_mutations_and_grading_after_the_end() -> None:
    with CanvasSimulator() as simulator:
        student = simulator.add_student("m", preset="freshman", seed=4)
        course_id = student.visible_course_ids()[1]

        student.conclude_by_date(course_id)
        assert course_id in course_ids(simulator, "m")
        assert course_id in course_ids(simulator, "m", enrollment_state="completed")
        assert student.expected()[course_id]["concluded"] is True
        before = student.expected()[course_id]["computed_final_score"]
        graded = student.late_final_grade(course_id)
        after = student.expected()[course_id]
        assert after["assignments"][graded]["score"] is not None
        assert after["computed_final_score"] != before or before is None

        student.conclude_course(course_id)
        assert course_id not in course_ids(simulator, "m")
        with pytest.raises(ValueError):
            student.late_final_grade(course_id)
        student.reopen_course(course_id)
        assert course_id in course_ids(simulator, "m", enrollment_state="active")

        student.registrar_complete(course_id)
        assert course_id not in course_ids(simulator, "m")
        assert course_id not in course_ids(simulator, "m", enrollment_state="completed")
        assert course_id in {r["course_id"] for r in own_enrollments(simulator, "m", **STUDENT)}
        assert course_id in student.expected()

        student.drop_course(course_id)
        for params in ({}, {"enrollment_state": "completed"},
                       {"state[]": ["available", "completed"]}):
            assert course_id not in course_ids(simulator, "m", **params)
        assert course_id not in {r["course_id"] for r in own_enrollments(
            simulator, "m", **STUDENT)}
        assert get(simulator, "m", f"/api/v1/courses/{course_id}").status_code in (401, 404)
        assert course_id not in student.expected()


def test_senior_preset_has_a_grade_entered_after_the_term_end(sim: CanvasSimulator) -> None:
    senior = sim.student("senior")
    late = [c for c in senior.courses.values() if c.is_student and c.term.end_at and any(
        a.submission.graded_at and a.submission.graded_at > c.term.end_at
        for a in c.assignments.values())]
    assert late and all(c.workflow_state == "available" for c in late)


@pytest.mark.clock(MIDTERM)  # a closed grading period, so the field is there to leave out
def test_gradebook_leaves_out_the_excluded_response_fields(sim_midterm: CanvasSimulator) -> None:
    """``exclude_response_fields[]`` on ``assignment_groups`` (canvas-lms
    ``AssignmentGroupsController#index`` ``#assignment_excludes`` ->
    ``Api::V1::AssignmentGroup#assignment_group_json`` / ``Api::V1::Assignment#assignment_json``):
    "description" and "in_closed_grading_period" (with the group's
    ``any_assignment_in_closed_grading_period``) are left out; nothing else changes."""
    fresh = sim_midterm.student("fresh")
    course_id = next(iter(fresh.visible_course_ids()))
    path = f"/api/v1/courses/{course_id}/assignment_groups"
    whole = get(sim_midterm, "fresh", path, per_page=100,
                **{"include[]": ["assignments", "submission"]}).json()
    trimmed = get(sim_midterm, "fresh", path, per_page=100,
                  **{"include[]": ["assignments", "submission"],
                     "exclude_response_fields[]": ["description", "rubric",
                                                   "in_closed_grading_period",
                                                   "needs_grading_count"]}).json()
    assert all("any_assignment_in_closed_grading_period" in g for g in whole)
    assert all("in_closed_grading_period" in a and "description" in a
               for g in whole for a in g["assignments"])
    dropped = {"description", "in_closed_grading_period", "any_assignment_in_closed_grading_period"}
    assert trimmed == [
        {**{k: v for k, v in g.items() if k not in dropped},
         "assignments": [{k: v for k, v in a.items() if k not in dropped}
                         for a in g["assignments"]]}
        for g in whole
    ]
