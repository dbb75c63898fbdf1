"""Courses absent from the course lists: deleted only on Canvas's proof.

Canvas's default ``GET /courses`` is the user's *currentish* enrollments only (CANVAS_API.md,
"Read first"): a course the teacher concludes (course ``completed``) and an enrollment the
registrar completes leave it, while a course concluded only by date stays. So a sync that reads
everything reads three lists (:mod:`app.sync.lists`): the default one, ``state[]=completed``
(the teacher-concluded courses) and the student's enrollments
(``state[]=current_and_concluded``, which alone shows a registrar-completed enrollment in a
course still available), the courses ones restricted to student enrollments
(``enrollment_type=student``, which also leaves TA, teacher, designer and observer courses
out). Any list failing fails the sync.

Together they hold every course the student has, readable or restricted by date. A stored
course absent from all three is still not deleted on that evidence: Canvas is asked for the
course itself (``GET /courses/:id``). Only a 401/404 there, or an answer that shows no student
enrollment, deletes it; anything else keeps it, marked ``missing_since`` (cleared as soon as a
list has it again; the dashboard says "no longer listed by Canvas since" that day). A sync that
read the default list alone asks about nothing. If a list held unreadable entries, nothing is
deleted or marked.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from concurrent.futures import Executor, Future
from datetime import timedelta
from typing import Any

from app.canvas.errors import CanvasError, NotFound, NotPermitted
from app.canvas.protocol import CanvasClient
from app.models import utcnow
from app.sync.parse import CourseData, is_student_course, parse_id

__all__ = [
    "confirm_gone",
    "needs_gradebook",
    "submit_confirmations",
]

logger = logging.getLogger(__name__)

# A date-concluded course whose Canvas scores are hidden (nothing to compare) is refetched by
# the incremental sync for this long after it ended (app.sync.engine, "Incremental sync").
REFETCH_WINDOW = timedelta(days=60)
# Course-list fields that move when the gradebook behind them changes.
GRADEBOOK_SIGNALS = (
    "canvas_current_score",
    "canvas_final_score",
    "canvas_current_grade",
    "workflow_state",
    "enrollment_state",
)


def needs_gradebook(course: CourseData, stored: Mapping[str, Any] | None) -> bool:
    """Whether an incremental sync requests a listed course's gradebook (rule 3 of the
    engine's "Incremental sync"); ``stored`` is the course's row as the sync found it."""
    if not course.concluded or stored is None:
        return True
    if not stored["concluded"] or not stored["content_hash"]:
        return True  # the first sync since it concluded
    row = course.row
    if any(stored.get(key) != row[key] for key in GRADEBOOK_SIGNALS):
        return True  # Canvas's scores (or states) moved: its gradebook changed
    if row["workflow_state"] == "completed":
        return False  # concluded by the teacher: read-only
    if row["canvas_current_score"] is not None or row["canvas_final_score"] is not None:
        return False  # still gradable, but a grade change would have moved a score
    end = row["end_at"] or (course.term or {}).get("end_at")
    return end is None or utcnow() - end < REFETCH_WINDOW


def submit_confirmations(
    pool: Executor, client: CanvasClient, canvas_course_ids: Iterable[int]
) -> dict[int, Future[Any]]:
    """``GET /courses/:id`` for each course absent from every list, at once."""
    return {cid: pool.submit(client.get_course, cid) for cid in sorted(canvas_course_ids)}


def confirm_gone(canvas_course_id: int, future: Future[Any]) -> bool:
    """Whether Canvas proved the course is no longer the student's.

    Proof: 401/404 on the course, or a course whose enrollments show no student enrollment.
    Any other answer or error is no proof.
    """
    try:
        raw = future.result()
    except (NotFound, NotPermitted):
        return True
    except CanvasError as exc:
        logger.warning("course %s: could not confirm it is gone (%s)", canvas_course_id, exc)
        return False
    if not isinstance(raw, Mapping) or parse_id(raw.get("id")) != canvas_course_id:
        return False
    return not is_student_course(raw) if raw.get("enrollments") else False
