"""The single writer thread writes whichever course is ready, never waiting on one course
while others wait behind it (CANVAS_PERFORMANCE_TESTING.md, "Keeping the writer busy"):

- a course is ready when its gradebook and its scheme and period requests are in
  (:func:`app.sync.fetch.arrivals`);
- the courses only the enrollments list shows (``GET /courses/:id``) are read while the
  listed courses are written, not before (:meth:`app.sync.lists.ListReader.read_later`).
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Any, cast

from app.connections import create_canvas_sync_service
from app.sync.fetch import arrivals
from app.sync.parse import CourseData
from app.sync.result import RunStats, SyncProgress
from tests.conftest import connect_user
from tests.sync_helpers import assert_db_matches


def done(value: Any) -> Future[Any]:
    future: Future[Any] = Future()
    future.set_result(value)
    return future


def course(canvas_course_id: int) -> CourseData:
    return CourseData(canvas_course_id=canvas_course_id, row={"name": f"c{canvas_course_id}"},
                      term=None)


def test_a_course_waiting_for_its_scheme_does_not_hold_up_the_next() -> None:
    first, second = course(1), course(2)
    scheme: Future[Any] = Future()  # course 1's grading scheme, still on its way
    waits: list[int] = []
    got = arrivals(
        cast(Any, None), cast(Any, None), [first, second],
        {1: done("gradebook 1"), 2: done("gradebook 2")}, RunStats(kind="full"), {},
        extras=lambda cid: (scheme,) if cid == 1 and not scheme.done() else (),
        on_wait=lambda: waits.append(1),
    )
    assert next(got) == (second, "gradebook 2")  # written while course 1 waits
    assert waits == []
    threading.Timer(0.05, scheme.set_result, ["scheme"]).start()
    assert next(got) == (first, "gradebook 1")
    assert waits == [1]  # the writer's idle moment (a held-back progress step is written)


def test_a_failed_gradebook_is_not_held_for_its_scheme() -> None:
    failed: Future[Any] = Future()
    failed.set_exception(RuntimeError("Canvas answered 500"))
    scheme: Future[Any] = Future()  # never answers
    got = arrivals(cast(Any, None), cast(Any, None), [course(1)], {1: failed},
                   RunStats(kind="full"), {}, extras=lambda cid: (scheme,))
    try:
        next(got)
    except RuntimeError as exc:
        assert "500" in str(exc)
    else:
        raise AssertionError("the failure was not raised")


def test_listed_courses_are_written_before_the_enrollments_only_course_is_read(
    app: Any, simulator: Any
) -> None:
    """A registrar-completed course (only ``/users/self/enrollments`` shows it) is read with
    ``GET /courses/:id``; the listed courses are written meanwhile, and the result is the
    same rows as ever."""
    user, student = connect_user(app, simulator, email="order@example.edu",
                                 token="tok-order", preset="senior")
    completed = sorted(cid for cid, c in student.expected().items() if not c["concluded"])[0]
    student.registrar_complete(completed)
    service = create_canvas_sync_service(user)
    client = service.client
    first_write = threading.Event()
    asked_after_a_write: list[bool] = []
    get_course = client.get_course

    def slow_get_course(course_id: int, *args: Any, **kwargs: Any) -> Any:
        # Answers once a listed course is written; a writer that waited for this answer
        # first would only get it after the timeout.
        asked_after_a_write.append(first_write.wait(timeout=10))
        return get_course(course_id, *args, **kwargs)

    def on_progress(progress: SyncProgress) -> None:
        if progress.phase == "writing":
            first_write.set()

    client.get_course = slow_get_course  # type: ignore[method-assign]
    service._progress = on_progress
    result = service.sync_all_data(use_incremental=False)
    assert result["status"] == "succeeded", result["error"]
    assert asked_after_a_write and all(asked_after_a_write)
    assert_db_matches(user, student)


def test_after_a_failed_write_no_other_course_is_written(
    app: Any, simulator: Any, monkeypatch: Any
) -> None:
    """A database failure on one course's write stops the sync there: the courses prepared
    behind it are not written (each stays as it was), and the sync says the database failed."""
    from sqlalchemy.exc import OperationalError

    from app.sync.writer import CourseWriter
    from tests.sync_helpers import db_snapshot

    user, _student = connect_user(app, simulator, email="fail@example.edu",
                                  token="tok-fail", preset="senior")
    result = create_canvas_sync_service(user).sync_all_data(use_incremental=False)
    assert result["status"] == "succeeded", result["error"]
    old = db_snapshot(user.id)
    writes: list[int] = []
    real = CourseWriter.sync_course

    def failing(self: Any, course: Any, *args: Any, **kwargs: Any) -> Any:
        writes.append(course.canvas_course_id)
        if len(writes) == 2:
            raise OperationalError("UPDATE course", {}, Exception("server closed the connection"))
        return real(self, course, *args, **kwargs)

    monkeypatch.setattr(CourseWriter, "sync_course", failing)
    result = create_canvas_sync_service(user).sync_all_data(use_incremental=False)
    assert result["status"] == "failed"
    assert result["error_kind"] == "database"
    assert len(writes) == 2  # the failing write was the last one tried
    assert db_snapshot(user.id) == old  # nothing changed in Canvas: every course as it was
