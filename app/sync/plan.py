"""The course-list step of a sync: what happens to each course the lists show, and to each
stored course they do not.

After :mod:`app.sync.lists` has read the lists, :func:`apply_listing` writes the terms,
reports the courses that cannot be read and names the stored courses to ask Canvas about
(:mod:`app.sync.courses`); :func:`choose_gradebooks` decides which courses get their gradebook
request and stages the course rows of the others (the engine's "Incremental sync").
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from app.extensions import db
from app.sync.courses import needs_gradebook
from app.sync.lists import Listing, ListReader
from app.sync.parse import CourseData
from app.sync.result import RunStats
from app.sync.writer import CourseWriter

__all__ = ["apply_later", "apply_listing", "choose_gradebooks", "keep_course", "skip_course"]

logger = logging.getLogger(__name__)


def skip_course(
    run: RunStats, canvas_course_id: int, stored: Mapping[str, Any] | None, reason: str
) -> None:
    """A course this sync cannot read: reported, its stored rows kept."""
    name = stored["name"] if stored else f"course {canvas_course_id}"
    logger.info("skipping %s (%s): kept as last synced", name, reason)
    run.skipped.append({"canvas_course_id": canvas_course_id, "reason": reason})


def keep_course(run: RunStats, name: str, why: str) -> None:
    """A concluded course left as stored, with no request for its gradebook."""
    run.courses_concluded_skipped += 1
    run.courses_done += 1
    logger.info("[%d/%d] Syncing course: %s (%s)", run.courses_done, run.courses_total,
                name, why)


def apply_listing(listing: Listing, writer: CourseWriter, run: RunStats) -> set[int]:
    """Terms and skipped courses (one short transaction); returns the stored courses absent
    from all three lists, which Canvas is asked about.

    When only the default list was read, the stored courses it does not hold are concluded
    ones (or already marked missing): kept as they are until the next sweep. When a list held
    unreadable entries, nothing is asked about (so nothing is deleted or marked).
    """
    courses = listing.courses
    # The courses whose GET /courses/:id is still on its way count as readable until read.
    run.courses_total = len(courses.courses) + len(listing.later_enrollments)
    for canvas_course_id in courses.restricted:
        skip_course(run, canvas_course_id, writer.courses.get(canvas_course_id),
                    "restricted by date")
    _refused(listing.refused, writer, run)
    for canvas_course_id in listing.unchanged:
        run.courses_total += 1
        stored = writer.courses[canvas_course_id]
        keep_course(run, stored["name"], "concluded: in the enrollments list only")
    for course in courses.courses:
        writer.find_or_create_term(course.term, flush=False)
    writer.flush_terms()
    db.session.commit()
    absent = set(writer.courses) - listing.enrolled_ids
    if not listing.complete:
        for canvas_course_id in sorted(absent):
            stored = writer.courses[canvas_course_id]
            if stored["concluded"]:
                run.courses_total += 1
                keep_course(run, stored["name"], "concluded: not in the default list")
        return set()
    if absent and courses.invalid:
        # Unreadable entries might be the "missing" courses: deleting would be a guess.
        logger.warning("course list incomplete; not deleting %d courses", len(absent))
        return set()
    return absent


def _refused(refused: Mapping[int, str], writer: CourseWriter, run: RunStats) -> None:
    """Courses ``GET /courses/:id`` was refused for: reported, counted as done, kept."""
    for canvas_course_id, reason in refused.items():
        run.courses_total += 1
        run.courses_done += 1
        skip_course(run, canvas_course_id, writer.courses.get(canvas_course_id), reason)


def apply_later(listing: Listing, reader: ListReader, writer: CourseWriter, run: RunStats,
                *, everything: bool) -> list[CourseData]:
    """The courses only the enrollments list shows, read while the listed ones were written
    (:meth:`~app.sync.lists.ListReader.read_later`): the refused and date-restricted ones
    reported, the terms written; returns those whose gradebook is written now (chosen as
    :func:`choose_gradebooks` chooses; the others' rows are written from the list alone)."""
    if not listing.later_enrollments:
        return []
    asked = len(listing.later_enrollments)
    refused_before = set(listing.refused)
    extra = reader.read_later(listing)
    run.courses_total -= asked  # counted as readable until read (apply_listing)
    run.courses_total += len(extra.courses)
    for canvas_course_id in extra.restricted:
        skip_course(run, canvas_course_id, writer.courses.get(canvas_course_id),
                    "restricted by date")
    _refused({cid: why for cid, why in listing.refused.items() if cid not in refused_before},
             writer, run)
    for course in extra.courses:
        writer.find_or_create_term(course.term, flush=False)
    writer.flush_terms()
    to_fetch = choose_gradebooks(extra.courses, writer, run, everything=everything)
    if writer.pending_courses:
        writer.flush_courses()
        writer.flush_events()
    db.session.commit()
    return to_fetch


def choose_gradebooks(
    courses: Iterable[CourseData], writer: CourseWriter, run: RunStats, *, everything: bool
) -> list[CourseData]:
    """The listed courses whose gradebook is requested: all of them when ``everything``
    (first or full sync, the day's sweep), else those :func:`needs_gradebook` names. The
    others' course rows are staged (``writer.pending_courses``) from the list alone."""
    to_fetch: list[CourseData] = []
    for course in courses:
        if everything or needs_gradebook(course, writer.courses.get(course.canvas_course_id)):
            to_fetch.append(course)
        else:
            # Concluded, and the course list shows nothing that moved (engine docstring).
            writer.sync_course(course, flush=False)
            keep_course(run, course.name, "concluded: course list only")
    return to_fetch
