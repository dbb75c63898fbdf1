"""The course lists a sync reads, and the student's courses they add up to.

Canvas shows a student's courses in three lists, none of which holds them all (CANVAS_API.md
"Read first"; canvas-lms ``courses_controller.rb#courses_for_user``,
``Enrollment::QueryBuilder::COURSE_ENROLLMENT_STATE_MAP``,
``enrollments_api_controller.rb#user_index_enrollments``):

=============================  ===============================================================
``GET /courses``               the default list: active or invited enrollments in available
                               courses, so the current courses and those over *by date*
``GET /courses?state[]=        completed enrollments in completed courses: the courses a
completed``                    *teacher* concluded (``enrollment_state=completed`` alone is only
                               the default list's courses over by date, nothing new)
``GET /users/self/enrollments  every active (in an available course) or completed student
?state[]=current_and_concluded enrollment with Canvas's ``grades``: the only list that shows an
&type[]=StudentEnrollment``    enrollment the *registrar* completed in a course that is still
                               available
=============================  ===============================================================

When the three are read (:class:`ListReader`): the first sync, every full sync, and the daily
sweep (:func:`sweep_due`). Any other incremental sync reads the default list alone and looks
further, one round trip later, only when a course it stored as current has left it
(:func:`left_default`): the teacher or the registrar ended it. A course that only the
enrollments list holds is read with ``GET /courses/:id``, which answers ``"enrollments": []``
for a completed enrollment, so its scores and state come from the enrollment's ``grades``
(:func:`with_enrollment`); a one-course sync keeps the stored ones (:func:`keep_stored`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from app.canvas.errors import NotFound, NotPermitted
from app.canvas.protocol import CanvasClient, MeasuredClient
from app.sync.digest import Unparsed
from app.sync.fetch import fetch_gradebook
from app.sync.fields import _LIMITS
from app.sync.parse import (
    CourseData,
    CourseList,
    Gradebook,
    _dict,
    _list,
    clean_text,
    parse_course_list,
    parse_float,
    parse_id,
)

__all__ = [
    "ListReader",
    "Listing",
    "keep_stored",
    "left_default",
    "sweep_due",
    "with_enrollment",
]

logger = logging.getLogger(__name__)

# The row fields that only the student's enrollment carries (absent from a course whose
# ``enrollments`` is empty).
ENROLLMENT_FIELDS = (
    "canvas_current_score",
    "canvas_final_score",
    "canvas_current_grade",
    "enrollment_state",
    "canvas_current_period_id",
    "canvas_period_current_score",
)
# An enrollment's ``grades`` key for each course row score.
GRADES = {
    "canvas_current_score": "current_score",
    "canvas_final_score": "final_score",
    "canvas_current_grade": "current_grade",
}


def sweep_due(last_synced_at: datetime | None, now: datetime) -> bool:
    """Whether an incremental sync is the day's sweep (reads all three lists and every
    concluded course): no sync of the connection has succeeded since this UTC day began,
    or none ever (a failed sweep is retried by the next sync).

    The scheduler's first run of each day is therefore the sweep. Its slots keep their time of
    day when the interval divides a day (15 minutes, an hour, a day): sweeps come 24 hours
    apart, so a change no list shows is seen within 24 hours (otherwise within 24 hours and
    one interval).
    """
    if last_synced_at is None:
        return True
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return last_synced_at < midnight


def expected_in_default(stored: Mapping[str, Any]) -> bool:
    """Whether the default list should still hold a stored course: it was last seen there
    (not missing), in an available course, with an active or invited enrollment."""
    return (
        stored.get("missing_since") is None
        and stored.get("workflow_state") in (None, "available")
        and stored.get("enrollment_state") in (None, "active", "invited")
    )


def left_default(stored: Mapping[int, Mapping[str, Any]], listed: Iterable[int]) -> list[int]:
    """The stored courses that the default list should hold and does not: ended by the
    teacher or the registrar, or dropped (the other lists tell which)."""
    present = set(listed)
    return sorted(cid for cid, row in stored.items()
                  if cid not in present and expected_in_default(row))


def _student_enrollments(raw: Any) -> tuple[dict[int, Mapping[str, Any]], int]:
    """The enrollments list by course id (the first student enrollment of each), and how many
    entries had no usable course id."""
    by_course: dict[int, Mapping[str, Any]] = {}
    invalid = 0
    for item in _list(raw):
        enrollment = _dict(item)
        course_id = parse_id(enrollment.get("course_id"))
        if course_id is None:
            logger.warning("skipping an enrollment without a usable course id: %.200r", item)
            invalid += 1
        elif enrollment.get("type", "StudentEnrollment") == "StudentEnrollment":
            by_course.setdefault(course_id, enrollment)
    return by_course, invalid


def _grades(enrollment: Mapping[str, Any]) -> dict[str, Any]:
    grades = _dict(enrollment.get("grades"))
    return {
        "canvas_current_score": parse_float(grades.get("current_score")),
        "canvas_final_score": parse_float(grades.get("final_score")),
        "canvas_current_grade": clean_text(
            grades.get("current_grade"), _LIMITS["course.canvas_current_grade"]
        ),
    }


def _enrollment_state(enrollment: Mapping[str, Any]) -> str | None:
    return clean_text(enrollment.get("enrollment_state"), _LIMITS["course.enrollment_state"])


def with_enrollment(course: CourseData, enrollment: Mapping[str, Any]) -> CourseData:
    """A course read with ``GET /courses/:id`` (no enrollment in it), completed by the
    student's enrollment: its state, Canvas's scores from its ``grades`` (absent while the
    course hides totals), and ``concluded`` when the enrollment is completed."""
    row = dict(course.row)
    if row["enrollment_state"] is None:
        row["enrollment_state"] = _enrollment_state(enrollment)
    if all(row[key] is None for key in GRADES):
        row.update(_grades(enrollment))
    row["concluded"] = bool(row["concluded"] or row["enrollment_state"] == "completed")
    return replace(course, row=row)


def keep_stored(course: CourseData, stored: Mapping[str, Any] | None) -> CourseData:
    """A course read with ``GET /courses/:id`` keeps the stored enrollment fields when the
    answer has none (a completed enrollment: ``"enrollments": []``), instead of wiping
    Canvas's scores; the enrollments list, read by the next full sync or sweep, refreshes
    them."""
    if stored is None or course.row["enrollment_state"] is not None:
        return course
    row = {**course.row, **{key: stored.get(key) for key in ENROLLMENT_FIELDS}}
    row["concluded"] = bool(row["concluded"] or row["enrollment_state"] == "completed")
    return replace(course, row=row)


def _moved(enrollment: Mapping[str, Any], stored: Mapping[str, Any] | None) -> bool:
    """Whether an enrollment shows state or scores other than the stored course's."""
    if stored is None or not stored.get("content_hash"):
        return True
    now = {**_grades(enrollment), "enrollment_state": _enrollment_state(enrollment)}
    return any(stored.get(key) != value for key, value in now.items())


@dataclass
class Listing:
    """What the lists say: the courses to sync (``courses``), and whether all three lists
    were read (``complete``: a stored course in none of them is absent from Canvas's
    lists; otherwise only the default list was, and the stored concluded courses it does not
    hold are kept as they are)."""

    courses: CourseList
    complete: bool
    # Every course a list shows the student in, readable or not (a course only the
    # enrollments list shows is enrolled even when ``GET /courses/:id`` was not sent).
    listed: set[int] = field(default_factory=set)
    refused: dict[int, str] = field(default_factory=dict)  # GET /courses/:id said 401/404
    # Stored courses only the enrollments list shows, whose state and scores did not move:
    # not read again (outside a full sync or the sweep).
    unchanged: list[int] = field(default_factory=list)
    # Courses only the enrollments list shows (their enrollments), not yet read when the
    # lists are: ``GET /courses/:id`` goes out behind the listed courses' requests
    # (:meth:`ListReader.send_later`, its futures in ``later``) and they join ``courses``
    # through :meth:`ListReader.read_later` while the listed courses are written.
    later_enrollments: dict[int, Mapping[str, Any]] = field(default_factory=dict)
    later: dict[int, Future[Any]] = field(default_factory=dict)

    @property
    def enrolled_ids(self) -> set[int]:
        return self.listed | self.courses.enrolled_ids


class ListReader:
    """Reads the lists of one sync on the sync's pool (see the module docstring).

    The constructor sends the default list at once and, when ``everything`` is asked for,
    the other two beside it (after it, while Canvas has not accepted the token yet, so that
    a dead token costs one request).
    """

    def __init__(self, pool: Executor, client: CanvasClient, *, everything: bool) -> None:
        self.pool, self.client, self.everything = pool, client, everything
        self._default: Future[list[Any]] = pool.submit(client.get_courses)
        self._others: tuple[Future[list[Any]], Future[list[Any]]] | None = None
        if everything and _accepted(client):
            self._others = self._submit_others()

    def _submit_others(self) -> tuple[Future[list[Any]], Future[list[Any]]]:
        return (self.pool.submit(self.client.get_completed_courses),
                self.pool.submit(self.client.get_student_enrollments))

    def read(self, stored: Mapping[int, Mapping[str, Any]]) -> Listing:
        """Wait for the lists (sending the other two if needed); the courses only the
        enrollments list holds (a registrar-completed enrollment) are noted in
        ``later_enrollments``, for :meth:`send_later` and :meth:`read_later`."""
        default = self._default.result()
        if self._others is None:
            listed = {parse_id(_dict(c).get("id")) for c in _list(default)}
            left = left_default(stored, (cid for cid in listed if cid is not None))
            if not self.everything and not left:
                return Listing(parse_course_list(default), complete=False)
            if left:
                logger.info("course(s) %s left the default list: reading the others", left)
            self._others = self._submit_others()
        completed = self._others[0].result()
        courses = parse_course_list([*_list(default), *_list(completed)])
        enrollments, invalid = _student_enrollments(self._others[1].result())
        courses.invalid += invalid
        listing = Listing(courses, complete=True, listed=set(enrollments))
        only_enrolled = {
            cid: enrollment for cid, enrollment in enrollments.items()
            if cid not in courses.enrolled_ids and cid not in courses.not_student
            and (self.everything or _moved(enrollment, stored.get(cid)))
        }
        listing.unchanged = sorted(
            cid for cid in enrollments
            if cid in stored and cid not in courses.enrolled_ids and cid not in only_enrolled
        )
        listing.later_enrollments = only_enrolled
        return listing

    def send_later(self, listing: Listing,
                   prefetched: dict[int, Future[Gradebook | Unparsed]]) -> None:
        """``GET /courses/:id`` and the gradebook of each course only the enrollments list
        shows, all at once, behind the listed courses' requests (their writes come first);
        the gradebooks join ``prefetched`` (the caller's)."""
        for cid in sorted(listing.later_enrollments):
            listing.later[cid] = self.pool.submit(self.client.get_course, cid)
            if cid not in prefetched:
                prefetched[cid] = self.pool.submit(fetch_gradebook, self.client, cid)

    def read_later(self, listing: Listing) -> CourseList:
        """The courses only the enrollments list shows (:meth:`read`), with their
        enrollments' state and scores; those Canvas refuses go to ``listing.refused``.
        They are added to ``listing.courses`` too; the return value holds only them."""
        if listing.later_enrollments and not listing.later:
            self.send_later(listing, {})  # their gradebooks: asked for with the others
        raw: list[Any] = []
        for cid, future in listing.later.items():
            try:
                raw.append(future.result())
            except (NotFound, NotPermitted) as exc:
                listing.refused[cid] = " ".join(exc.message.split())
        extra = parse_course_list(raw)
        enrollments = listing.later_enrollments
        extra.courses = [with_enrollment(course, enrollments[course.canvas_course_id])
                         for course in extra.courses if course.canvas_course_id in enrollments]
        courses = listing.courses
        courses.courses.extend(extra.courses)
        courses.restricted.extend(extra.restricted)
        courses.invalid += extra.invalid
        logger.info("read %d course(s) only the enrollments list shows", len(listing.later))
        listing.later, listing.later_enrollments = {}, {}
        return extra


def _accepted(client: CanvasClient) -> bool:
    """Whether Canvas has accepted the client's token (a client without a limiter: yes)."""
    return not isinstance(client, MeasuredClient) or client.limiter.token_accepted
