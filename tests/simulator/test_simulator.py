"""The Canvas simulator, driven over real HTTP with ``requests`` (CANVAS_API.md §1-§4, §7)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from simulator import CanvasSimulator, SimulatorConfig
from simulator.bucket import LeakyBucket
from simulator.datasets import PRESETS
from simulator.pagination import decode_bookmark, encode_bookmark
from simulator.student import Student
from tests.school_year import MIDTERM

TOKEN = "tok-sim-1"
UA = {"User-Agent": "gradesync-tests/1.0"}
AUTH_HEADER = 'Bearer realm="canvas-lms"'


@pytest.fixture
def sim() -> Iterator[CanvasSimulator]:
    with CanvasSimulator(SimulatorConfig()) as simulator:
        simulator.add_student(TOKEN, preset="freshman", seed=3)
        yield simulator


@pytest.fixture
def student(sim: CanvasSimulator) -> Student:
    return sim.student(TOKEN)


def get(sim: CanvasSimulator, path: str, token: str | None = TOKEN,
        headers: dict[str, str] | None = None, **params: Any) -> requests.Response:
    """One GET on its own connection (no session), with a User-Agent and the bearer token."""
    all_headers = dict(UA)
    if token is not None:
        all_headers["Authorization"] = f"Bearer {token}"
    all_headers.update(headers or {})
    return requests.get(sim.base_url + path, params=params, headers=all_headers, timeout=10)


def walk(sim: CanvasSimulator, path: str, **params: Any) -> list[requests.Response]:
    """Follow ``next`` links from the first page until there is none."""
    pages = [get(sim, path, **params)]
    while "next" in pages[-1].links:
        assert len(pages) < 500
        pages.append(requests.get(pages[-1].links["next"]["url"], timeout=10,
                                  headers={**UA, "Authorization": f"Bearer {TOKEN}"}))
    return pages


def dt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def visible_course(student: Student) -> int:
    return student.visible_course_ids()[0]


def restricted_course(student: Student) -> int:
    return next(c.id for c in student.courses.values() if c.restricted)


# --- pagination ------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "size"), [("0", 1), ("-5", 1), ("abc", 1), ("1000", 100),
                                           ("2", 2), ("3xyz", 3)])
def test_per_page_is_clamped_like_ruby_to_i(sim: CanvasSimulator, raw: str, size: int) -> None:
    response = get(sim, "/api/v1/courses", per_page=raw)
    assert response.status_code == 200
    assert len(response.json()) == min(size, 7)  # 5 readable, 1 restricted, 1 as TA
    assert f"per_page={size}>" in response.headers["link"]


def test_numbered_pages_have_all_links_and_past_the_end_is_empty(sim: CanvasSimulator) -> None:
    first = get(sim, "/api/v1/courses", per_page=4)
    assert list(first.links) == ["current", "next", "first", "last"]
    assert "prev" not in first.links
    last_url = first.links["last"]["url"]
    assert parse_qs(urlsplit(last_url).query)["page"] == ["2"]
    second = requests.get(first.links["next"]["url"], headers={**UA, "Authorization":
                                                               f"Bearer {TOKEN}"}, timeout=10)
    assert list(second.links) == ["current", "prev", "first", "last"]
    ids = [c["id"] for c in first.json() + second.json()]
    assert sorted(ids) == sorted(sim.student(TOKEN).course_ids())
    beyond = get(sim, "/api/v1/courses", per_page=4, page=3)
    assert beyond.status_code == 200 and beyond.json() == []
    assert get(sim, "/api/v1/courses").headers["link"].count("per_page=10") == 3


def test_link_header_format_sorts_params_and_drops_access_token(sim: CanvasSimulator) -> None:
    response = requests.get(
        sim.base_url + "/api/v1/courses?per_page=2&include[]=total_scores&include[]=term"
        "&enrollment_state=active&access_token=" + TOKEN, headers=UA, timeout=10)
    assert response.status_code == 200
    link = response.headers["link"]
    assert TOKEN not in link
    expected = (f"<{sim.base_url}/api/v1/courses?enrollment_state=active"
                "&include%5B%5D=total_scores&include%5B%5D=term&page=1&per_page=2>; "
                'rel="current",')
    assert link.startswith(expected)
    assert ", <" not in link  # comma-joined with no space, as Canvas does


def test_link_text_is_capped_at_6kb_keeping_next_first(sim: CanvasSimulator) -> None:
    response = get(sim, "/api/v1/courses", per_page=2, search_term="x" * 3000)
    assert response.status_code == 200
    assert list(response.links) == ["next"]
    assert len(response.headers["link"]) <= 6 * 1024


def test_link_urls_follow_the_host_header(sim: CanvasSimulator) -> None:
    response = get(sim, "/api/v1/courses", headers={"Host": "canvas.example.edu:8443"},
                   per_page=2)
    for link in response.links.values():
        assert link["url"].startswith("http://canvas.example.edu:8443/api/v1/courses?")


def test_bookmark_walk_returns_every_visible_submission_once_with_short_pages(
        sim: CanvasSimulator, student: Student) -> None:
    course_id = visible_course(student)
    course = student.course(course_id)
    assert any(not a.published for a in course.assignments.values())
    pages = walk(sim, f"/api/v1/courses/{course_id}/students/submissions", per_page=3)
    rows = [row for page in pages for row in page.json()]
    ids = [row["id"] for row in rows]
    assert ids == sorted(ids)
    visible = {a.id for a in course.visible_assignments()}
    assert [row["assignment_id"] for row in rows] == sorted(
        visible, key=lambda aid: course.assignments[aid].submission.id)
    # Unpublished rows are filtered after paginating: some page with a next link is short.
    assert any(len(p.json()) < 3 and "next" in p.links for p in pages)
    for page in pages:
        assert "prev" not in page.links and "last" not in page.links
        assert "first" in page.links and "current" in page.links
    assert parse_qs(urlsplit(pages[0].links["first"]["url"]).query)["page"] == ["first"]
    assert "next" not in pages[-1].links


def test_bookmark_tokens_and_numeric_pages(sim: CanvasSimulator, student: Student) -> None:
    assert encode_bookmark([9936614]) == "bookmark:Wzk5MzY2MTRd"
    assert decode_bookmark("bookmark:Wzk5MzY2MTRd") == [9936614]
    path = f"/api/v1/courses/{visible_course(student)}/students/submissions"
    assert get(sim, path, page=2).status_code == 400
    garbage = get(sim, path, page="bookmark:!!!notbase64", per_page=100)
    assert garbage.status_code == 200
    assert garbage.json() == get(sim, path, per_page=100).json()


@pytest.mark.clock(MIDTERM)  # needs a term in progress: ended enrollments leave this list
def test_enrollments_use_bookmark_pages(sim: CanvasSimulator, student: Student) -> None:
    pages = walk(sim, "/api/v1/users/self/enrollments", per_page=2)
    course_ids = [row["course_id"] for page in pages for row in page.json()]
    # Without state[]: current and invited enrollments not completed by date, so the
    # date-restricted course (pending by date) is listed too (simulator.lists).
    assert sorted(course_ids) == sorted(student.course_ids())
    assert restricted_course(student) in course_ids
    assert all("last" not in p.links for p in pages)
    assert parse_qs(urlsplit(pages[0].links["next"]["url"]).query)["page"][0].startswith(
        "bookmark:")


# --- throttling ------------------------------------------------------------------------------

def test_bucket_leaks_on_every_touch() -> None:
    now = [0.0]
    bucket = LeakyBucket(clock=lambda: now[0])
    assert bucket.increment(50, outflow=10, maximum=800) == 50
    now[0] = 2.0
    assert bucket.increment(0, outflow=10, maximum=800) == pytest.approx(30)
    assert bucket.increment(1000, outflow=10, maximum=800) == 800
    now[0] = 1000.0
    assert bucket.increment(-1, outflow=10, maximum=800) == 0


@pytest.mark.parametrize("status", [403, 429])
def test_the_12th_simultaneous_request_is_throttled(status: int) -> None:
    config = SimulatorConfig(latency=1.5, outflow=0.0, throttle_status=status)
    with CanvasSimulator(config) as simulator:
        simulator.add_student(TOKEN)
        results: list[int] = []

        def call() -> None:
            results.append(get(simulator, "/api/v1/users/self").status_code)

        threads = [threading.Thread(target=call) for _ in range(11)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 10
        while simulator.stats.in_flight < 11 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert simulator.stats.in_flight == 11
        twelfth = get(simulator, "/api/v1/users/self")
        for thread in threads:
            thread.join()
    assert results == [200] * 11
    assert twelfth.status_code == status
    assert twelfth.text == "403 Forbidden (Rate Limit Exceeded)\n"
    assert twelfth.headers["content-type"].startswith("text/plain")
    assert "x-request-cost" not in twelfth.headers and "retry-after" not in twelfth.headers
    # 11 x 50 reserved + this request's reservation credited back: small and positive.
    assert float(twelfth.headers["x-rate-limit-remaining"]) == pytest.approx(49.9)
    assert simulator.stats.throttled == 1


def test_a_sequential_client_is_never_throttled(sim: CanvasSimulator) -> None:
    with requests.Session() as session:
        session.headers.update({**UA, "Authorization": f"Bearer {TOKEN}"})
        responses = [session.get(sim.base_url + "/api/v1/users/self", timeout=10)
                     for _ in range(40)]
    assert {r.status_code for r in responses} == {200}
    assert all(float(r.headers["x-rate-limit-remaining"]) > 590 for r in responses)
    assert responses[0].headers["x-request-cost"] == "0.1"
    assert sim.stats.throttled == 0


def test_throttling_can_be_switched_off(sim: CanvasSimulator) -> None:
    sim.config.throttling = False
    response = get(sim, "/api/v1/users/self")
    assert response.status_code == 200
    assert "x-rate-limit-remaining" not in response.headers


# --- auth and errors -------------------------------------------------------------------------

def test_token_errors_carry_www_authenticate(sim: CanvasSimulator) -> None:
    unknown = get(sim, "/api/v1/courses", token="nope")
    assert unknown.status_code == 401
    assert unknown.json() == {"errors": [{"message": "Invalid access token."}]}
    assert unknown.headers["www-authenticate"] == AUTH_HEADER

    anonymous = get(sim, "/api/v1/courses", token=None)
    assert anonymous.status_code == 401
    assert anonymous.json() == {"status": "unauthenticated",
                                "errors": [{"message": "user authorization required"}]}
    assert anonymous.headers["www-authenticate"] == AUTH_HEADER

    sim.revoke_token(TOKEN)
    revoked = get(sim, "/api/v1/courses")
    assert revoked.json() == {"errors": [{"message": "Revoked access token."}]}
    assert revoked.status_code == 401 and "www-authenticate" in revoked.headers

    sim.expire_token(TOKEN)
    expired = get(sim, "/api/v1/courses")
    assert expired.status_code == 401
    assert expired.json()["errors"][0]["message"] == "Expired access token."
    assert dt(expired.json()["errors"][0]["expired_at"]) is not None

    sim.restore_token(TOKEN)
    assert get(sim, "/api/v1/courses").status_code == 200
    assert get(sim, "/api/v1/courses", token=None, access_token=TOKEN).status_code == 200


@pytest.mark.parametrize("status", [401, 403])
def test_restricted_course_gradebook_is_not_permitted(status: int, student: Student,
                                                      sim: CanvasSimulator) -> None:
    sim.config.unauthorized_status = status
    response = get(sim, f"/api/v1/courses/{restricted_course(student)}/assignment_groups")
    assert response.status_code == status
    assert response.json() == {"status": "unauthorized", "errors": [
        {"message": "user not authorized to perform that action"}]}
    assert "www-authenticate" not in response.headers


def test_unknown_ids_are_404_and_a_user_agent_is_required(sim: CanvasSimulator,
                                                          student: Student) -> None:
    not_found = {"errors": [{"message": "The specified resource does not exist."}]}
    assert get(sim, "/api/v1/courses/1").json() == not_found
    assert get(sim, "/api/v1/courses/1").status_code == 404
    course_id = visible_course(student)
    assert get(sim, f"/api/v1/courses/{course_id}/assignments/1").status_code == 404
    assert get(sim, "/api/v1/nothing/here").status_code == 404
    no_agent = get(sim, "/api/v1/courses", headers={"User-Agent": ""})
    assert no_agent.status_code == 403


def test_bad_since_parameters_are_400(sim: CanvasSimulator, student: Student) -> None:
    path = f"/api/v1/courses/{visible_course(student)}/students/submissions"
    response = get(sim, path, submitted_since="yesterday")
    assert response.status_code == 400
    assert response.json() == {"errors": {"submitted_since":
                                          "Invalid datetime for submitted_since"}}
    assert get(sim, path, graded_since="2025-13-45").status_code == 400


# --- what the student sees -------------------------------------------------------------------

def test_restricted_course_shrinks_to_two_keys(sim: CanvasSimulator, student: Student) -> None:
    courses = get(sim, "/api/v1/courses", per_page=100).json()
    restricted = [c for c in courses if c.get("access_restricted_by_date")]
    assert restricted == [{"id": restricted_course(student), "access_restricted_by_date": True}]
    assert restricted_course(student) not in student.expected()


@pytest.mark.clock(MIDTERM)  # needs a term in progress with graded work
def test_hidden_grades_have_absent_keys(sim: CanvasSimulator, student: Student) -> None:
    hidden = [(c.id, a) for c in student.courses.values() if c.visible
              for a in c.visible_assignments() if a.submission.hidden]
    assert hidden
    course_id, assignment = hidden[0]
    body = get(sim, f"/api/v1/courses/{course_id}/assignments/{assignment.id}/submissions/self"
               ).json()
    for key in ("score", "grade", "entered_score", "entered_grade"):
        assert key not in body
    assert body["posted_at"] is None and body["graded_at"] is not None
    oracle = student.expected()[course_id]["assignments"][assignment.id]
    assert oracle["score"] is None and oracle["grade"] is None
    assert oracle["graded_at"] == dt(body["graded_at"])


@pytest.mark.clock(MIDTERM)  # needs a term in progress with graded work
def test_dataset_shows_every_interesting_state(student: Student) -> None:
    subs = [a for c in student.courses.values() if c.visible for a in c.visible_assignments()]
    assert any(a.submission.excused for a in subs)
    assert any(a.submission.missing and a.submission.workflow_state == "unsubmitted"
               for a in subs)
    assert any(a.submission.late for a in subs)
    assert any(a.omit_from_final_grade for a in subs)
    assert any(a.points_possible == 0 for a in subs)
    assert any(a.points_possible is None for a in subs)
    assert any(a.due_at is None for a in subs)
    assert any(a.grading_type == "pass_fail" for a in subs)
    courses = [c for c in student.courses.values() if c.visible]
    assert {c.apply_group_weights for c in courses} == {True, False}
    assert any(g.drop_lowest for c in courses for g in c.groups.values())
    assert any(any(ord(ch) > 127 for ch in c.name) for c in courses)
    for course in courses:
        if course.apply_group_weights:
            assert sum(g.weight for g in course.groups.values()) == pytest.approx(100)


def test_excused_and_missing_json(sim: CanvasSimulator, student: Student) -> None:
    course_id, assignment_id = student.any_assignment()
    path = f"/api/v1/courses/{course_id}/assignments/{assignment_id}/submissions/self"
    student.excuse(course_id, assignment_id)
    body = get(sim, path).json()
    assert body["excused"] is True and body["score"] is None and body["grade"] is None
    student.mark_missing(course_id, assignment_id)
    body = get(sim, path).json()
    assert body["missing"] is True and body["late_policy_status"] == "missing"


@pytest.mark.parametrize(("preset", "seed"), [("freshman", 3), ("senior", 1)])
def test_expected_matches_the_api_for_every_course(sim: CanvasSimulator, preset: str,
                                                   seed: int) -> None:
    token = f"tok-{preset}-{seed}"
    student = sim.add_student(token, preset=preset, seed=seed)
    oracle = student.expected()
    include = {"include[]": ["term", "total_scores", "concluded"]}
    # No single list has every course (CANVAS_API.md "Read first"): the default list and the
    # teacher-concluded courses (state[]=completed) hold all but the registrar-completed
    # enrollments, which only /users/self/enrollments shows (read with GET /courses/:id,
    # which answers "enrollments": [] for them: their scores are the enrollment's grades).
    courses = {c["id"]: c for params in ({}, {"state[]": "completed"})
               for c in get(sim, "/api/v1/courses", token=token, per_page=100,
                            **params, **include).json()}
    enrollments = {e["course_id"]: e for e in get(
        sim, "/api/v1/users/self/enrollments", token=token, per_page=100,
        **{"state[]": "current_and_concluded", "type[]": "StudentEnrollment"}).json()}
    for course_id, enrollment in enrollments.items():
        if course_id not in courses:
            course = get(sim, f"/api/v1/courses/{course_id}", token=token, **include).json()
            assert course.get("access_restricted_by_date") or course["enrollments"] == []
            grades = enrollment["grades"]
            course["enrollments"] = [{
                "type": "student", "enrollment_state": enrollment["enrollment_state"],
                "computed_current_score": grades.get("current_score"),
                "computed_final_score": grades.get("final_score")}]
            courses[course_id] = course
    seen = set()
    for course in courses.values():
        if course.get("access_restricted_by_date"):
            continue
        if course["enrollments"][0]["type"] != "student":
            assert course["id"] in student.role_course_ids()
            assert "computed_current_score" not in course["enrollments"][0]
            continue
        seen.add(course["id"])
        want = oracle[course["id"]]
        assert course["name"] == want["name"]
        assert course["course_code"] == want["course_code"]
        assert course["apply_assignment_group_weights"] == want["apply_group_weights"]
        enrollment = course["enrollments"][0]
        over = course["concluded"] or enrollment["enrollment_state"] == "completed"
        assert over == want["concluded"]
        assert enrollment.get("computed_current_score") == want["computed_current_score"]
        assert enrollment.get("computed_final_score") == want["computed_final_score"]
        term = course["term"]
        assert (term["id"], term["name"]) == (want["term"]["id"], want["term"]["name"])
        assert dt(term["start_at"]) == want["term"]["start_at"]
        groups = get(sim, f"/api/v1/courses/{course['id']}/assignment_groups", token=token,
                     per_page=100,
                     **{"include[]": ["assignments", "submission"]}).json()
        assert {g["id"] for g in groups} == set(want["groups"])
        api_assignments = {}
        for group in groups:
            rules = group["rules"]
            assert want["groups"][group["id"]] == {
                "name": group["name"], "weight": group["group_weight"],
                "position": group["position"], "drop_lowest": rules.get("drop_lowest", 0),
                "drop_highest": rules.get("drop_highest", 0),
                "never_drop": rules.get("never_drop", [])}
            for a in group["assignments"]:
                api_assignments[a["id"]] = a
        assert set(api_assignments) == set(want["assignments"])
        for assignment_id, a in api_assignments.items():
            sub = a["submission"]
            assert want["assignments"][assignment_id] == {
                "name": a["name"], "group_id": a["assignment_group_id"],
                "position": a["position"], "due_at": dt(a["due_at"]),
                "points_possible": a["points_possible"], "grading_type": a["grading_type"],
                "omit_from_final_grade": a["omit_from_final_grade"],
                "updated_at": dt(a["updated_at"]), "score": sub.get("score"),
                "grade": sub.get("grade"), "excused": sub["excused"],
                "missing": sub["missing"], "late": sub["late"],
                "workflow_state": sub["workflow_state"],
                "submitted_at": dt(sub["submitted_at"]), "graded_at": dt(sub["graded_at"]),
                "posted_at": dt(sub["posted_at"])}
    assert seen == set(oracle)


def test_assignments_endpoint_order_and_submission(sim: CanvasSimulator,
                                                   student: Student) -> None:
    course_id = visible_course(student)
    pages = walk(sim, f"/api/v1/courses/{course_id}/assignments", per_page=5,
                 **{"include[]": "submission"})
    rows = [a for page in pages for a in page.json()]
    assert [a["id"] for a in rows] == [a.id for a in student.course(course_id)
                                       .visible_assignments()]
    assert all("submission" in a for a in rows)
    assert "last" in pages[0].links


def test_graded_since_is_strict(sim: CanvasSimulator, student: Student) -> None:
    course_id, assignment_id = student.any_assignment()
    path = f"/api/v1/courses/{course_id}/students/submissions"
    student.grade(course_id, assignment_id, 7)
    graded_at = student.expected()[course_id]["assignments"][assignment_id]["graded_at"]
    stamp = graded_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert get(sim, path, graded_since=stamp).json() == []
    earlier = (graded_at - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    rows = get(sim, path, graded_since=earlier, per_page=100).json()
    assert assignment_id in [r["assignment_id"] for r in rows]


def test_submission_list_parameters(sim: CanvasSimulator, student: Student) -> None:
    course_id = visible_course(student)
    course = student.course(course_id)
    path = f"/api/v1/courses/{course_id}/students/submissions"
    unpublished = next(a.id for a in course.assignments.values() if not a.published)
    refused = get(sim, path, **{"assignment_ids[]": str(unpublished)})
    assert refused.status_code == 403
    assert refused.json() == {"error": "invalid assignment ids requested"}
    assert get(sim, path, **{"student_ids[]": "12345"}).status_code == 401
    assert len(get(sim, path, per_page=100, **{"student_ids[]": "self"}).json()) == len(
        course.visible_assignments())
    grouped = get(sim, path, grouped="true", per_page=100).json()
    assert len(grouped) == 1 and grouped[0]["user_id"] == student.user_id
    assert len(grouped[0]["submissions"]) == len(course.visible_assignments())
    descending = get(sim, path, order_direction="descending", per_page=100)
    ids = [row["id"] for row in descending.json()]
    assert ids == sorted(ids, reverse=True) and "last" in descending.links


def test_user_profile_and_course(sim: CanvasSimulator, student: Student) -> None:
    user = get(sim, "/api/v1/users/self").json()
    assert (user["id"], user["name"]) == (student.user_id, student.name)
    profile = get(sim, f"/api/v1/users/{student.user_id}/profile").json()
    assert profile["primary_email"].endswith("@students.example.edu")
    assert get(sim, "/api/v1/users/1").status_code == 401
    course_id = visible_course(student)
    course = get(sim, f"/api/v1/courses/{course_id}", **{"include[]": "term"}).json()
    assert course["term"]["id"] == student.expected()[course_id]["term"]["id"]
    assert "link" not in get(sim, f"/api/v1/courses/{course_id}").headers


# --- mutations -------------------------------------------------------------------------------

def test_grading_and_posting_show_up_in_api_and_oracle(sim: CanvasSimulator,
                                                       student: Student) -> None:
    course_id, assignment_id = student.any_assignment()
    path = f"/api/v1/courses/{course_id}/assignments/{assignment_id}/submissions/self"
    student.grade(course_id, assignment_id, 4.5, posted=False)
    body = get(sim, path).json()
    assert "score" not in body and body["posted_at"] is None
    assert student.expected()[course_id]["assignments"][assignment_id]["score"] is None
    graded_at = body["graded_at"]

    student.post_grade(course_id, assignment_id)
    body = get(sim, path).json()
    assert body["score"] == 4.5 and body["graded_at"] == graded_at
    assert body["posted_at"] is not None
    oracle = student.expected()[course_id]
    assert oracle["assignments"][assignment_id]["score"] == 4.5
    courses = get(sim, "/api/v1/courses", per_page=100, **{"include[]": "total_scores"}).json()
    listed = next(c for c in courses if c["id"] == course_id)
    assert listed["enrollments"][0]["computed_current_score"] == oracle["computed_current_score"]


def test_assignment_mutations(sim: CanvasSimulator, student: Student) -> None:
    course_id = visible_course(student)
    group_id = student.course(course_id).sorted_groups()[0].id
    new_id = student.add_assignment(course_id, group_id, "Pop quiz ✨", 12.0)
    path = f"/api/v1/courses/{course_id}/assignments/{new_id}"
    created = get(sim, path).json()
    assert created["name"] == "Pop quiz ✨" and created["points_possible"] == 12.0
    assert student.expected()[course_id]["assignments"][new_id]["workflow_state"] == \
        "unsubmitted"

    student.edit_assignment(course_id, new_id, name="Pop quiz (renamed)", points_possible=15)
    edited = get(sim, path).json()
    assert edited["name"] == "Pop quiz (renamed)" and edited["points_possible"] == 15.0
    assert dt(edited["updated_at"]) >= dt(created["updated_at"])
    assert dt(edited["updated_at"]) == student.expected()[course_id]["assignments"][new_id][
        "updated_at"]

    student.unpublish_assignment(course_id, new_id)
    assert get(sim, path).status_code == 401
    assert new_id not in student.expected()[course_id]["assignments"]
    student.delete_assignment(course_id, new_id)
    assert get(sim, path).status_code == 404


def test_group_and_course_mutations(sim: CanvasSimulator, student: Student) -> None:
    course_id = visible_course(student)
    group = student.course(course_id).sorted_groups()[0]
    keep = [a.id for a in student.course(course_id).visible_assignments()
            if a.group_id == group.id][:1]
    student.reweight_group(course_id, group.id, 55.5)
    student.set_group_rules(course_id, group.id, drop_lowest=1, drop_highest=1, never_drop=keep)
    api_group = next(g for g in get(sim, f"/api/v1/courses/{course_id}/assignment_groups").json()
                     if g["id"] == group.id)
    assert api_group["group_weight"] == 55.5
    assert api_group["rules"] == {"drop_lowest": 1, "drop_highest": 1, "never_drop": keep}
    oracle_group = student.expected()[course_id]["groups"][group.id]
    assert (oracle_group["weight"], oracle_group["never_drop"]) == (55.5, keep)

    student.rename_course(course_id, "Renamed Course Ü")
    assert get(sim, f"/api/v1/courses/{course_id}").json()["name"] == "Renamed Course Ü"

    other = student.visible_course_ids()[1]
    student.conclude_course(other)
    active = get(sim, "/api/v1/courses", per_page=100, enrollment_state="active").json()
    assert other not in [c["id"] for c in active]
    # A teacher-concluded course leaves the default list; the completed courses' list has it.
    assert other not in [c["id"] for c in get(sim, "/api/v1/courses", per_page=100).json()]
    everything = get(sim, "/api/v1/courses", per_page=100,
                     **{"state[]": "completed", "include[]": "concluded"}).json()
    concluded = next(c for c in everything if c["id"] == other)
    assert concluded["concluded"] is True
    assert concluded["enrollments"][0]["enrollment_state"] == "completed"
    assert student.expected()[other]["concluded"] is True

    student.drop_course(course_id)
    assert course_id not in [c["id"] for c in get(sim, "/api/v1/courses", per_page=100).json()]
    assert course_id not in student.expected() and course_id not in student.course_ids()

    third = student.visible_course_ids()[-1]
    student.restrict_course(third)
    listed = next(c for c in get(sim, "/api/v1/courses", per_page=100).json()
                  if c["id"] == third)
    assert listed == {"id": third, "access_restricted_by_date": True}
    assert third not in student.expected() and third in student.course_ids()


# --- faults, connections, lifecycle ---------------------------------------------------------

def test_5xx_faults_occur_at_about_the_configured_rate(sim: CanvasSimulator) -> None:
    sim.config.fault_5xx_rate = 0.3
    with requests.Session() as session:
        session.headers.update({**UA, "Authorization": f"Bearer {TOKEN}"})
        statuses = [session.get(sim.base_url + "/api/v1/users/self", timeout=10).status_code
                    for _ in range(200)]
    errors = [s for s in statuses if s >= 500]
    assert 30 <= len(errors) <= 90
    assert set(errors) <= {500, 502, 503, 504} and len(set(errors)) > 1
    assert sim.stats.errors_5xx == len(errors)
    sim.clear_faults()
    assert get(sim, "/api/v1/users/self").status_code == 200


def test_dropped_connections_occur_at_about_the_configured_rate(sim: CanvasSimulator) -> None:
    sim.config.fault_drop_rate = 0.2
    dropped = 0
    with requests.Session() as session:
        session.headers.update({**UA, "Authorization": f"Bearer {TOKEN}"})
        for _ in range(100):
            try:
                session.get(sim.base_url + "/api/v1/users/self", timeout=10)
            except requests.ConnectionError:
                dropped += 1
    assert 8 <= dropped <= 35
    assert sim.stats.dropped == dropped
    assert [r.status for r in sim.stats.records].count(0) == dropped


def test_faults_are_reproducible_from_the_seed() -> None:
    def run() -> list[int]:
        with CanvasSimulator(SimulatorConfig(fault_5xx_rate=0.5, seed=11)) as simulator:
            simulator.add_student(TOKEN)
            return [get(simulator, "/api/v1/users/self").status_code for _ in range(12)]

    assert run() == run()


@pytest.mark.parametrize("kind", ["bad_json", "not_a_list"])
def test_malform_rules_break_matching_lists_until_cleared(sim: CanvasSimulator,
                                                          kind: str) -> None:
    sim.malform(r"/courses$", kind)
    broken = get(sim, "/api/v1/courses")
    assert broken.status_code == 200
    if kind == "bad_json":
        with pytest.raises(ValueError):
            broken.json()
    else:
        assert isinstance(broken.json(), dict)
    assert isinstance(get(sim, "/api/v1/users/self").json(), dict)
    sim.clear_faults()
    assert isinstance(get(sim, "/api/v1/courses").json(), list)


def test_keep_alive_reuses_connections(sim: CanvasSimulator) -> None:
    with requests.Session() as session:
        session.headers.update({**UA, "Authorization": f"Bearer {TOKEN}"})
        for _ in range(10):
            response = session.get(sim.base_url + "/api/v1/courses", timeout=10)
            assert int(response.headers["content-length"]) == len(response.content)
    assert sim.stats.requests == 10
    assert sim.stats.connections_opened < sim.stats.requests
    assert len({r.connection_id for r in sim.stats.records}) == sim.stats.connections_opened
    assert sim.stats.by_path(r"/courses$") and not sim.stats.by_path(r"/assignments")
    sim.reset_stats()
    assert sim.stats.requests == 0 and sim.stats.records == []


def test_latency_and_connect_cost_hold_each_request() -> None:
    config = SimulatorConfig(latency=0.05, connect_cost=0.1)
    with CanvasSimulator(config) as simulator:
        simulator.add_student(TOKEN)
        with requests.Session() as session:
            session.headers.update({**UA, "Authorization": f"Bearer {TOKEN}"})
            for _ in range(3):
                session.get(simulator.base_url + "/api/v1/users/self", timeout=10)
        records = simulator.stats.records
    durations = [r.end - r.start for r in records]
    assert durations[0] >= 0.15 and all(d >= 0.05 for d in durations)
    assert simulator.stats.connections_opened == 1


def test_two_simulators_run_side_by_side_and_stop_cleanly() -> None:
    first = CanvasSimulator().start()
    second = CanvasSimulator().start()
    try:
        a = first.add_student("a")
        b = second.add_student("a")
        assert first.base_url != second.base_url
        session = requests.Session()
        session.headers.update({**UA, "Authorization": "Bearer a"})
        assert session.get(first.base_url + "/api/v1/users/self", timeout=10).json()["id"] == \
            a.user_id
        assert session.get(second.base_url + "/api/v1/users/self", timeout=10).json()["id"] == \
            b.user_id
    finally:
        first.stop()
        second.stop()
    with pytest.raises(requests.ConnectionError):
        session.get(first.base_url + "/api/v1/users/self", timeout=5)
    session.close()


def test_home_page(sim: CanvasSimulator) -> None:
    response = requests.get(sim.base_url + "/", timeout=10)
    assert response.status_code == 200
    assert "GradeSync Canvas simulator" in response.text
    assert TOKEN not in response.text


# --- datasets --------------------------------------------------------------------------------

def _shape(student: Student) -> list:
    return [(c.name, c.apply_group_weights, len(c.assignments),
             [(a.name, a.submission.score, a.submission.workflow_state)
              for a in c.assignments.values()]) for c in student.courses.values()]


def test_datasets_are_deterministic_and_ids_unique() -> None:
    with CanvasSimulator() as simulator:
        one = simulator.add_student("one", preset="freshman", seed=5)
        two = simulator.add_student("two", preset="freshman", seed=5)
        three = simulator.add_student("three", preset="freshman", seed=6)
        assert _shape(one) == _shape(two) != _shape(three)
        ids = [set(s.course_ids()) for s in (one, two, three)]
        assert not (ids[0] & ids[1]) and not (ids[1] & ids[2])
        assignments = [a for s in (one, two) for c in s.courses.values()
                       for a in c.assignments]
        assert len(assignments) == len(set(assignments))
        assert len({one.user_id, two.user_id, three.user_id}) == 3
        with pytest.raises(ValueError):
            simulator.add_student("one")


@pytest.mark.clock(MIDTERM)  # needs a term in progress with graded work
def test_presets_have_their_documented_sizes() -> None:
    with CanvasSimulator() as simulator:
        students = {p: simulator.add_student(p, preset=p) for p in PRESETS}
        freshman = students["freshman"]
        assert len(freshman.visible_course_ids()) == 5 and len(freshman.course_ids()) == 7
        assert len(freshman.role_course_ids()) == 1
        assert len({c.term.id for c in freshman.courses.values()}) == 1

        senior = students["senior"].courses.values()
        assert 30 <= len(senior) <= 40 and len({c.term.id for c in senior}) >= 8
        assert sum(c.concluded for c in senior) > len(senior) / 2
        assert any(c.term.name == "Default Term" and c.term.start_at is None for c in senior)

        heavy = students["heavy"]
        assert max(len(c.assignments) for c in heavy.courses.values()) == 250
        # 130 courses; the default list keeps the current ones and those over by date (76)
        response = get(simulator, "/api/v1/courses", token="heavy", per_page=50)
        assert "next" in response.links
        assert response.links["last"]["url"].endswith("page=2&per_page=50")

        bench = students["benchmark"].courses.values()
        assert len(bench) == 24 and len({c.term.id for c in bench}) == 3
        assert 30 <= sum(len(c.assignments) for c in bench) / len(bench) <= 40

        student = students["student"]
        assert len(student.courses) == 20 and len(student.visible_course_ids()) >= 6
        assert 900 <= sum(len(c.assignments) for c in student.courses.values()) <= 1100
        assert sum(not c.concluded for c in student.courses.values()) == 6
