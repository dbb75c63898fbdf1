"""Grading periods and grading schemes: parsed from Canvas, written beside the gradebook.

The periods come with the course list (``include[]=grading_periods``), so they cost no
request. A course's grading scheme needs one: ``GET /courses/:id/grading_standards/:id``, asked
only when the course's ``grading_standard_id`` differs from the one whose scheme we stored
(:class:`SchemeFetcher`), on the sync's pool beside the gradebooks.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from concurrent.futures import Executor, Future
from dataclasses import replace
from typing import Any, Protocol, runtime_checkable

from app.canvas.errors import NotFound, NotPermitted
from app.grades import parse_scheme
from app.sync.coerce import _dict, _list
from app.sync.fields import PERIOD_FIELDS
from app.sync.parse import CourseData

logger = logging.getLogger(__name__)

def course_digest(gradebook_hash: str, course: CourseData) -> str:
    """The gradebook's content hash with the course's grading periods mixed in."""
    periods = [{k: _iso(p[k]) for k in PERIOD_FIELDS} for p in course.periods]
    encoded = json.dumps([gradebook_hash, periods], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


# --- grading schemes ---------------------------------------------------------------------------


@runtime_checkable
class SchemeClient(Protocol):
    """A client that can read a course's grading standard (the real one can)."""

    def get_grading_standard(self, course_id: int, standard_id: int) -> Any: ...


def fetch_scheme(client: SchemeClient, course_id: int, standard_id: int
                 ) -> list[list[Any]] | None:
    """The standard's scheme as ``[[name, lower bound], ...]``; None when unreadable.

    A student may be refused a standard that lives in the account rather than the course;
    the course then shows no letters of ours rather than failing the sync.
    """
    try:
        body = client.get_grading_standard(course_id, standard_id)
    except (NotFound, NotPermitted) as exc:
        logger.warning("course %s: grading standard %s unreadable (%s); no letters",
                       course_id, standard_id, type(exc).__name__)
        return None
    try:
        scheme = parse_scheme(_list(_dict(body).get("grading_scheme")))
    except ValueError:
        logger.warning("course %s: grading standard %s malformed; no letters",
                       course_id, standard_id)
        return None
    return [[name, value] for name, value in scheme] if scheme else None


def needs_scheme(course: CourseData, stored: Mapping[str, Any] | None) -> bool:
    """Whether the course's grading standard differs from the one whose scheme we stored."""
    stored_id = stored.get("grading_standard_id") if stored is not None else None
    return course.grading_standard_id != stored_id or (
        stored is None and course.grading_standard_id is not None)


class SchemeFetcher:
    """Fetches each changed grading scheme once per sync, on the sync's pool."""

    def __init__(self, client: object) -> None:
        self.client = client if isinstance(client, SchemeClient) else None
        self._futures: dict[int, Future[list[list[Any]] | None]] = {}

    def submit(self, pool: Executor, courses: Iterable[CourseData],
               stored: Mapping[int, Mapping[str, Any]]) -> None:
        """Ask for every scheme that changed, concurrently with the gradebooks."""
        if self.client is None:
            return
        for course in courses:
            sid = course.grading_standard_id
            if sid is not None and needs_scheme(course, stored.get(course.canvas_course_id)):
                self._futures[course.canvas_course_id] = pool.submit(
                    fetch_scheme, self.client, course.canvas_course_id, sid)

    def resolve(self, course: CourseData, stored: Mapping[str, Any] | None) -> CourseData:
        """``course`` with its scheme columns set when the scheme changed (else as is)."""
        if not needs_scheme(course, stored):
            return course
        sid = course.grading_standard_id
        future = self._futures.pop(course.canvas_course_id, None)
        if future is not None:
            scheme = future.result()
        elif sid is not None and self.client is not None:
            scheme = fetch_scheme(self.client, course.canvas_course_id, sid)
        else:
            scheme = None
        row = {**course.row, "grading_standard_id": sid, "grading_scheme": scheme}
        return replace(course, row=row)
