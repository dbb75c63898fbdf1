"""The sync against a Canvas as strict as the real one (issue 12), on SQLite and Postgres.

A term that ends (by date, by the teacher, by the registrar) loses nothing; a dropped course
goes only when Canvas confirms it; TA courses stay out; 10^13-range ids sync; late final
grades after the end date reach the incremental sync.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.connections import create_canvas_sync_service
from app.extensions import db
from app.models import Course
from tests.sync_helpers import assert_db_matches, db_snapshot


def sync(user: Any, incremental: bool = False) -> Any:
    results = create_canvas_sync_service(user).sync_all_data(use_incremental=incremental)
    assert results["status"] == "succeeded", results["error"]
    return results


def stored_ids(user: Any) -> set[int]:
    db.session.expire_all()
    return set(db.session.scalars(select(Course.canvas_course_id).where(Course.user_id == user.id)))


def test_a_term_that_ends_loses_nothing(canvas_user: Any) -> None:
    user, student = canvas_user
    sync(user)
    ids = sorted(student.expected())
    before = stored_ids(user)
    student.conclude_by_date(ids[0])  # the term ends by date
    student.conclude_by_date(ids[1])
    sync(user, incremental=True)
    assert_db_matches(user, student)
    student.conclude_course(ids[0])  # then the teacher concludes it
    student.registrar_complete(ids[1])  # the registrar completes another enrollment
    for incremental in (True, False):
        sync(user, incremental=incremental)
        assert_db_matches(user, student)
        assert stored_ids(user) == before
    snapshot = db_snapshot(user.id)
    assert snapshot[ids[0]]["concluded"] is True and snapshot[ids[0]]["assignments"]


def test_a_first_sync_sees_past_terms_of_every_ending(app: Any, simulator: Any) -> None:
    from tests.conftest import connect_user

    user, student = connect_user(
        app, simulator, email="senior@example.edu", token="tok-senior-f", preset="senior"
    )
    sync(user)
    assert_db_matches(user, student)
    states = {(c.workflow_state, c.enrollment_state) for c in db.session.scalars(select(Course))}
    assert ("completed", "completed") in states  # teacher-concluded
    assert ("available", "completed") in states  # registrar-completed


def test_dropped_course_is_deleted_only_after_canvas_confirms(canvas_user: Any) -> None:
    user, student = canvas_user
    sync(user)
    gone = sorted(student.expected())[0]
    student.drop_course(gone)
    results = sync(user, incremental=True)
    assert results["courses_deleted"] == 1
    assert gone not in stored_ids(user)
    assert_db_matches(user, student)


class ListsShort:
    """The real client, except that the course list lacks one course (paged oddly)."""

    def __init__(self, client: Any, missing: int) -> None:
        self.client, self.missing = client, missing

    def get_courses(self) -> list[Any]:
        return [c for c in self.client.get_courses() if c.get("id") != self.missing]

    def get_completed_courses(self) -> list[Any]:
        return self.client.get_completed_courses()

    def get_student_enrollments(self) -> list[Any]:
        return [e for e in self.client.get_student_enrollments()
                if e.get("course_id") != self.missing]

    def get_course(self, course_id: int) -> Any:
        return self.client.get_course(course_id)

    def get_assignment_groups(self, course_id: int, **kwargs: Any) -> list[Any]:
        return self.client.get_assignment_groups(course_id, **kwargs)


def test_a_short_list_deletes_nothing_and_marks_the_course(
    canvas_user: Any, simulator: Any
) -> None:
    from app.canvas.client import CanvasAPIService
    from app.outbound import OutboundPolicy

    user, student = canvas_user
    sync(user)
    missing = sorted(student.expected())[1]
    policy = OutboundPolicy(allow_private=True)  # the loopback simulator
    with CanvasAPIService(simulator.base_url, "tok-freshman-1", policy=policy) as real:
        service = create_canvas_sync_service(user, client=ListsShort(real, missing))
        results = service.sync_all_data()
    assert results["status"] == "succeeded" and results["courses_deleted"] == 0
    db.session.expire_all()
    course = db.session.scalar(select(Course).where(Course.canvas_course_id == missing))
    assert course is not None and course.missing_since is not None
    sync(user)  # listed again: no longer missing
    db.session.expire_all()
    assert db.session.get(Course, course.id).missing_since is None
    assert_db_matches(user, student)


def test_ta_course_is_left_out(canvas_user: Any) -> None:
    user, student = canvas_user
    sync(user)
    ta = [c.id for c in student.courses.values() if c.enrollment_type == "ta"]
    assert ta and not set(ta) & stored_ids(user)


def test_ids_in_the_10_to_the_13_range_sync(canvas_user: Any) -> None:
    user, student = canvas_user
    sync(user)
    big = [cid for cid in student.expected() if cid >= 10**13]
    assert big
    snapshot = db_snapshot(user.id)
    for cid in big:
        assert snapshot[cid]["assignments"]
        assert all(aid >= 10**13 for aid in snapshot[cid]["assignments"])
    assert_db_matches(user, student)


def test_late_final_grade_after_the_end_date_reaches_the_incremental_sync(
    canvas_user: Any,
) -> None:
    user, student = canvas_user
    course_id = sorted(student.expected())[0]
    student.conclude_by_date(course_id)
    sync(user)
    sync(user, incremental=True)  # stored while concluded
    student.late_final_grade(course_id)
    sync(user, incremental=True)
    assert_db_matches(user, student)
    assert sync(user)["rows_written"] == 0  # equal to what a full sync writes
