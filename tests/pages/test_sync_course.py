"""'Sync this course' on the course page: one course synced in a background run (issue 19)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from app import jobs
from app.jobs import runners
from app.models import Course, SyncRun
from tests.auth_actions import sign_in
from tests.conftest import connect_user
from tests.sync_helpers import db_snapshot


class InlineRunner:
    """The runner, run at once in this thread: the test reads the finished run."""

    def __init__(self) -> None:
        self.runs: list[int] = []

    def submit(self, user_id: int, sync_run_id: int, incremental: bool) -> None:
        self.runs.append(sync_run_id)
        jobs.run_sync(user_id, sync_run_id, incremental)


@pytest.fixture
def inline(monkeypatch: pytest.MonkeyPatch) -> InlineRunner:
    runner = InlineRunner()
    monkeypatch.setattr(runners, "get_runner", lambda app=None: runner)
    return runner


def full_sync(user_id: int) -> None:
    run = jobs.create_sync_run(user_id, incremental=False)
    assert jobs.run_sync(user_id, run.id, False)["status"] == "succeeded"


def two_graded_courses(db: Any, user_id: int, student: Any) -> list[tuple[Course, int]]:
    """Two of the user's stored courses, each with an assignment the teacher can grade."""
    found = []
    for course in db.session.scalars(select(Course).where(Course.user_id == user_id)
                                     .order_by(Course.id)):
        try:
            _cid, assignment_id = student.any_assignment(course.canvas_course_id)
        except (KeyError, LookupError):
            continue
        found.append((course, assignment_id))
    assert len(found) >= 2
    return found[:2]


def test_the_course_page_has_the_button(client: Any, db: Any, canvas_user: Any) -> None:
    user, _student = canvas_user
    full_sync(user.id)
    course = db.session.scalar(select(Course).where(Course.user_id == user.id))
    sign_in(client, user)
    page = client.get(f"/courses/{course.id}").get_data(as_text=True)
    assert f'action="/sync/course/{course.id}"' in page and "Sync this course" in page


def test_syncing_one_course_changes_only_that_course(client: Any, db: Any, canvas_user: Any,
                                                     inline: InlineRunner) -> None:
    user, student = canvas_user
    full_sync(user.id)
    (chosen, chosen_assignment), (other, other_assignment) = two_graded_courses(
        db, user.id, student)
    # The teacher grades in both courses; only the chosen one is synced.
    student.grade(chosen.canvas_course_id, chosen_assignment, 1.25)
    student.grade(other.canvas_course_id, other_assignment, 1.25)
    before = db_snapshot(user.id)
    sign_in(client, user)

    response = client.post(f"/sync/course/{chosen.id}")

    assert response.status_code == 302
    run_id = int(response.headers["Location"].rsplit("/", 1)[1])
    assert inline.runs == [run_id]
    state = json.loads(client.get(f"/sync/{run_id}/status.json").get_data(as_text=True))
    assert state["finished"] and state["status"] == "succeeded", state
    assert state["kind"] == "course" and state["kind_label"] == "One course"
    assert state["courses_done"] == state["courses_total"] == 1
    assert [step["line"] for step in state["steps"]] == [f"Syncing {chosen.name} — 1 of 1"]
    db.session.expire_all()
    after = db_snapshot(user.id)
    expected = student.expected()
    changed = {cid for cid in after if after[cid] != before[cid]}
    assert changed == {chosen.canvas_course_id}
    assert after[chosen.canvas_course_id] == expected[chosen.canvas_course_id]
    assert after[other.canvas_course_id] != expected[other.canvas_course_id]  # not synced


def test_one_active_run_per_user_holds_for_a_course(client: Any, db: Any, canvas_user: Any,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    user, _student = canvas_user
    full_sync(user.id)
    course = db.session.scalar(select(Course).where(Course.user_id == user.id))
    submitted: list[int] = []

    class Recorder:
        def submit(self, user_id: int, run_id: int, incremental: bool) -> None:
            submitted.append(run_id)

    monkeypatch.setattr(runners, "get_runner", lambda app=None: Recorder())
    sign_in(client, user)
    first = client.post("/sync").headers["Location"]
    second = client.post(f"/sync/course/{course.id}").headers["Location"]
    assert first == second and len(submitted) == 1
    assert "already running" in client.get(second).get_data(as_text=True)


def test_another_students_course_is_404(client: Any, db: Any, app: Any, simulator: Any,
                                        canvas_user: Any, inline: InlineRunner) -> None:
    user, _student = canvas_user
    other, _other_student = connect_user(app, simulator, email="other@example.edu",
                                         token="tok-other-1", seed=4)
    full_sync(other.id)
    theirs = db.session.scalar(select(Course).where(Course.user_id == other.id))
    sign_in(client, user)

    assert client.post(f"/sync/course/{theirs.id}").status_code == 404
    assert client.get(f"/courses/{theirs.id}").status_code == 404
    assert inline.runs == []
    assert db.session.scalar(select(SyncRun).where(SyncRun.user_id == user.id)) is None
