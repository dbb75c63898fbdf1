"""Issue 18: the student's own assignments, Canvas's counting rules, and a "differs" that waits
for Canvas's recompute.

Simulator rules (each test names the canvas-lms spec example it mirrors), the grade maths as
units, and real syncs against the simulator over HTTP.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import select

from app.connections import create_canvas_sync_service
from app.extensions import db
from app.grades import GradeGroup, GradeItem, course_grade, settling
from app.models import Assignment, Course
from app.sync.parse import parse_gradebook
from simulator import CanvasSimulator, SimulatorConfig
from simulator.differentiated import (
    add_role,
    assign_to_others,
    excuse_unposted,
    set_recompute_delay,
)
from tests.auth_actions import sign_in
from tests.conftest import connect_user
from tests.school_year import MIDTERM

# Graded work in a term in progress: the tests live mid-term (tests/school_year.py).
pytestmark = pytest.mark.clock(MIDTERM)

UA = {"User-Agent": "test-suite/1.0"}
T0 = datetime(2026, 10, 12, 15, 0, tzinfo=UTC)


def api(sim: CanvasSimulator, token: str, path: str, **params: Any) -> requests.Response:
    return requests.get(sim.base_url + path, params={"per_page": 100, **params},
                        headers={**UA, "Authorization": f"Bearer {token}"}, timeout=10)


def gradebook(sim: CanvasSimulator, token: str, course_id: int) -> list[dict[str, Any]]:
    return api(sim, token, f"/api/v1/courses/{course_id}/assignment_groups",
               **{"include[]": ["assignments", "submission"]}).json()


def plain_course(student: Any) -> int:
    """A readable student course without grading periods or hidden totals."""
    return next(cid for cid, g in student.expected_grades().items()
                if not g["grading_periods"] and not g["hide_final_grades"]
                and g["current_score"] is not None)


def first_group(student: Any, course_id: int) -> int:
    return student.course(course_id).sorted_groups()[0].id


def sync(user: Any, incremental: bool = False) -> None:
    result = create_canvas_sync_service(user).sync_all_data(use_incremental=incremental)
    assert result["status"] == "succeeded", result["error"]


def local(canvas_course_id: int) -> Course:
    db.session.expire_all()
    return db.session.scalars(
        select(Course).where(Course.canvas_course_id == canvas_course_id)).one()


def dashboard_row(client: Any, user: Any, course: Course) -> str:
    sign_in(client, user.email)
    page = client.get("/").get_data(as_text=True)
    row = page[page.index(f'data-course-id="{course.id}"'):]
    return row[:row.index("</tr>")]


# --- the simulator ---------------------------------------------------------------------------


@pytest.fixture
def sim() -> Any:
    with CanvasSimulator(SimulatorConfig()) as simulator:
        simulator.add_student("tok-own", preset="freshman", seed=3)
        yield simulator


def test_sim_observer_student_is_shown_other_students_assignments_without_a_submission(
    sim: CanvasSimulator,
) -> None:
    """Mirrors assignment_groups_api_spec.rb "checks to see if submissions are found when a
    user is both a teacher and an observer" and "only returns visible assignments when
    differentiated assignments is on": a plain student sees only their own; with an observer
    role too (observing no one) the other students' assignment is listed, with no
    ``submission`` (only the caller's own rows are rendered) and ``only_visible_to_overrides``.
    """
    student = sim.student("tok-own")
    cid = plain_course(student)
    other = assign_to_others(student, cid, first_group(student, cid), "Section B essay")
    listed = {a["id"]: a for g in gradebook(sim, "tok-own", cid) for a in g["assignments"]}
    assert other not in listed and all("submission" in a for a in listed.values())

    add_role(student, cid, "observer")
    listed = {a["id"]: a for g in gradebook(sim, "tok-own", cid) for a in g["assignments"]}
    assert "submission" not in listed[other] and listed[other]["only_visible_to_overrides"]
    assert all("submission" in a for aid, a in listed.items() if aid != other)
    course = next(c for c in api(sim, "tok-own", "/api/v1/courses").json() if c["id"] == cid)
    assert [e["type"] for e in course["enrollments"]] == ["student", "observer"]
    # The student's own submissions list never holds it (there is no row).
    subs = api(sim, "tok-own", f"/api/v1/courses/{cid}/students/submissions").json()
    assert other not in {s["assignment_id"] for s in subs}


def test_sim_ta_student_is_shown_unpublished_assignments(sim: CanvasSimulator) -> None:
    """Mirrors assignment_groups_api_spec.rb "allows designers to see unpublished
    assignments": a user with manage_grades in the course (here also a TA) gets every active
    assignment, unpublished ones too (AssignmentGroup.visible_assignments)."""
    student = sim.student("tok-own")
    cid = plain_course(student)
    _, aid = student.any_assignment(cid)
    student.unpublish_assignment(cid, aid)
    assert aid not in {a["id"] for g in gradebook(sim, "tok-own", cid) for a in g["assignments"]}
    add_role(student, cid, "ta")
    listed = {a["id"]: a for g in gradebook(sim, "tok-own", cid) for a in g["assignments"]}
    assert listed[aid]["published"] is False


def test_sim_scores_leave_out_other_students_assignments(sim: CanvasSimulator) -> None:
    """Mirrors grade_calculator_spec.rb "computes grades without dying" (a student's current
    and final scores) with an assignment not assigned to the student: Canvas's scores do not
    move (GradeCalculator#assignment_visible_to_student?)."""
    student = sim.student("tok-own")
    cid = plain_course(student)
    before = student.expected_grades()[cid]
    add_role(student, cid, "observer")
    assign_to_others(student, cid, first_group(student, cid), "Other section's lab", 500)
    after = student.expected_grades()[cid]
    assert (after["current_score"], after["final_score"]) == (
        before["current_score"], before["final_score"])


def test_sim_unposted_excused_counts_as_nothing_current_and_zero_final(
    sim: CanvasSimulator,
) -> None:
    """Mirrors grade_calculator_spec.rb context "when ignoring unposted submissions": the
    student's scores ignore an unposted submission, so an unposted *excused* one is left out
    of the current score and counts 0 of its points in the final score (GradeCalculator#
    ignore_submission?); the JSON says ``excused: true`` with ``posted_at: null``."""
    student = sim.student("tok-own")
    cid = plain_course(student)
    group = first_group(student, cid)
    before = student.expected_grades()[cid]
    aid = student.add_assignment(cid, group, "Excused, not posted", 40.0)
    as_ungraded = student.expected_grades()[cid]  # an ungraded 40-point item
    excuse_unposted(student, cid, aid)
    sub = next(a["submission"] for g in gradebook(sim, "tok-own", cid) for a in g["assignments"]
               if a["id"] == aid)
    assert sub["excused"] is True and sub["posted_at"] is None and sub["score"] is None
    now = student.expected_grades()[cid]
    assert now["current_score"] == before["current_score"]
    assert now["final_score"] == as_ungraded["final_score"] < before["final_score"]
    student.post_grade(cid, aid)  # posted: excused for real, out of both scores
    posted = student.expected_grades()[cid]
    assert (posted["current_score"], posted["final_score"]) == (
        before["current_score"], before["final_score"])


def test_sim_not_graded_submission_type_is_left_out(sim: CanvasSimulator) -> None:
    """Mirrors grade_calculator_spec.rb "properly calculates the grade when there are 'not
    graded' assignments with scores": an assignment whose submission type is not_graded
    (Assignment.gradeable) is not in the score even with a grade and points."""
    student = sim.student("tok-own")
    cid = plain_course(student)
    before = student.expected_grades()[cid]
    aid = student.add_assignment(cid, first_group(student, cid), "Attendance note", 50.0,
                                 submission_types=["not_graded"])
    student.grade(cid, aid, 1.0)
    after = student.expected_grades()[cid]
    assert (after["current_score"], after["final_score"]) == (
        before["current_score"], before["final_score"])


def test_sim_totals_follow_a_grade_change_only_after_the_recompute(
    sim: CanvasSimulator, pin_clock: Any,
) -> None:
    """Mirrors enrollment_spec.rb's use of Enrollment.recompute_final_score_in_singleton (a
    delayed singleton job): right after a grade change the assignment shows the new grade but
    ``computed_current_score`` is the old total until the job has run (clock seconds)."""
    pin_clock(T0)
    student = sim.student("tok-own")
    cid = plain_course(student)
    set_recompute_delay(student, cid, 120)
    total = student.expected_grades()[cid]["current_score"]
    _, aid = student.any_assignment(cid)
    student.grade(cid, aid, 0.0)
    assert student.expected_grades()[cid]["current_score"] == total
    pin_clock(T0 + timedelta(seconds=121))
    assert student.expected_grades()[cid]["current_score"] != total


def test_sim_request_cost_grows_with_the_objects_rendered(sim: CanvasSimulator) -> None:
    """Mirrors request_throttle.rb RequestThrottle#calculate_cost (cost = CPU time + DB time,
    the request_throttle_spec cost examples): a big gradebook costs more than a small one."""
    student = sim.student("tok-own")
    cid = plain_course(student)
    small = float(api(sim, "tok-own", f"/api/v1/courses/{cid}/assignment_groups")
                  .headers["x-request-cost"])
    big = api(sim, "tok-own", f"/api/v1/courses/{cid}/assignment_groups",
              **{"include[]": ["assignments", "submission"]})
    assert float(big.headers["x-request-cost"]) > small > 0.1
    assert float(api(sim, "tok-own", "/api/v1/users/self").headers["x-request-cost"]) == 0.1


# --- the maths and the parser ----------------------------------------------------------------


def test_not_graded_is_decided_by_submission_types() -> None:
    group = GradeGroup(1)
    items = [GradeItem(1, 1, points_possible=10, score=9),
             GradeItem(2, 1, points_possible=10, score=1, submission_types=("not_graded",)),
             GradeItem(3, 1, points_possible=10, score=0, submission_types=("wiki_page",)),
             # Canvas counts it: not_graded is only one of its types (Assignment.gradeable)
             GradeItem(4, 1, points_possible=10, score=5,
                       submission_types=("online_upload", "not_graded")),
             # grading_type plays no part once the types are known
             GradeItem(5, 1, points_possible=10, score=6, grading_type="not_graded",
                       submission_types=("online_upload",))]
    result = course_grade([group], items, False)
    assert result.current_percent == pytest.approx(20 / 30 * 100)


def test_parser_keeps_only_the_students_own_and_hides_an_unposted_excuse() -> None:
    payload = [{"id": 1, "assignments": [
        {"id": 10, "submission_types": ["online_upload"],
         "submission": {"excused": True, "posted_at": None}},
        {"id": 11, "only_visible_to_overrides": True},  # another section's: no submission
        {"id": 12},  # for everyone, placeholder not made yet: kept
        {"id": 13, "submission": {"excused": True, "posted_at": "2026-10-01T10:00:00Z"}},
    ]}]
    rows = {a["canvas_assignment_id"]: a
            for a in parse_gradebook(7, payload, own_only=True).assignments}
    assert set(rows) == {10, 12, 13}
    assert rows[10]["is_excused"] is False and rows[10]["score"] is None
    assert rows[10]["submission_types"] == "online_upload"
    assert rows[13]["is_excused"] is True
    assert 11 in {a["canvas_assignment_id"] for a in parse_gradebook(7, payload).assignments}


def test_settle_waits_for_canvas_then_flags() -> None:
    graded = [{"graded_at": T0, "posted_at": T0}]
    soon = settling.settle(None, True, graded, T0 + timedelta(minutes=2))
    assert soon == {"differs_since": T0 + timedelta(minutes=2), "difference_status": "settling"}
    # Still there at the next sync, no newer grade: persisted.
    again = settling.settle(soon, True, graded, T0 + timedelta(hours=1))
    assert again == {**soon, "difference_status": "persisted"}
    # A grade already older than the grace when first seen: aged at once.
    old = settling.settle(None, True, graded, T0 + settling.RECOMPUTE_GRACE)
    assert old["difference_status"] == "aged"
    # A newer grade since the difference was first seen starts the wait again.
    newer = [{"graded_at": T0 + timedelta(minutes=30), "posted_at": None}]
    assert settling.settle(soon, True, newer, T0 + timedelta(minutes=31))[
        "difference_status"] == "settling"
    assert settling.settle(again, False, graded, T0 + timedelta(hours=2)) == {
        "differs_since": None, "difference_status": None}


# --- real syncs over HTTP --------------------------------------------------------------------


def test_sync_observer_student_gets_canvas_score_without_other_students_zeros(
    app: Any, simulator: Any,
) -> None:
    user, student = connect_user(app, simulator, email="obs@example.edu", token="tok-obs")
    cid = plain_course(student)
    add_role(student, cid, "observer")
    other = assign_to_others(student, cid, first_group(student, cid), "Section B final", 300)
    sync(user)
    course = local(cid)
    stored = set(db.session.scalars(select(Assignment.canvas_assignment_id)
                                    .where(Assignment.course_id == course.id)))
    assert other not in stored
    assert stored == set(student.expected()[cid]["assignments"])
    assert course.our_current_score == student.expected_grades()[cid]["current_score"]
    assert course.score_difference == 0 and course.difference_status is None


def test_sync_unposted_excused_and_not_graded_match_canvas(app: Any, simulator: Any) -> None:
    user, student = connect_user(app, simulator, email="exc@example.edu", token="tok-exc")
    cid = plain_course(student)
    group = first_group(student, cid)
    excused = student.add_assignment(cid, group, "Excused, unposted", 30.0)
    excuse_unposted(student, cid, excused)
    ungraded = student.add_assignment(cid, group, "Reading log", 80.0,
                                      submission_types=["not_graded"])
    student.grade(cid, ungraded, 2.0)
    sync(user)
    from app.pages.dashboard.view_data import course_reports  # the dashboard's own maths

    report = next(r for r in course_reports(db.session, user.id) if r.course.canvas_course_id
                  == cid)
    expected = student.expected_grades()[cid]
    assert report.current_score == expected["current_score"]
    assert report.final_score == expected["final_score"]
    assert not report.differs
    row = db.session.scalars(select(Assignment).where(
        Assignment.canvas_assignment_id == excused)).one()
    assert row.is_excused is False and row.score is None  # a hidden grade until posted


def test_sync_a_difference_right_after_a_grade_change_waits_for_canvas(
    app: Any, simulator: Any, client: Any, pin_clock: Any,
) -> None:
    pin_clock(T0)
    user, student = connect_user(app, simulator, email="lag@example.edu", token="tok-lag")
    cid = plain_course(student)
    sync(user)
    set_recompute_delay(student, cid, 3600)  # Canvas's job queue is slow today
    _, aid = student.any_assignment(cid)
    student.grade(cid, aid, 0.0)
    pin_clock(T0 + timedelta(minutes=2))
    sync(user, incremental=True)
    course = local(cid)
    assert course.score_difference not in (None, 0)  # ours moved, Canvas's not yet
    assert course.difference_status == "settling"
    row = dashboard_row(client, user, course)
    assert "data-differs" not in row and "data-settling" in row
    assert "still there at the next sync" in row

    pin_clock(T0 + timedelta(minutes=5))  # Canvas still catching up at the next sync
    sync(user, incremental=True)
    course = local(cid)
    assert course.difference_status == "persisted"
    row = dashboard_row(client, user, course)
    assert "data-differs" in row and "already there at the sync before" in row

    pin_clock(T0 + timedelta(hours=2))  # the recompute ran: the difference is gone
    sync(user, incremental=True)
    course = local(cid)
    assert course.score_difference == 0 and course.difference_status is None
    assert "data-differs" not in dashboard_row(client, user, course)


def test_sync_a_difference_with_an_old_newest_grade_is_flagged_at_once(
    app: Any, simulator: Any, client: Any, pin_clock: Any,
) -> None:
    pin_clock(T0)
    user, student = connect_user(app, simulator, email="aged@example.edu", token="tok-aged")
    cid = plain_course(student)
    sync(user)
    set_recompute_delay(student, cid, 3600)
    _, aid = student.any_assignment(cid)
    student.grade(cid, aid, 0.0)
    pin_clock(T0 + settling.RECOMPUTE_GRACE + timedelta(minutes=1))
    sync(user, incremental=True)
    course = local(cid)
    assert course.difference_status == "aged"
    row = dashboard_row(client, user, course)
    assert "data-differs" in row and "over 10 minutes old" in row
