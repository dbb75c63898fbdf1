"""CanvasSyncService against the Canvas simulator, on SQLite and on Postgres.

The oracle is ``Student.expected()``: after every sync the database must hold exactly what the
student sees in Canvas (``assert_db_matches``), and an incremental sync must leave it exactly
as a full sync would.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, select

import clock
from app.accounts import create_user
from app.canvas.client import CanvasAPIService
from app.canvas.errors import (
    BadResponse,
    CanvasTimeout,
    CanvasUnavailable,
    NotPermitted,
    RateLimited,
)
from app.connections import (
    create_canvas_sync_service,
    default_connection,
    set_canvas_credentials,
)
from app.extensions import db
from app.jobs.runs import RunProgressWriter
from app.models import Course, SyncRun, User
from app.outbound import OutboundPolicy
from app.sync import fetch
from app.sync.progress import step_line
from app.sync.result import SyncProgress
from tests.conftest import connect_user
from tests.school_year import MIDTERM
from tests.sync_helpers import (
    add_fake_connection,
    assert_db_matches,
    db_differences,
    db_snapshot,
    only_connection,
    row_counts,
)

Mutation = Callable[[Any], None]
# Course-list requests (one page each here, app.sync.lists): the first sync, a full one and the
# day's sweep read all three lists; another incremental sync reads the default one only.
ALL_LISTS = 3
DEFAULT_LIST = 1


def sync(user: User, incremental: bool = False, **kwargs: Any) -> Any:
    service = create_canvas_sync_service(user, **kwargs)
    return service.sync_all_data(use_incremental=incremental)


def succeeded(results: Any) -> Any:
    assert results["status"] == "succeeded", results["error"]
    assert results["error"] is None
    return results


def visible_ids(student: Any) -> list[int]:
    return sorted(student.expected())


def gradebook_paths(simulator: Any, course_id: int | None = None) -> list[Any]:
    cid = rf"{course_id}" if course_id is not None else r"\d+"
    return simulator.stats.by_path(rf"^/api/v1/courses/{cid}/assignment_groups$")


# --- full sync -------------------------------------------------------------------------------


def test_full_sync_stores_exactly_what_canvas_shows(canvas_user: Any) -> None:
    user, student = canvas_user
    results = succeeded(sync(user))
    assert_db_matches(user, student)
    expected = student.expected()
    assert results["courses"] == len(expected) == 5
    assert results["assignments"] == sum(len(c["assignments"]) for c in expected.values())
    assert results["courses_skipped"] == 1  # the freshman's date-restricted course
    # The three course lists (app.sync.lists), one per course,
    # and the first sync reads each course's grading scheme once (app.sync.periods): none for
    # scheme 0 (Canvas's default), two for an account's (the course's standard answers 404,
    # then include[]=grading_scheme), and each course's grading periods once.
    grading = student.expected_grades().values()
    schemes = sum(1 for g in grading if g["grading_scheme"] and g["grading_standard_id"] != 0)
    accounts = sum(1 for c in expected if (s := student.course(c).grading_standard) is not None
                   and s.context_type == "Account")
    periods = sum(1 for g in grading if g["grading_periods"])
    # the freshman's (how many other courses drew a scheme of their own varies with the day the
    # dataset is built for; the request count below follows it exactly)
    assert schemes >= accounts == 1 and periods == 2
    assert results["requests"] == ALL_LISTS + len(expected) + schemes + accounts + periods
    assert results["rows_written"] > results["assignments"]
    assert results["courses_written"] == 5
    assert only_connection(user).last_synced_at is not None


def test_second_full_sync_writes_nothing_and_adds_no_duplicates(canvas_user: Any) -> None:
    user, student = canvas_user
    succeeded(sync(user))
    counts = row_counts(user.id)
    again = succeeded(sync(user))
    assert again["rows_written"] == 0
    assert (again["courses_written"], again["courses_unchanged"]) == (0, 5)
    assert row_counts(user.id) == counts
    assert_db_matches(user, student)


def test_statements_per_course_stay_few(canvas_user: Any) -> None:
    user, student = canvas_user
    first = succeeded(sync(user))
    # course row, groups, assignments, and the grading periods of a course that has them:
    # nothing to delete in an empty database
    assert first["db_statements_max_per_course"] <= 4
    # (one more read at the start, and one upsert per course with grading periods)
    with_periods = sum(1 for g in student.expected_grades().values() if g["grading_periods"])
    assert first["db_statements"] <= 9 + 3 * first["courses"] + with_periods
    again = succeeded(sync(user))
    assert again["db_statements_max_per_course"] <= 2  # the course row did not change
    unchanged = succeeded(sync(user, incremental=True))
    assert unchanged["db_statements_max_per_course"] == 0
    # The reads at the start (terms, and the courses with the connection), the warm start's
    # read, the user's stamp: nothing per course, and none of the stored assignments read.
    # One more: the stored grading periods of the courses that have them (app.sync.periods:
    # the weights the grade check needs, not in the course list), one read for all of them.
    assert unchanged["db_statements"] <= 5
    # Deleting only costs statements where something was deleted.
    course_id, assignment_id = student.any_assignment()
    student.delete_assignment(course_id, assignment_id)
    deleted = succeeded(sync(user))
    assert deleted["db_statements_max_per_course"] <= 5


# --- incremental sync: every kind of change ---------------------------------------------------


def _course_and_group(student: Any) -> tuple[int, int]:
    course_id, _ = student.any_assignment()
    return course_id, sorted(student.expected()[course_id]["groups"])[0]


def _add_assignment(student: Any) -> None:
    course_id, group_id = _course_and_group(student)
    student.add_assignment(course_id, group_id, "Pop quiz ✍️", 5.0)


def _edit_assignment(student: Any) -> None:
    student.edit_assignment(
        *student.any_assignment(),
        name="Lab 1 (revised)",
        points_possible=25.0,
        due_at="2031-05-01T04:59:59Z",
    )


def _reweight(student: Any) -> None:
    course_id, group_id = _course_and_group(student)
    student.reweight_group(course_id, group_id, 55.5)


def _rules(student: Any) -> None:
    course_id, assignment_id = student.any_assignment()
    group_id = student.expected()[course_id]["assignments"][assignment_id]["group_id"]
    student.set_group_rules(
        course_id, group_id, drop_lowest=1, drop_highest=1, never_drop=[assignment_id]
    )


def _toggle_weighting(student: Any) -> None:
    course_id, _ = student.any_assignment()
    student.set_group_weighting(course_id, not student.expected()[course_id]["apply_group_weights"])


CHANGES: dict[str, Mutation] = {
    "grade": lambda s: s.grade(*s.any_assignment(), 7.5),
    "excuse": lambda s: s.excuse(*s.any_assignment()),
    "missing": lambda s: s.mark_missing(*s.any_assignment()),
    "add_assignment": _add_assignment,
    "edit_assignment": _edit_assignment,
    "unpublish": lambda s: s.unpublish_assignment(*s.any_assignment()),
    "delete": lambda s: s.delete_assignment(*s.any_assignment()),
    "reweight_group": _reweight,
    "change_rules": _rules,
    "toggle_weighting": _toggle_weighting,
    "rename_course": lambda s: s.rename_course(s.any_assignment()[0], "Économie 201 — renamed"),
    "drop_course": lambda s: s.drop_course(s.any_assignment()[0]),
    "conclude_course": lambda s: s.conclude_course(s.any_assignment()[0]),
}


@pytest.mark.clock(MIDTERM)  # needs a term in progress with graded work
@pytest.mark.parametrize("change", sorted(CHANGES))
def test_incremental_sync_sees_every_change(canvas_user: Any, change: str) -> None:
    user, student = canvas_user
    succeeded(sync(user))
    CHANGES[change](student)
    assert db_differences(user.id, student), "the change should be visible in Canvas"
    incremental = succeeded(sync(user, incremental=True))
    assert_db_matches(user, student)
    assert incremental["rows_written"] > 0 or incremental["courses_deleted"] == 1
    # What a full sync would write is exactly what is there already.
    assert succeeded(sync(user))["rows_written"] == 0


def test_grade_posted_after_the_last_sync_shows(canvas_user: Any) -> None:
    """The case ``graded_since`` misses: graded before the last sync, posted after it."""
    user, student = canvas_user
    course_id, assignment_id = student.any_assignment()
    student.grade(course_id, assignment_id, 9.0, posted=False)
    succeeded(sync(user))
    assert_db_matches(user, student)
    assert student.expected()[course_id]["assignments"][assignment_id]["score"] is None

    student.post_grade(course_id, assignment_id)
    succeeded(sync(user, incremental=True))
    assert_db_matches(user, student)
    assert student.expected()[course_id]["assignments"][assignment_id]["score"] == 9.0


def test_incremental_after_many_changes_equals_full(canvas_user: Any) -> None:
    user, student = canvas_user
    succeeded(sync(user))
    for name in ("grade", "add_assignment", "reweight_group", "rename_course", "missing"):
        CHANGES[name](student)
    ids = visible_ids(student)
    student.delete_assignment(ids[-1], sorted(student.expected()[ids[-1]]["assignments"])[0])
    student.drop_course(ids[0])
    succeeded(sync(user, incremental=True))
    assert_db_matches(user, student)
    assert succeeded(sync(user))["rows_written"] == 0


def test_no_change_incremental_is_one_request_per_active_course(
    canvas_user: Any, simulator: Any
) -> None:
    user, student = canvas_user
    succeeded(sync(user))
    simulator.reset_stats()
    results = succeeded(sync(user, incremental=True))
    active = [cid for cid, c in student.expected().items() if not c["concluded"]]
    list_pages = len(simulator.stats.by_path(r"^/api/v1/courses$"))
    assert list_pages == DEFAULT_LIST  # the default list only, one page
    assert simulator.stats.by_path(r"^/api/v1/users/self/enrollments$") == []
    assert simulator.stats.requests == list_pages + len(active) == results["requests"]
    assert len(gradebook_paths(simulator)) == len(active)
    assert results["rows_written"] == 0
    assert results["courses_unchanged"] == len(active)
    assert_db_matches(user, student)


@pytest.mark.clock(MIDTERM)  # needs a term in progress with graded work
def test_concluded_course_synced_after_concluding_gets_no_request(
    canvas_user: Any, simulator: Any, pin_clock: Any
) -> None:
    user, student = canvas_user
    succeeded(sync(user))
    course_id = visible_ids(student)[0]
    student.conclude_course(course_id)

    # First sync after the conclusion: it left the default list, so the other two lists are
    # read; fetched once, stored as concluded.
    simulator.reset_stats()
    succeeded(sync(user, incremental=True))
    assert len(simulator.stats.by_path(r"^/api/v1/courses$")) == 2
    assert_db_matches(user, student)
    assert student.expected()[course_id]["concluded"] is True

    # From now on no request for it, and the list that holds it is not read either: a rename
    # waits for the day's sweep (or a full sync).
    student.rename_course(course_id, "Archived: Intro")
    simulator.reset_stats()
    results = succeeded(sync(user, incremental=True))
    assert simulator.stats.by_path(rf"^/api/v1/courses/{course_id}") == []
    assert results["courses_concluded_skipped"] == 1
    assert results["requests"] == DEFAULT_LIST + len(student.expected()) - 1
    assert db_snapshot(user.id)[course_id]["name"] != "Archived: Intro"

    # The next day's first sync is the sweep: every list, every concluded course.
    pin_clock(clock.now() + timedelta(days=1))
    simulator.reset_stats()
    succeeded(sync(user, incremental=True))
    assert len(gradebook_paths(simulator, course_id)) == 1
    assert_db_matches(user, student)

    # A full sync trusts nothing and fetches it again.
    simulator.reset_stats()
    succeeded(sync(user))
    assert len(gradebook_paths(simulator, course_id)) == 1


def test_senior_with_mostly_concluded_courses(app: Any, simulator: Any) -> None:
    user, student = connect_user(
        app, simulator, email="senior@example.edu", token="tok-senior", preset="senior"
    )
    succeeded(sync(user))
    assert_db_matches(user, student)
    simulator.reset_stats()
    results = succeeded(sync(user, incremental=True))
    active = [cid for cid, c in student.expected().items() if not c["concluded"]]
    assert len(active) < len(student.expected())
    assert len(gradebook_paths(simulator)) == len(active)
    assert results["rows_written"] == 0
    assert_db_matches(user, student)


@pytest.mark.slow
def test_heavy_student_two_enrollment_pages_and_a_250_assignment_course(
    app: Any, simulator: Any
) -> None:
    user, student = connect_user(
        app, simulator, email="heavy@example.edu", token="tok-heavy", preset="heavy"
    )
    simulator.reset_stats()
    first = succeeded(sync(user))
    assert_db_matches(user, student)
    # The enrollments list (~130 student enrollments) takes two bookmark pages.
    assert len(simulator.stats.by_path(r"^/api/v1/users/self/enrollments$")) == 2
    # 130 requests from 16 threads, and the token's bucket never overflows (hwm 600).
    assert first["throttled"] == simulator.stats.throttled == 0
    expected = student.expected()
    assert max(len(c["assignments"]) for c in expected.values()) > 200  # 250, a few unpublished
    assert first["db_statements_max_per_course"] <= 3
    simulator.reset_stats()
    results = succeeded(sync(user, incremental=True))
    list_pages = len(simulator.stats.by_path(r"^/api/v1/courses$"))
    active = [cid for cid, c in expected.items() if not c["concluded"]]
    assert list_pages == 1  # the default list (no longer 100 courses once terms ended) only
    # One request per active course, but the 250-assignment one: its groups beside its
    # assignments' pages (app.sync.fetch.fetch_split), planned from the size stored last time.
    sizes = dict(db.session.execute(select(Course.canvas_course_id, Course.gradebook_size)
                                    .where(Course.user_id == user.id)).all())
    split = [cid for cid in active if (sizes[cid] or 0) >= fetch.SPLIT_AT]
    assert len(split) == 1
    extra = sum(math.ceil(sizes[cid] / fetch.PAGE_SIZE) for cid in split)
    assert results["requests"] == simulator.stats.requests == list_pages + len(active) + extra
    assert len(simulator.stats.by_path(rf"^/api/v1/courses/{split[0]}/assignments$")) == extra
    assert results["rows_written"] == 0


# --- restricted courses -----------------------------------------------------------------------


def test_restricted_course_is_skipped_and_its_rows_kept(canvas_user: Any) -> None:
    user, student = canvas_user
    succeeded(sync(user))
    course_id = visible_ids(student)[0]
    before = db_snapshot(user.id)[course_id]
    student.restrict_course(course_id)
    results = succeeded(sync(user, incremental=True))
    assert results["courses_skipped"] == 2
    assert course_id in {s["canvas_course_id"] for s in results["skipped"]}
    after = db_snapshot(user.id)
    assert after.pop(course_id) == before  # still enrolled: kept as last synced
    assert db_differences(user.id, student) == [
        f"courses/{course_id}: in the database but not in Canvas"
    ]


# --- failures ---------------------------------------------------------------------------------


def _change_every_course(student: Any) -> None:
    for course_id in visible_ids(student):
        student.rename_course(course_id, f"Renamed {course_id}")
        assignment = sorted(student.expected()[course_id]["assignments"])[0]
        student.grade(course_id, assignment, 1.0)


def test_failure_mid_sync_keeps_finished_courses_and_leaves_the_rest(
    canvas_user: Any, simulator: Any
) -> None:
    user, student = canvas_user
    succeeded(sync(user))
    old = db_snapshot(user.id)
    _change_every_course(student)
    # Known courses are requested in the order they were first stored; with one worker
    # thread they are fetched one at a time, so the two before the broken one finish first.
    order = [c.canvas_course_id for c in db.session.scalars(select(Course).order_by(Course.id))]
    broken = order[2]
    simulator.malform(rf"^/api/v1/courses/{broken}/assignment_groups$")

    results = sync(user, workers=1)

    assert results["status"] == "failed"
    assert "\n" not in results["error"] and "Traceback" not in results["error"]
    assert str(broken) in results["error"] or "assignment_groups" in results["error"]
    new = db_snapshot(user.id)
    expected = student.expected()
    for course_id in order[:2]:
        assert new[course_id] == expected[course_id]
    assert new[broken] == old[broken]
    for course_id in order[3:]:  # fetched after the failure: either all new or all old
        assert new[course_id] in (old[course_id], expected[course_id])

    simulator.clear_faults()
    succeeded(sync(user, incremental=True))
    assert_db_matches(user, student)


def test_token_revoked_before_the_sync_changes_nothing(canvas_user: Any, simulator: Any) -> None:
    user, student = canvas_user
    succeeded(sync(user))
    old = db_snapshot(user.id)
    _change_every_course(student)

    def revoke_at_once(progress: SyncProgress) -> None:
        if progress.phase == "connecting":
            simulator.revoke_token("tok-freshman-1")

    results = sync(user, progress=revoke_at_once)
    assert results["status"] == "failed"
    assert "revoked" in results["error"].lower() and "token" in results["error"].lower()
    assert db_snapshot(user.id) == old


def test_token_revoked_mid_sync_keeps_finished_courses(canvas_user: Any, simulator: Any) -> None:
    """Canvas dies after the first course: it stays new, later ones are old or new, whole."""
    user, student = canvas_user
    succeeded(sync(user))
    old = db_snapshot(user.id)
    _change_every_course(student)
    order = [c.canvas_course_id for c in db.session.scalars(select(Course).order_by(Course.id))]

    def revoke_after_the_first_course(progress: SyncProgress) -> None:
        if progress.phase == "writing" and progress.courses_done == 1:
            simulator.revoke_token("tok-freshman-1")

    # One request at a time, each slow: the first course is written (and the token revoked)
    # long before the last courses are requested. A second a request, so that holds even when
    # a loaded machine (CI's, on a day few courses are active) is slow to write that course.
    simulator.config.latency = 1.0
    results = sync(user, progress=revoke_after_the_first_course, workers=1)
    simulator.config.latency = 0.0

    assert results["status"] == "failed"
    assert "revoked" in results["error"].lower()
    new, expected = db_snapshot(user.id), student.expected()
    assert new[order[0]] == expected[order[0]]
    for course_id in order[1:]:
        assert new[course_id] in (old[course_id], expected[course_id])
    assert new[order[-1]] == old[order[-1]]


def test_rejected_token_fails_with_a_clear_message(app: Any, simulator: Any) -> None:
    user = create_user("nobody@example.edu", "correct horse battery")
    set_canvas_credentials(user, simulator.base_url, "not-a-known-token")
    results = sync(user)
    assert results["status"] == "failed"
    assert "token" in results["error"].lower()
    assert results["courses"] == 0
    assert row_counts(user.id)["course"] == 0


class FailingCanvas:
    """A client whose course list fails the way Canvas fails."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def get_courses(self) -> list[Any]:
        raise self.error

    def get_completed_courses(self) -> list[Any]:
        return []

    def get_student_enrollments(self) -> list[Any]:
        return []


@pytest.mark.parametrize(
    "error",
    [
        CanvasUnavailable("Canvas at x is unavailable (HTTP 503 on /courses): try again later."),
        CanvasTimeout("Canvas at x did not answer within 60 s: try again later."),
        BadResponse("Canvas at x sent a body that is not JSON on /courses."),
        NotPermitted("Canvas at x does not let this account read /courses."),
        RateLimited("Canvas at x kept rate-limiting GradeSync: wait a minute."),
    ],
    ids=lambda e: type(e).__name__,
)
def test_canvas_failures_on_the_course_list_are_reported_not_raised(
    app: Any, error: Exception
) -> None:
    user = create_user("failing@example.edu", "correct horse battery")
    add_fake_connection(user)  # the rows would go under it; the client stands in for Canvas
    results = create_canvas_sync_service(user, client=FailingCanvas(error)).sync_all_data()
    assert results["status"] == "failed"
    assert results["error"] == str(error)
    assert results["courses"] == 0 and results["rows_written"] == 0


class OneCourseClosed:
    """The real client, except that one course's gradebook is refused (closed meanwhile)."""

    def __init__(self, client: Any, course_id: int) -> None:
        self.client, self.course_id = client, course_id
        self.stats = client.stats

    def get_courses(self) -> list[Any]:
        return self.client.get_courses()

    def get_completed_courses(self) -> list[Any]:
        return self.client.get_completed_courses()

    def get_student_enrollments(self) -> list[Any]:
        return self.client.get_student_enrollments()

    def get_assignment_groups(self, course_id: int, **kwargs: Any) -> list[Any]:
        if course_id == self.course_id:
            raise NotPermitted(f"Canvas does not let this account read course {course_id}.")
        return self.client.get_assignment_groups(course_id, **kwargs)


def test_course_refused_after_the_list_is_skipped_and_kept(
    canvas_user: Any, simulator: Any
) -> None:
    user, student = canvas_user
    succeeded(sync(user))
    _change_every_course(student)
    old = db_snapshot(user.id)
    closed = visible_ids(student)[0]
    with CanvasAPIService(
        simulator.base_url, "tok-freshman-1", policy=OutboundPolicy(allow_private=True)
    ) as real:
        client = OneCourseClosed(real, closed)
        results = succeeded(create_canvas_sync_service(user, client=client).sync_all_data())
    assert {
        "canvas_course_id": closed,
        "reason": f"Canvas does not let this account read course {closed}.",
    } in results["skipped"]
    assert results["courses"] == len(student.expected()) - 1
    new, expected = db_snapshot(user.id), student.expected()
    assert new.pop(closed) == old[closed]
    assert new == {cid: c for cid, c in expected.items() if cid != closed}


def test_user_without_canvas_fails_with_a_clear_message(app: Any) -> None:
    from app.connections import sync_connections

    user = create_user("offline@example.edu", "correct horse battery")
    results = sync_connections(user)  # every sync run's path (no stand-in engine any more)
    assert results["status"] == "failed"
    assert "Settings" in results["error"]


def test_undecryptable_token_fails_with_a_clear_message(canvas_user: Any) -> None:
    user, _student = canvas_user
    from app.connections import sync_connections

    only_connection(user).access_token_encrypted = b"not a fernet token"
    db.session.commit()
    results = sync_connections(user)  # every sync run's path (no stand-in engine any more)
    assert results["status"] == "failed"
    assert "Settings" in results["error"] and "\n" not in results["error"]


def test_two_services_at_once_do_not_corrupt_anything(
    app: Any, canvas_user: Any, simulator: Any
) -> None:
    """The jobs layer prevents this; if it ever happens, the data must still be right."""
    user, student = canvas_user
    succeeded(sync(user))
    _change_every_course(student)
    student.drop_course(visible_ids(student)[0])
    simulator.config.latency = 0.02  # let the two syncs interleave
    outcomes: list[dict[str, Any]] = []
    user_id = user.id  # ORM objects stay in their own thread's session

    def run(incremental: bool) -> None:
        with app.app_context():
            worker_user = db.session.get(User, user_id)
            outcomes.append(sync(worker_user, incremental=incremental))
            db.session.remove()

    threads = [threading.Thread(target=run, args=(flag,)) for flag in (False, True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert [o["status"] for o in outcomes] == ["succeeded", "succeeded"], outcomes
    assert_db_matches(user, student)


# --- one course ---------------------------------------------------------------------------------


def test_sync_course_data_refreshes_one_course_with_one_request_beside_the_list(
    canvas_user: Any, simulator: Any
) -> None:
    user, student = canvas_user
    succeeded(sync(user))
    target, other = visible_ids(student)[:2]
    for course_id in (target, other):
        student.rename_course(course_id, f"Renamed {course_id}")
        first, *_, last = sorted(student.expected()[course_id]["assignments"])
        student.grade(course_id, first, 2.0)
        student.delete_assignment(course_id, last)  # gone from Canvas: gone here too
    old = db_snapshot(user.id)
    local_id = db.session.scalar(select(Course.id).where(Course.canvas_course_id == target))

    simulator.reset_stats()
    simulator.config.latency = 0.2  # long enough that sequential requests could not overlap
    results = succeeded(create_canvas_sync_service(user).sync_course_data(local_id))
    simulator.config.latency = 0.0

    new = db_snapshot(user.id)
    assert new[target] == student.expected()[target]
    assert new[other] == old[other]
    course_requests = simulator.stats.by_path(rf"^/api/v1/courses/{target}/")
    # The one-request plan: one gradebook request, sent alongside the course list.
    assert len(course_requests) == 1 == results["requests"] - 1
    assert simulator.stats.max_in_flight >= 2


def test_sync_course_data_of_an_unknown_course_fails_cleanly(canvas_user: Any) -> None:
    user, _student = canvas_user
    results = create_canvas_sync_service(user).sync_course_data(987654)
    assert results["status"] == "failed"
    assert "987654" in results["error"]


# --- progress -----------------------------------------------------------------------------------


def test_progress_reaches_the_callback_the_sync_run_row_and_the_log(
    canvas_user: Any, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    user, student = canvas_user
    run = SyncRun(user_id=user.id, kind="full", status="running")
    db.session.add(run)
    db.session.commit()
    observer = create_engine(db.engine.url)  # another process's view of the row
    seen: list[tuple[SyncProgress, tuple[Any, ...]]] = []

    def on_progress(progress: SyncProgress) -> None:
        with observer.connect() as conn:
            row = conn.execute(
                select(SyncRun.phase, SyncRun.courses_done, SyncRun.courses_total).where(
                    SyncRun.id == run.id
                )
            ).one()
        seen.append((progress, tuple(row)))

    caplog.set_level(logging.INFO, logger="app.sync")
    try:
        # The jobs layer owns the row: its writer stores each step, then forwards it.
        writer = RunProgressWriter(db.engine, run.id, forward=on_progress)
        results = succeeded(sync(user, progress=writer))
    finally:
        writer.close()
        observer.dispose()

    phases = [p.phase for p, _ in seen]
    assert phases[0] == "connecting" and phases[-1] == "done"
    assert {"courses", "fetching", "writing"} <= set(phases)
    writing = [(p, row) for p, row in seen if p.phase == "writing"]
    assert [p.courses_done for p, _ in writing] == list(range(1, 6))
    for progress, row in writing:  # committed before the callback: other sessions see it
        assert row == ("writing", progress.courses_done, 5)
    assert writing[0][0].message.startswith("[1/5] Syncing course: ")
    # Each course is data: the message is rendered from it, never the other way round.
    steps = [p.step for p, _ in writing]
    assert all(step is not None for step in steps)
    assert [(s.index, s.total) for s in steps] == [(i, 5) for i in range(1, 6)]
    assert {s.name for s in steps} == {c["name"] for c in student.expected().values()}
    assert {s.connection_id for s in steps} == {default_connection(user).id}
    assert sum(s.assignments for s in steps) == results["assignments"]
    assert [p.message for p, _ in writing] == [step_line(s) for s in steps]
    assert seen[-1][0].requests == results["requests"]

    messages = caplog.messages
    names = {c["name"] for c in student.expected().values()}
    synced = [m for m in messages if "] Syncing course: " in m]
    assert {m.split("Syncing course: ", 1)[1] for m in synced} == names
    assert any(m.strip().startswith("10/") for m in messages)
    assert messages.count("=" * 64) == 2 and "-" * 64 in messages


def test_a_held_back_step_reaches_the_row_before_the_sync_waits(
    canvas_user: Any, simulator: Any
) -> None:
    """A watched run's row stores course steps a few times a second, not one write each;
    whenever the sync is about to wait for Canvas, the newest step is written, so the page
    never shows an older course than the sync has finished while nothing happens."""
    user, student = canvas_user
    run = SyncRun(user_id=user.id, kind="full", status="running")
    db.session.add(run)
    db.session.commit()
    observer = create_engine(db.engine.url)  # the page's view of the row
    reported: list[int] = []  # courses_done of each step, as the sync reported them
    behind: list[tuple[int, int]] = []
    writes: list[int] = []
    flushes: list[int] = []

    def on_progress(progress: SyncProgress) -> None:
        if progress.phase == "writing":
            reported.append(progress.courses_done)

    class Watched(RunProgressWriter):
        def _store(self, progress: SyncProgress) -> None:
            writes.append(progress.courses_done)
            super()._store(progress)

        def flush(self) -> None:
            flushes.append(len(reported))
            super().flush()
            with observer.connect() as conn:
                done = conn.execute(select(SyncRun.courses_done)
                                    .where(SyncRun.id == run.id)).scalar_one()
            if reported and done != reported[-1]:
                behind.append((done, reported[-1]))

    simulator.config.latency = 0.05  # the gradebooks arrive over several round trips
    writer = Watched(db.engine, run.id, forward=on_progress, min_interval=60.0)
    try:
        succeeded(sync(user, progress=writer))
    finally:
        writer.close()
        observer.dispose()
        simulator.config.latency = 0.0

    courses = len(student.expected())
    assert reported == list(range(1, courses + 1))
    assert flushes  # the sync waited for Canvas between courses
    assert behind == []  # at every wait the row showed the newest finished course
    assert len(writer.steps) == courses  # every step kept for the page to play back


# --- junk from Canvas ---------------------------------------------------------------------------


class JunkCanvas:
    """A client whose Canvas sends odd but parseable JSON."""

    def __init__(self) -> None:
        self.courses: list[Any] = [
            {
                "id": 1,
                "name": "Ü" * 1000,
                "course_code": None,
                "term": {"id": "junk"},
                "enrollments": [{"type": "student", "computed_current_score": "NaN"}],
            },
            {"name": "no id"},
            "a string",
            {"id": 2, "access_restricted_by_date": True},
            {
                "id": 3,
                "name": "Nul\x00 and \ud800 surrogate",
                "workflow_state": "completed",
                "term": {"id": 5, "name": None, "start_at": "garbage", "end_at": None},
            },
        ]
        self.groups: dict[int, Any] = {
            1: [
                {
                    "id": 10,
                    "name": "x" * 400,
                    "group_weight": None,
                    "rules": {"never_drop": [100, "x"]},
                    "assignments": [
                        {
                            "id": 100,
                            "name": None,
                            "points_possible": "12.5",
                            "submission": {"score": 11, "grade": "A" * 100, "missing": True},
                        },
                        {"id": 101, "assignment_group_id": 999, "grading_type": "z" * 99},
                        {"name": "no id"},
                    ],
                },
                "junk",
            ],
            3: [],
        }

    def get_courses(self) -> list[Any]:
        return self.courses

    def get_completed_courses(self) -> list[Any]:
        return []

    def get_student_enrollments(self) -> list[Any]:
        return []

    def get_assignment_groups(self, course_id: int, **_: Any) -> Any:
        return self.groups[course_id]


def test_junk_payloads_are_stored_or_skipped_never_fatal(app: Any) -> None:
    user = create_user("junk@example.edu", "correct horse battery")
    add_fake_connection(user)  # the rows go under it; the client stands in for Canvas
    client = JunkCanvas()
    results = succeeded(create_canvas_sync_service(user, client=client).sync_all_data())
    assert results["courses"] == 2 and results["courses_skipped"] == 1
    assert results["items_skipped"] >= 3
    snapshot = db_snapshot(user.id)
    assert sorted(snapshot) == [1, 3]
    assert snapshot[1]["name"] == "Ü" * 255 and snapshot[1]["term"] is None
    assert snapshot[1]["computed_current_score"] is None
    assert snapshot[3]["name"] == "Nul and \ufffd surrogate"
    assert snapshot[3]["concluded"] is True and snapshot[3]["term"]["name"] == "Term 5"
    assignments = snapshot[1]["assignments"]
    assert sorted(assignments) == [100, 101]
    assert assignments[100]["name"] == "Assignment 100" and assignments[100]["score"] == 11.0
    assert assignments[100]["grade"] == "A" * 64 and assignments[100]["missing"] is True
    assert assignments[101]["group_id"] is None  # its group does not exist
    assert snapshot[1]["groups"][10]["never_drop"] == [100]

    # Same junk again: nothing to write. A junk entry in the list: nothing is deleted.
    assert (
        succeeded(create_canvas_sync_service(user, client=client).sync_all_data())["rows_written"]
        == 0
    )
    client.courses = [c for c in client.courses if not (isinstance(c, dict) and c.get("id") == 3)]
    again = succeeded(create_canvas_sync_service(user, client=client).sync_all_data())
    assert again["courses_deleted"] == 0 and 3 in db_snapshot(user.id)
