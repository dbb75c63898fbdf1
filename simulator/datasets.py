"""Deterministic synthetic gradebooks for the simulator's presets.

``build_dataset(preset, seed, ids)`` returns the same structure (names, scores, states,
dates relative to the day it runs) for the same preset and seed. Ids come from the
simulator's :class:`IdAllocator`, so two students never share a course, group, assignment
or submission id.

Presets (docs/INTERFACES.md), each as strict as Canvas (CANVAS_API.md "Read first"):

* ``freshman``: 1 current term; 5 readable student courses (one cross-shard with
  10^13-range ids, one with the term's weighted grading periods, the first closed, with a
  graded item in each; one with a course-level weighted period group whose "All Grading
  Periods" total is hidden; one with ``grading_standard_id`` 0 (Canvas's default scheme), one
  with an account-level scheme, nicknamed) + 1 date-restricted + 1 where the student is a TA.
* ``senior``: 8 terms, ~36 courses. Past terms end by date (still in the default list),
  by the teacher (course completed) or by the registrar (enrollment completed); one past
  course got its final grade after the term's end, one hides totals, one has plain
  (unweighted) grading periods; an observer and a TA course.
* ``heavy``: ~130 courses, one with 250 assignments. ``benchmark``: 3 terms, 24 courses,
  ~35 assignments each.
* ``student``: a student-sized gradebook for the many-students benchmark: 20 courses and
  ~1,000 assignments (45-55 a course); 6 current courses, 14 over in 3 past terms.

Every preset has grading schemes (or none), late deductions and pending-review quizzes.
"""

from __future__ import annotations

from datetime import UTC, datetime

import clock
from simulator.builder import Builder
from simulator.model import Course, Term
from simulator.specs import CourseSpec, IdAllocator, StudentData

__all__ = ["PRESETS", "CourseSpec", "IdAllocator", "StudentData", "build_dataset"]

PRESETS = ("freshman", "senior", "heavy", "benchmark", "student")
ENDINGS = ("date", "date", "teacher", "registrar")


def _plan(preset: str, b: Builder) -> tuple[list[Term], list[tuple[CourseSpec, bool]]]:
    """Terms and (course spec, unicode name?) pairs of a preset."""
    rng = b.rng
    specs: list[tuple[CourseSpec, bool]] = []
    if preset == "freshman":
        terms = b.terms(1, default_term=False)
        current = terms[0]
        for i in range(5):
            specs.append((CourseSpec(current, rng.randint(10, 25), weighted=i in (0, 1, 3),
                                     force_features=True, showcase=i == 0,
                                     periods="weighted" if i in (0, 4) else None,
                                     period_level="course" if i == 4 else "term",
                                     totals_for_all_periods=i != 4,
                                     scheme={1: "default0", 3: "account"}.get(i),
                                     shard=7 if i == 2 else 0,
                                     nickname="My favourite class" if i == 3 else None),
                          i in (1, 3)))
        specs.append((CourseSpec(current, rng.randint(8, 12), weighted=True, restricted=True),
                      False))
        specs.append((CourseSpec(current, 6, weighted=False, role="ta"), False))
    elif preset == "senior":
        terms = b.terms(8, default_term=True)
        for t_index, term in enumerate(terms[:8]):
            for i in range(5 if t_index == 0 else 4):
                concluded = t_index > 0
                specs.append((CourseSpec(
                    term, rng.randint(8, 20), weighted=rng.random() < 0.6, concluded=concluded,
                    restricted=concluded and i == 3 and t_index in (5, 7),
                    hide_final_grades=(t_index, i) == (2, 1), force_features=t_index == 0,
                    showcase=(t_index, i) == (0, 0), ended=ENDINGS[(t_index + i) % 4],
                    periods={(0, 1): "plain", (0, 2): "weighted"}.get((t_index, i)),
                    graded_after_end=(t_index, i) == (1, 0), shard=3 if (t_index, i) == (3, 2)
                    else 0, nickname="Chem w/ Dr. K" if (t_index, i) == (0, 3) else None),
                    rng.random() < 0.25))
        specs.append((CourseSpec(terms[8], 5, weighted=False), False))
        specs.append((CourseSpec(terms[0], 5, weighted=False, role="observer"), False))
        specs.append((CourseSpec(terms[1], 5, weighted=True, concluded=True, role="ta"), False))
    elif preset == "heavy":
        terms = b.terms(10, default_term=True)
        for t_index, term in enumerate(terms[:10]):
            for i in range(12):
                big = t_index == 0 and i == 0
                specs.append((CourseSpec(
                    term, 250 if big else rng.randint(5, 9), weighted=rng.random() < 0.5,
                    concluded=t_index > 0, hide_final_grades=(t_index, i) == (1, 2),
                    restricted=(t_index, i) in ((4, 5), (0, 11)), force_features=big,
                    showcase=big, ended=ENDINGS[(t_index + i) % 4],
                    role="ta" if (t_index, i) == (2, 7) else "student"),
                    rng.random() < 0.25))
        for _ in range(10):
            specs.append((CourseSpec(terms[10], 4, weighted=False), rng.random() < 0.25))
    elif preset == "benchmark":
        terms = b.terms(2, default_term=True)
        for t_index, count in ((0, 12), (1, 10), (2, 2)):
            for i in range(count):
                specs.append((CourseSpec(
                    terms[t_index], rng.randint(30, 40), weighted=i % 2 == 0,
                    concluded=t_index == 1, hide_final_grades=(t_index, i) == (1, 3),
                    ended=ENDINGS[i % 4],
                    force_features=t_index == 0, showcase=(t_index, i) == (0, 0)), i % 4 == 1))
    elif preset == "student":
        terms = b.terms(4, default_term=False)
        for t_index, count in ((0, 6), (1, 5), (2, 5), (3, 4)):
            for i in range(count):
                specs.append((CourseSpec(
                    terms[t_index], rng.randint(45, 55), weighted=i % 2 == 0,
                    concluded=t_index > 0, ended=ENDINGS[(t_index + i) % 4],
                    force_features=t_index == 0, showcase=(t_index, i) == (0, 0)), i % 5 == 1))
    else:
        raise ValueError(f"unknown preset {preset!r}; choose one of {PRESETS}")
    return terms, specs


def build_dataset(preset: str, seed: int, ids: IdAllocator, *, now: datetime | None = None,
                  name: str | None = None) -> StudentData:
    """Build one student's gradebook; deterministic for (preset, seed, day of ``now``)."""
    now = now or clock.now()
    anchor = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    builder = Builder(preset, seed, ids, anchor)
    user = builder.user(name)
    terms, specs = _plan(preset, builder)
    courses: dict[int, Course] = {}
    for spec, unicode_name in specs:
        course_name, code = builder.course_name(unicode_name)
        course = builder.course(spec, course_name, code)
        courses[course.id] = course
    return StudentData(user=user, terms=terms, courses=courses)
