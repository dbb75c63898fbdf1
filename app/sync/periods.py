"""Grading periods and grading schemes: read from Canvas, written beside the gradebook.

**Periods.** The course list's ``include[]=grading_periods`` carries only ``id, title,
start_date, end_date`` and only the *term's* periods (canvas-lms ``lib/api/v1/course.rb``
``course_json``: ``course.enrollment_term&.grading_period_group&.grading_periods``): no weight,
no close date, no ``is_closed``, and nothing at all for a course-level period group. Those
come only from ``GET /courses/:id/grading_periods`` (``grading_periods_controller.rb#index``,
``GradingPeriod.for(course)``), read for a course with periods (listed, or
``has_grading_periods``) only when they may have changed: never read before, what the course
list says about them (:func:`list_digest`) changed, a stored close date has passed since, or
the last grade check found Canvas's total differing from ours (a weight changed: the course list
shows no weights, so this is how a new weight shows; one sync late). Otherwise the stored
periods stand. The request goes on the sync's pool beside the
gradebooks (:class:`ExtrasFetcher`), so it adds no round trip.

**Schemes.** A course's grading scheme is read only when its ``grading_standard_id`` differs
from the one whose scheme we stored. 0 is Canvas's default scheme (``Course#
grading_standard_enabled=`` sets ``grading_standard_id ||= 0``;
``GradingStandard.default_grading_standard``): no request. Otherwise
``GET /courses/:id/grading_standards/:id``; a scheme set in the account answers 404 there, and
is then read through ``GET /courses/:id?include[]=grading_scheme``
(``course.grading_standard_or_default.data``).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Executor, Future
from dataclasses import replace
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import select

from app.canvas.errors import NotFound, NotPermitted
from app.extensions import db
from app.grades import CANVAS_DEFAULT_SCHEME, parse_scheme
from app.models import GradingPeriod, utcnow
from app.sync.coerce import _dict, _list
from app.sync.fields import PERIOD_FIELDS
from app.sync.parse import CourseData, parse_periods

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


@runtime_checkable
class CourseSchemeClient(Protocol):
    """A client that can read the scheme Canvas grades a course with (the real one can)."""

    def get_course_grading_scheme(self, course_id: int) -> Any: ...


def fetch_scheme(client: SchemeClient | None, course_id: int, standard_id: int
                 ) -> list[list[Any]] | None:
    """The standard's scheme as ``[[name, lower bound], ...]``; None when unreadable.

    0 is Canvas's default scheme (no request). A standard that lives in the account rather
    than the course answers 404 in the course: the course's own ``include[]=grading_scheme``
    then gives it. Unreadable either way, the course shows no letters of ours rather than
    failing the sync.
    """
    if standard_id == 0:
        return [[name, value] for name, value in CANVAS_DEFAULT_SCHEME]
    if client is None:
        return None
    try:
        body = client.get_grading_standard(course_id, standard_id)
    except (NotFound, NotPermitted) as exc:
        if isinstance(client, CourseSchemeClient):
            try:
                body = {"grading_scheme": _dict(client.get_course_grading_scheme(course_id))
                        .get("grading_scheme")}
            except (NotFound, NotPermitted):
                body = {}
        else:
            body = {}
        if not _list(_dict(body).get("grading_scheme")):
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


# --- grading periods ---------------------------------------------------------------------------


@runtime_checkable
class PeriodClient(Protocol):
    """A client that can read a course's grading periods (the real one can)."""

    def get_grading_periods(self, course_id: int) -> list[Any]: ...


def has_periods(course: CourseData) -> bool:
    """Canvas says the course has grading periods (listed with it or not)."""
    return bool(course.periods) or course.has_grading_periods


def list_digest(course: CourseData) -> str:
    """What the course list says that a change of the periods would move: the listed periods
    (ids, titles, dates), the period flags and the current period."""
    row = course.row
    facts = [[[_iso(p[k]) for k in ("canvas_grading_period_id", "title", "start_date",
                                     "end_date")] for p in course.periods],
             course.has_grading_periods, row.get("has_weighted_grading_periods"),
             row.get("canvas_current_period_id")]
    encoded = json.dumps(facts, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def needs_periods(course: CourseData, stored: Mapping[str, Any] | None,
                  stored_periods: Iterable[Mapping[str, Any]] | None) -> bool:
    """Whether the course's periods must be read again (module docstring)."""
    if not has_periods(course):
        return False
    if stored is None or stored.get("periods_digest") != list_digest(course) \
            or stored_periods is None:
        return True
    # A weight changed with nothing else the course list shows: the last grade check saw
    # Canvas's total differ from ours, so the periods are read again (self-healing).
    if stored.get("score_difference") or stored.get("period_score_difference"):
        return True
    now = utcnow()
    return any(p["close_date"] is not None and not p["is_closed"] and now > p["close_date"]
               for p in stored_periods)


def fetch_periods(client: PeriodClient, course_id: int) -> tuple[dict[str, Any], ...] | None:
    """The course's periods with weights and close dates; None when Canvas refuses them
    (the course then keeps the listed periods, without weights, and is asked again)."""
    try:
        return parse_periods(client.get_grading_periods(course_id))
    except (NotFound, NotPermitted) as exc:
        logger.warning("course %s: grading periods unreadable (%s)", course_id,
                       type(exc).__name__)
        return None


def stored_periods(course_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    """The stored periods of the given local course ids (one read), by course id."""
    ids = list(course_ids)
    found: dict[int, list[dict[str, Any]]] = {cid: [] for cid in ids}
    if not ids:
        return found
    table = GradingPeriod.__table__
    rows = db.session.execute(select(table).where(table.c.course_id.in_(ids))).mappings()
    for row in rows:
        found[row["course_id"]].append({k: row[k] for k in PERIOD_FIELDS})
    db.session.commit()  # end the read: the writes come later (see CourseWriter)
    return found


class ExtrasFetcher:
    """A course's grading scheme and grading periods, each read only when it may have
    changed, on the sync's pool beside the gradebooks (module docstring)."""

    def __init__(self, client: object) -> None:
        self.client = client if isinstance(client, SchemeClient) else None
        self.period_client = client if isinstance(client, PeriodClient) else None
        self._futures: dict[int, Future[list[list[Any]] | None]] = {}
        self._period_futures: dict[int, Future[tuple[dict[str, Any], ...] | None]] = {}
        self._kept: dict[int, list[dict[str, Any]]] = {}  # stored periods that still stand

    def submit(self, pool: Executor, courses: Iterable[CourseData],
               stored: Mapping[int, Mapping[str, Any]],
               then: Callable[[CourseData], object] | None = None) -> None:
        """Ask for every scheme and period list that may have changed, concurrently with the
        gradebooks; read the stored periods of the others (one read). ``then`` is called for
        each course right after its own requests went to the pool (the engine sends the
        course's gradebook there): a course's requests travel together, so the writer can
        take the first courses one round trip after the lists, not after every course's."""
        courses = list(courses)
        with_periods = [c for c in courses if has_periods(c)]
        known = {c.canvas_course_id: stored[c.canvas_course_id]["id"] for c in with_periods
                 if c.canvas_course_id in stored and stored[c.canvas_course_id].get("id")}
        kept = stored_periods(known.values()) if known else {}
        for course in courses:
            cid = course.canvas_course_id
            if has_periods(course):
                rows = kept.get(known[cid]) if cid in known else None
                if needs_periods(course, stored.get(cid), rows):
                    if self.period_client is not None:
                        self._period_futures[cid] = pool.submit(
                            fetch_periods, self.period_client, cid)
                elif rows is not None:
                    self._kept[cid] = rows
            sid = course.grading_standard_id
            if self.client is not None and sid and needs_scheme(course, stored.get(cid)):
                self._futures[cid] = pool.submit(fetch_scheme, self.client, cid, sid)
            if then is not None:
                then(course)

    def pending(self, canvas_course_id: int) -> tuple[Future[Any], ...]:
        """The scheme and period requests of the course still on their way: the writer
        takes the course once they are in, and writes the courses that are ready first
        (:func:`app.sync.fetch.arrivals`)."""
        return tuple(future for future in (self._futures.get(canvas_course_id),
                                           self._period_futures.get(canvas_course_id))
                     if future is not None and not future.done())

    def resolve(self, course: CourseData, stored: Mapping[str, Any] | None) -> CourseData:
        """``course`` with its periods (read now, or the stored ones) and, when the scheme
        changed, its scheme columns."""
        course = self._resolve_periods(course, stored)
        if not needs_scheme(course, stored):
            return course
        sid = course.grading_standard_id
        future = self._futures.pop(course.canvas_course_id, None)
        if future is not None:
            scheme = future.result()
        elif sid is not None:
            scheme = fetch_scheme(self.client, course.canvas_course_id, sid)
        else:
            scheme = None
        row = {**course.row, "grading_standard_id": sid, "grading_scheme": scheme}
        return replace(course, row=row)

    def _resolve_periods(self, course: CourseData, stored: Mapping[str, Any] | None
                         ) -> CourseData:
        cid = course.canvas_course_id
        if not has_periods(course):
            return replace(course, row={**course.row, "periods_digest": None})
        future = self._period_futures.pop(cid, None)
        kept = self._kept.pop(cid, None)
        if future is not None:
            fetched = future.result()
        elif kept is not None:
            return replace(course, periods=tuple(kept),
                           row={**course.row, "periods_digest": list_digest(course)})
        elif self.period_client is not None:
            fetched = fetch_periods(self.period_client, cid)
        else:
            fetched = None
        if fetched is None:  # refused (or a client without the endpoint): as listed
            return replace(course, row={**course.row, "periods_digest": None})
        return replace(course, periods=fetched,
                       row={**course.row, "periods_digest": list_digest(course)})


SchemeFetcher = ExtrasFetcher  # the name the engine knew first
