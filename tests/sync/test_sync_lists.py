"""Every course, from the lists Canvas really has (issue 18), on SQLite and Postgres.

Against the simulator over HTTP, through the real engine: a term ends by date, a teacher
concludes a course, the registrar completes an enrollment; after the first, every incremental,
every full sync and the day's sweep, the database holds every course with Canvas's scores
(``assert_db_matches``). The registrar-completed course's scores come from the enrollments API;
a course no list shows is kept and the dashboard says since when; a no-change incremental sync
costs the default list and one request per active course; a one-course sync of a concluded
course keeps Canvas's score.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from app.accounts import create_user
from app.canvas.client import CanvasAPIService
from app.connections import create_canvas_sync_service, set_canvas_credentials
from app.extensions import db
from app.models import Course
from app.outbound import OutboundPolicy
from app.sync.lists import sweep_due
from tests.auth_actions import sign_in
from tests.conftest import connect_user
from tests.school_year import MIDTERM
from tests.sync_helpers import assert_db_matches, db_snapshot, row_counts

LOOPBACK = OutboundPolicy(allow_private=True)  # the simulator listens on 127.0.0.1
LISTS = (r"^/api/v1/courses$", r"^/api/v1/users/self/enrollments$")


def sync(user: Any, incremental: bool = False, **kwargs: Any) -> Any:
    results = create_canvas_sync_service(user, **kwargs).sync_all_data(
        use_incremental=incremental)
    assert results["status"] == "succeeded", results["error"]
    return results


def stored(user: Any) -> dict[int, Course]:
    db.session.expire_all()
    return {c.canvas_course_id: c
            for c in db.session.scalars(select(Course).where(Course.user_id == user.id))}


def list_requests(simulator: Any) -> int:
    return sum(len(simulator.stats.by_path(path)) for path in LISTS)


def active(student: Any) -> list[int]:
    return sorted(cid for cid, c in student.expected().items() if not c["concluded"])


def at_noon(pin_clock: Any, days: int = 0) -> None:
    """Pin the clock at noon UTC of a mid-term day (``days`` on): a term in progress with graded
    work to end (tests/school_year.py), and no test crosses a day it did not mean to."""
    noon = MIDTERM.replace(hour=12, minute=0, second=0, microsecond=0)
    pin_clock(noon + timedelta(days=days))


def test_every_ending_keeps_every_course_with_canvas_scores(
    app: Any, simulator: Any, pin_clock: Any
) -> None:
    at_noon(pin_clock)
    user, student = connect_user(app, simulator, email="lists@example.edu",
                                 token="tok-lists", preset="senior")
    simulator.reset_stats()
    sync(user)  # the first sync: all three lists
    assert list_requests(simulator) == 3
    assert_db_matches(user, student)
    every = set(student.expected())
    assert set(stored(user)) == every  # past terms ended by date, teacher and registrar too

    current = [cid for cid in active(student) if student.course(cid).term.end_at is not None]
    assert len(current) >= 3
    by_date = student.end_term(current[0])  # the current term ends by date
    sync(user, incremental=True)
    assert_db_matches(user, student)
    by_teacher, by_registrar = current[1], current[2]
    assert {by_teacher, by_registrar} <= set(by_date)

    student.conclude_course(by_teacher)
    sync(user, incremental=True)
    assert_db_matches(user, student)

    student.registrar_complete(by_registrar)
    simulator.reset_stats()
    sync(user, incremental=True)
    assert_db_matches(user, student)
    rows = stored(user)
    assert set(rows) == every and all(c.missing_since is None for c in rows.values())
    assert rows[by_teacher].workflow_state == "completed"
    assert (rows[by_registrar].workflow_state, rows[by_registrar].enrollment_state) == (
        "available", "completed")
    # In no /courses list: read with GET /courses/:id (which answers "enrollments": []), its
    # scores from the enrollments API.
    assert simulator.stats.by_path(rf"^/api/v1/courses/{by_registrar}$")
    assert simulator.stats.by_path(r"^/api/v1/users/self/enrollments$")
    want = student.expected()[by_registrar]
    assert rows[by_registrar].canvas_current_score == want["computed_current_score"] is not None
    assert rows[by_registrar].canvas_final_score == want["computed_final_score"]

    # No change: the default list and one request per active course, nothing else.
    with CanvasAPIService(simulator.base_url, "tok-lists", policy=LOOPBACK) as api:
        results = sync(user, incremental=True, client=api)
        assert api.stats.requests == 1 + len(active(student)) == results["requests"]
    assert results["rows_written"] == 0

    sync(user)  # a full sync: all three lists, every course
    assert_db_matches(user, student)
    at_noon(pin_clock, days=1)
    simulator.reset_stats()
    sync(user, incremental=True)  # the next day's first sync is the sweep
    assert list_requests(simulator) == 3
    assert_db_matches(user, student)

    # Another student account's first sync, after every ending: nothing missing either.
    other = create_user("lists-2@example.edu", "correct horse battery")
    set_canvas_credentials(other, simulator.base_url, "tok-lists")
    sync(other)
    assert_db_matches(other, student)


def test_looking_further_reads_again_only_what_moved(
    app: Any, simulator: Any, pin_clock: Any
) -> None:
    at_noon(pin_clock)
    user, student = connect_user(app, simulator, email="further@example.edu",
                                 token="tok-further")
    by_registrar, by_teacher = active(student)[:2]
    student.registrar_complete(by_registrar)
    sync(user)
    student.conclude_course(by_teacher)
    simulator.reset_stats()
    results = sync(user, incremental=True)
    assert list_requests(simulator) == 3  # it left the default list: the other two are read
    assert len(simulator.stats.by_path(rf"^/api/v1/courses/{by_teacher}/assignment_groups$")) == 1
    # The registrar's course shows the same state and scores: neither read nor written again.
    assert simulator.stats.by_path(rf"^/api/v1/courses/{by_registrar}") == []
    assert results["courses_concluded_skipped"] == 1
    assert_db_matches(user, student)


def test_a_change_no_total_shows_is_seen_by_the_next_days_sweep(
    app: Any, simulator: Any, pin_clock: Any
) -> None:
    at_noon(pin_clock)
    user, student = connect_user(app, simulator, email="sweep@example.edu",
                                 token="tok-sweep", preset="senior")
    sync(user)
    concluded = {cid for cid, c in student.expected().items() if c["concluded"]}
    by_teacher = next(cid for cid in sorted(concluded)
                      if student.course(cid).workflow_state == "completed")
    by_registrar = next(cid for cid in sorted(concluded)
                        if student.course(cid).enrollment_state == "completed")
    renamed = {}
    for course_id in (by_teacher, by_registrar):
        assignment = sorted(student.expected()[course_id]["assignments"])[0]
        student.edit_assignment(course_id, assignment, name=f"Renamed in {course_id}")
        renamed[course_id] = assignment
    student.rename_course(by_teacher, "Archived: renamed")

    sync(user, incremental=True)  # the same day: neither course is in the list it reads
    snapshot = db_snapshot(user.id)
    for course_id, assignment in renamed.items():
        assert snapshot[course_id]["assignments"][assignment]["name"] != (
            f"Renamed in {course_id}")

    at_noon(pin_clock, days=1)  # within 24 hours, the sweep reads every concluded course
    results = sync(user, incremental=True)
    assert_db_matches(user, student)
    assert results["courses_concluded_skipped"] == 0


def test_a_registrar_completed_course_keeps_canvas_scores_from_the_enrollments_api(
    app: Any, simulator: Any, pin_clock: Any
) -> None:
    at_noon(pin_clock)
    user, student = connect_user(app, simulator, email="reg@example.edu", token="tok-reg")
    sync(user)
    course_id = active(student)[0]
    student.registrar_complete(course_id)
    sync(user, incremental=True)
    assert_db_matches(user, student)
    score = stored(user)[course_id].canvas_current_score
    assert score is not None

    # The teacher grades after the completion: the total moves, but the course is in no list
    # an ordinary incremental sync reads; the next day's sweep sees the enrollment's grades.
    student.late_final_grade(course_id, score=0.0)
    moved = student.expected()[course_id]["computed_current_score"]
    assert moved != score
    sync(user, incremental=True)
    assert stored(user)[course_id].canvas_current_score == score
    at_noon(pin_clock, days=1)
    sync(user, incremental=True)
    assert stored(user)[course_id].canvas_current_score == moved
    assert_db_matches(user, student)


def test_a_one_course_sync_of_a_concluded_course_keeps_canvas_scores(
    app: Any, simulator: Any, pin_clock: Any
) -> None:
    at_noon(pin_clock)
    user, student = connect_user(app, simulator, email="one@example.edu", token="tok-one")
    by_teacher, by_registrar = active(student)[:2]
    student.conclude_course(by_teacher)
    student.registrar_complete(by_registrar)
    sync(user)
    before = {cid: (c.id, c.canvas_current_score, c.enrollment_state)
              for cid, c in stored(user).items()}
    for course_id in (by_teacher, by_registrar):
        assert before[course_id][1] is not None
        simulator.reset_stats()
        local_id = before[course_id][0]
        results = create_canvas_sync_service(user).sync_course_data(local_id)
        assert results["status"] == "succeeded", results["error"]
        # GET /courses/:id answered "enrollments": [] (a completed enrollment) ...
        assert simulator.stats.by_path(rf"^/api/v1/courses/{course_id}$")
        row = stored(user)[course_id]
        # ... and Canvas's score and the enrollment's state are still the stored ones.
        assert (row.canvas_current_score, row.enrollment_state) == before[course_id][1:]
        assert row.concluded is True
    assert_db_matches(user, student)


class Unlisted:
    """The real client, except that no list shows one course (GET /courses/:id still does)."""

    def __init__(self, client: Any, hidden: int) -> None:
        self.client, self.hidden = client, hidden
        self.stats, self.limiter = client.stats, client.limiter

    def _without(self, items: list[Any], key: str) -> list[Any]:
        return [item for item in items if item.get(key) != self.hidden]

    def get_courses(self) -> list[Any]:
        return self._without(self.client.get_courses(), "id")

    def get_completed_courses(self) -> list[Any]:
        return self._without(self.client.get_completed_courses(), "id")

    def get_student_enrollments(self) -> list[Any]:
        return self._without(self.client.get_student_enrollments(), "course_id")

    def get_course(self, course_id: int) -> Any:
        return self.client.get_course(course_id)

    def get_assignment_groups(self, course_id: int, **kwargs: Any) -> list[Any]:
        return self.client.get_assignment_groups(course_id, **kwargs)

    def close(self) -> None:
        self.client.close()


def test_a_course_no_list_shows_stays_and_the_dashboard_says_since_when(
    app: Any, simulator: Any, pin_clock: Any
) -> None:
    # 15:00 UTC on Feb 29 is already Mar 1 in Auckland: the date is the student's.
    pin_clock(datetime(2028, 2, 29, 15, tzinfo=UTC))
    user, student = connect_user(app, simulator, email="gone@example.edu", token="tok-gone")
    user.time_zone = "Pacific/Auckland"
    db.session.commit()
    sync(user)
    hidden = active(student)[0]
    counts = row_counts(user.id)
    with CanvasAPIService(simulator.base_url, "tok-gone", policy=LOOPBACK) as api:
        results = sync(user, client=Unlisted(api, hidden))
    assert results["courses_deleted"] == 0
    course = stored(user)[hidden]
    assert course.missing_since is not None and course.canvas_current_score is not None
    assert row_counts(user.id) == counts  # its grades are kept

    client = app.test_client()
    sign_in(client, user)
    page = client.get("/").get_data(as_text=True)
    assert "no longer listed by Canvas since" in page
    row = page[page.index(f'data-course-id="{course.id}"'):]
    row = row[:row.index("</tr>")]
    assert "no longer listed by Canvas since" in row and "Mar 01, 2028" in row
    assert "Feb 29, 2028" not in row
    other = next(c for cid, c in stored(user).items() if cid != hidden)
    other_row = page[page.index(f'data-course-id="{other.id}"'):]
    assert "no longer listed" not in other_row[:other_row.index("</tr>")]

    sync(user)  # listed again: no longer missing, and the page says nothing
    assert stored(user)[hidden].missing_since is None
    assert "no longer listed by Canvas since" not in client.get("/").get_data(as_text=True)
    assert_db_matches(user, student)


def test_the_sweep_is_the_first_sync_of_each_utc_day() -> None:
    day = datetime(2028, 3, 1, tzinfo=UTC)
    assert sweep_due(None, day)  # the first sync ever
    assert sweep_due(day - timedelta(seconds=1), day + timedelta(minutes=5))
    assert not sweep_due(day, day + timedelta(hours=23, minutes=59))
    assert not sweep_due(day + timedelta(minutes=5), day + timedelta(hours=1))


def test_a_token_canvas_never_accepted_costs_one_request(app: Any, simulator: Any) -> None:
    """The three lists go one after the other until Canvas has accepted the token once."""
    user = create_user("dead@example.edu", "correct horse battery")
    set_canvas_credentials(user, simulator.base_url, "tok-never-issued")
    simulator.reset_stats()
    results = create_canvas_sync_service(user).sync_all_data()
    assert results["status"] == "failed" and results["error_kind"] == "invalid_token"
    assert simulator.stats.requests == 1
