"""The one-course sync ("Sync this course"): the course itself and its gradebook, at once.

``GET /courses/:id`` beside the gradebook request; the gradebook is written only if the
course is still the student's. A 401/404 on the course is Canvas's proof that the student
left it: its rows are deleted (:mod:`app.sync.courses`). A course Canvas restricts by date is
skipped and kept; a completed enrollment (``"enrollments": []``) keeps the stored scores.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from app.extensions import db
from app.sync.absent import delete_connection_courses
from app.sync.course_work import CourseWork
from app.sync.courses import confirm_gone, submit_confirmations
from app.sync.fetch import FetchPool, fetch_gradebook, warm_start_limiter
from app.sync.lists import keep_stored
from app.sync.parse import parse_course_list
from app.sync.plan import skip_course
from app.sync.result import SyncFailed
from app.sync.upserts import COURSE

logger = logging.getLogger(__name__)


def canvas_id_of(user_id: int, connection_id: int, course_id: int) -> int | None:
    """Canvas's id of the user's course ``course_id`` (local) on that connection, else None."""
    canvas_course_id = db.session.scalar(
        select(COURSE.c.canvas_course_id).where(
            COURSE.c.id == course_id,
            COURSE.c.user_id == user_id,
            COURSE.c.connection_id == connection_id,
        )
    )
    db.session.commit()
    return canvas_course_id


def sync_one_course(work: CourseWork, user_id: int, course_id: int) -> None:
    """Sync the course with local id ``course_id`` (see the module docstring).

    Raises:
        SyncFailed: not the user's course on this connection, or Canvas sent it unreadable.
    """
    run, writer = work.run, work.writer
    canvas_course_id = canvas_id_of(user_id, writer.connection_id, course_id)
    if canvas_course_id is None:
        raise SyncFailed(f"Course {course_id} does not exist (or is not yours).")
    writer.load_existing(gradebooks=False)  # this course's: when written
    warm_start_limiter(work.client, writer)  # before the first request
    with FetchPool(2) as pool:
        work.reporter.report("courses", "Fetching the course…")
        confirmation = submit_confirmations(pool, work.client, [canvas_course_id])
        gradebook = pool.submit(fetch_gradebook, work.client, canvas_course_id)  # parsed
        run.courses_total = 1
        future = confirmation[canvas_course_id]
        if confirm_gone(canvas_course_id, future):
            run.courses_deleted += delete_connection_courses(
                db.session, writer.connection_id, [canvas_course_id]
            )
            db.session.commit()
            logger.info("course %s: Canvas says it is no longer yours: deleted", canvas_course_id)
            return
        exc = future.exception()
        if exc is not None:
            raise exc
        course_list = parse_course_list([future.result()])
        if canvas_course_id in course_list.restricted:
            skip_course(run, canvas_course_id, None, "restricted by date")
            return
        if not course_list.courses:
            raise SyncFailed("Canvas sent an unreadable course; try again later.")
        # A completed enrollment: "enrollments": [], Canvas's scores stay as stored.
        course = keep_stored(course_list.courses[0], writer.courses.get(canvas_course_id))
        writer.find_or_create_term(course.term, flush=True)
        db.session.commit()
        work.schemes.submit(pool, [course], writer.courses)  # beside the gradebook
        work.fetch_and_write(pool, [course], False, {canvas_course_id: gradebook})
        pool.succeeded = True
