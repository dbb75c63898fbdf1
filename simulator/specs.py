"""Id allocation and the plain records the dataset builder works from and returns."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass

from simulator.model import Course, Term, UserInfo

# Canvas global ids are shard * 10^13 + local id; a course shared from another shard carries
# such ids in every field (course, group, assignment, submission, enrollment).
SHARD_FACTOR = 10**13


class IdAllocator:
    """Per-simulator id sequences, so every student's objects get fresh, unique ids."""

    _STARTS = {"user": 90001, "term": 101, "course": 48001, "group": 20001,
               "assignment": 770001, "submission": 9930001, "enrollment": 3120001,
               "section": 61001, "grading_period": 4401, "grading_standard": 501}

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters = {kind: itertools.count(start) for kind, start in self._STARTS.items()}

    def next(self, kind: str, shard: int = 0) -> int:
        """The next id of ``kind``; on ``shard`` > 0 as a cross-shard global id."""
        with self._lock:
            return shard * SHARD_FACTOR + next(self._counters[kind])


@dataclass
class StudentData:
    user: UserInfo
    terms: list[Term]
    courses: dict[int, Course]


@dataclass(frozen=True)
class CourseSpec:
    """What one course of a preset must show.

    ``concluded`` means the term is over; ``ended`` says how Canvas shows that: ``date``
    (the term's end date passed; still listed and gradable), ``teacher`` (course completed)
    or ``registrar`` (the enrollment completed).
    """

    term: Term
    n_assignments: int
    weighted: bool
    concluded: bool = False
    restricted: bool = False
    hide_final_grades: bool = False
    force_features: bool = False  # guarantee excused/missing/unposted/late/extra credit
    showcase: bool = False  # also guarantee null points, null due date, pass_fail, 0 points
    ended: str = "date"  # date, teacher, registrar (only when concluded)
    role: str = "student"  # student, ta, teacher, observer
    shard: int = 0  # > 0: a cross-shard course with 10^13-range ids
    periods: str | None = None  # None, "weighted" or "plain" grading periods
    # "term": the periods come from the term's (account's) group, listed with the course;
    # "course": a course-level group, which the course list does not carry.
    period_level: str = "term"
    totals_for_all_periods: bool = True  # Display Totals for 'All Grading Periods'
    scheme: str | None = None  # None (random), "default0" (grading_standard_id 0), "account"
    nickname: str | None = None
    graded_after_end: bool = False  # the teacher graded the final after the term's end
