"""One simulated student: their gradebook, the mutations tests apply, and the oracle.

All reads and writes go through the simulator's lock (``self.lock``), which the HTTP
handlers also hold while they build a response, so a response never shows half a mutation.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import clock
from simulator.model import (
    Assignment,
    Course,
    Group,
    Submission,
    grade_string,
    utcnow,
)
from simulator.specs import IdAllocator, StudentData
from simulator.totals import course_scores, current_period, letters, period_scores

ASSIGNMENT_FIELDS = frozenset({
    "name", "description", "position", "points_possible", "grading_type", "due_at",
    "omit_from_final_grade", "published", "post_manually", "submission_types", "group_id",
})


def _as_datetime(value: Any) -> datetime | None:
    """A datetime or ISO string as an aware UTC datetime (naive values are taken as UTC)."""
    if value is None:
        return None
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).replace(microsecond=0)


class Student:
    """A student behind one access token; every public method is thread-safe."""

    def __init__(self, token: str, data: StudentData, ids: IdAllocator,
                 lock: threading.RLock) -> None:
        self.token = token
        self.data = data
        self.user = data.user
        self.user_id = data.user.id
        self.name = data.user.name
        self.lock = lock
        self._ids = ids

    def warm(self) -> None:
        """Compute and cache every visible course's scores."""
        with self.lock:
            for course in self.courses.values():
                if course.visible:
                    course_scores(course)
                    period_scores(course)

    # -- lookups --------------------------------------------------------------------------
    @property
    def courses(self) -> dict[int, Course]:
        return self.data.courses

    def course_ids(self) -> list[int]:
        """Every course id, including restricted ones (not dropped ones: they are gone)."""
        with self.lock:
            return [c.id for c in self.courses.values() if not c.dropped]

    def visible_course_ids(self) -> list[int]:
        """Student courses whose gradebook the student can read (not restricted/dropped).

        Courses where the user is a TA, teacher or observer are left out: they hold no
        grades of the student's own (see ``role_course_ids``).
        """
        with self.lock:
            return [c.id for c in self.courses.values() if c.visible and c.is_student]

    def role_course_ids(self) -> list[int]:
        """Courses where the user is enrolled as TA, teacher, designer or observer."""
        with self.lock:
            return [c.id for c in self.courses.values() if not c.is_student and not c.dropped]

    def course(self, course_id: int) -> Course:
        course = self.courses.get(int(course_id))
        if course is None:
            raise KeyError(f"student {self.user_id} has no course {course_id}")
        return course

    def assignment(self, course_id: int, assignment_id: int) -> Assignment:
        assignment = self.course(course_id).assignments.get(int(assignment_id))
        if assignment is None:
            raise KeyError(f"course {course_id} has no assignment {assignment_id}")
        return assignment

    def group(self, course_id: int, group_id: int) -> Group:
        group = self.course(course_id).groups.get(int(group_id))
        if group is None:
            raise KeyError(f"course {course_id} has no assignment group {group_id}")
        return group

    def any_assignment(self, course_id: int | None = None) -> tuple[int, int]:
        """A visible, points-graded assignment that counts: (course_id, assignment_id)."""
        with self.lock:
            courses = ([self.course(course_id)] if course_id is not None
                       else [c for c in self.courses.values() if c.visible and c.is_student])
            fallback: tuple[int, int] | None = None
            for course in courses:
                for a in course.visible_assignments():
                    fallback = fallback or (course.id, a.id)
                    if (a.points_possible and a.grading_type == "points"
                            and not a.omit_from_final_grade):
                        return course.id, a.id
            if fallback is None:
                raise LookupError("no visible assignment")
            return fallback

    # -- grades ---------------------------------------------------------------------------
    def grade(self, course_id: int, assignment_id: int, score: float, *, posted: bool = True,
              grade: str | None = None) -> None:
        """The teacher grades; ``posted=False`` keeps it hidden (manual post policy)."""
        with self.lock:
            a = self.assignment(course_id, assignment_id)
            sub, now = a.submission, utcnow()
            sub.score = sub.entered_score = float(score)
            sub.grade = grade or grade_string(sub.score, a.grading_type, a.points_possible)
            sub.excused = False
            if sub.missing:
                sub.missing, sub.late_policy_status = False, None
            sub.workflow_state = "graded"
            sub.graded_at = now
            sub.grader_id = 5512
            sub.posted_at = now if posted else None
            if not posted:
                a.post_manually = True
            self.course(course_id).touch()

    def post_grade(self, course_id: int, assignment_id: int) -> None:
        """Post a hidden grade: posted_at=now, graded_at unchanged."""
        with self.lock:
            self.assignment(course_id, assignment_id).submission.posted_at = utcnow()
            self.course(course_id).touch()

    def excuse(self, course_id: int, assignment_id: int) -> None:
        with self.lock:
            sub, now = self.assignment(course_id, assignment_id).submission, utcnow()
            sub.excused = True
            sub.score = sub.entered_score = None
            sub.grade = None
            sub.missing, sub.late, sub.seconds_late = False, False, 0
            sub.late_policy_status = None
            sub.workflow_state = "graded"
            sub.graded_at = sub.posted_at = now
            self.course(course_id).touch()

    def mark_missing(self, course_id: int, assignment_id: int, missing: bool = True) -> None:
        with self.lock:
            sub = self.assignment(course_id, assignment_id).submission
            sub.missing = missing
            sub.late_policy_status = "missing" if missing else None
            if missing:
                sub.late, sub.seconds_late = False, 0
            self.course(course_id).touch()

    def apply_late_penalty(self, course_id: int, assignment_id: int, points: float) -> None:
        """The late policy deducts ``points`` from a graded submission marked late.

        ``entered_score`` stays what the teacher typed; ``score`` is after the deduction.
        """
        with self.lock:
            a = self.assignment(course_id, assignment_id)
            sub = a.submission
            if sub.score is None:
                raise ValueError("only a graded submission can lose points for lateness")
            entered = sub.entered_score if sub.entered_score is not None else sub.score
            sub.entered_score = entered
            sub.points_deducted = float(points)
            sub.score = max(entered - float(points), 0.0)
            sub.grade = grade_string(sub.score, a.grading_type, a.points_possible)
            sub.late, sub.late_policy_status = True, "late"
            sub.seconds_late = sub.seconds_late or 3600
            self.course(course_id).touch()

    # -- assignments ----------------------------------------------------------------------
    def add_assignment(self, course_id: int, group_id: int, name: str,
                       points_possible: float | None = 10.0, **fields: Any) -> int:
        """Create a published assignment (with its unsubmitted placeholder); returns its id."""
        with self.lock:
            course, group = self.course(course_id), self.group(course_id, group_id)
            self._check_fields(fields)
            now = utcnow()
            position = 1 + max((a.position for a in course.assignments.values()
                                if a.group_id == group.id and not a.deleted), default=0)
            assignment = Assignment(
                id=self._ids.next("assignment"), course_id=course.id, group_id=group.id,
                name=name, position=position, points_possible=points_possible,
                grading_type="points", due_at=None, created_at=now, updated_at=now,
                submission=Submission(self._ids.next("submission")),
            )
            self._set_fields(assignment, fields)
            course.assignments[assignment.id] = assignment
            course.touch()
            return assignment.id

    def edit_assignment(self, course_id: int, assignment_id: int, **fields: Any) -> None:
        """Change assignment fields (see ASSIGNMENT_FIELDS); bumps updated_at."""
        with self.lock:
            assignment = self.assignment(course_id, assignment_id)
            self._check_fields(fields)
            if "group_id" in fields or "assignment_group_id" in fields:
                self.group(course_id, fields.get("group_id", fields.get("assignment_group_id")))
            self._set_fields(assignment, fields)
            assignment.updated_at = utcnow()
            self.course(course_id).touch()

    def unpublish_assignment(self, course_id: int, assignment_id: int) -> None:
        self.edit_assignment(course_id, assignment_id, published=False)

    def delete_assignment(self, course_id: int, assignment_id: int) -> None:
        with self.lock:
            assignment = self.assignment(course_id, assignment_id)
            assignment.deleted = True
            assignment.updated_at = utcnow()
            self.course(course_id).touch()

    @staticmethod
    def _check_fields(fields: dict[str, Any]) -> None:
        unknown = set(fields) - ASSIGNMENT_FIELDS - {"assignment_group_id"}
        if unknown:
            raise TypeError(f"unknown assignment fields: {sorted(unknown)}")

    @staticmethod
    def _set_fields(assignment: Assignment, fields: dict[str, Any]) -> None:
        for key, value in fields.items():
            if key == "assignment_group_id":
                key = "group_id"
            if key == "due_at":
                value = _as_datetime(value)
            elif key == "points_possible" and value is not None:
                value = float(value)
            elif key == "group_id":
                value = int(value)
            setattr(assignment, key, value)

    # -- groups and courses ---------------------------------------------------------------
    def reweight_group(self, course_id: int, group_id: int, weight: float) -> None:
        with self.lock:
            self.group(course_id, group_id).weight = float(weight)
            self.course(course_id).touch()

    def set_group_rules(self, course_id: int, group_id: int, *, drop_lowest: int = 0,
                        drop_highest: int = 0, never_drop: Any = ()) -> None:
        with self.lock:
            group = self.group(course_id, group_id)
            group.drop_lowest, group.drop_highest = int(drop_lowest), int(drop_highest)
            group.never_drop = sorted(int(i) for i in never_drop)
            self.course(course_id).touch()

    def set_group_weighting(self, course_id: int, apply_group_weights: bool) -> None:
        """Turn the course's apply_assignment_group_weights on or off."""
        with self.lock:
            course = self.course(course_id)
            course.apply_group_weights = bool(apply_group_weights)
            course.touch()

    def rename_course(self, course_id: int, name: str) -> None:
        with self.lock:
            self.course(course_id).name = name

    def set_nickname(self, course_id: int, nickname: str | None) -> None:
        """The student's own course name: ``name`` shows it, ``original_name`` the real one."""
        with self.lock:
            self.course(course_id).nickname = nickname

    def drop_course(self, course_id: int) -> None:
        """The enrollment is deleted: the course vanishes from every list (and 401s)."""
        with self.lock:
            course = self.course(course_id)
            course.dropped = True
            course.enrollment_updated_at = utcnow()

    def conclude_by_date(self, course_id: int) -> None:
        """The course's end date passes: still listed by default and still gradable."""
        with self.lock:
            self.course(course_id).end_at = clock.now() - timedelta(seconds=1)

    def end_term(self, course_id: int) -> list[int]:
        """The course's term ends by date: every course of that term is over by date (still
        listed by default and still gradable). Returns the ids of the term's courses."""
        with self.lock:
            term = self.course(course_id).term
            term.end_at = (clock.now() - timedelta(seconds=1)).replace(microsecond=0)
            return [c.id for c in self.courses.values() if c.term is term]

    def conclude_course(self, course_id: int) -> None:
        """The teacher concludes the course (``workflow_state`` completed): read-only."""
        with self.lock:
            course = self.course(course_id)
            course.workflow_state = "completed"
            course.enrollment_updated_at = utcnow()

    teacher_conclude = conclude_course

    def registrar_complete(self, course_id: int) -> None:
        """The registrar completes the student's enrollment; the course stays available."""
        with self.lock:
            course = self.course(course_id)
            course.enrollment_state = "completed"
            course.enrollment_updated_at = utcnow()

    def reopen_course(self, course_id: int) -> None:
        """Undo a teacher conclusion, a registrar completion and a course end date."""
        with self.lock:
            course = self.course(course_id)
            course.workflow_state = "available"
            course.enrollment_state = "active"
            course.end_at = None
            course.enrollment_updated_at = utcnow()

    def late_final_grade(self, course_id: int, score: float | None = None) -> int:
        """A teacher grades after the term's end: the last ungraded item gets a grade now.

        Returns the assignment id. Works in a date-concluded course (Canvas allows it); a
        teacher-concluded one is read-only, so this refuses it.
        """
        with self.lock:
            course = self.course(course_id)
            if course.workflow_state == "completed":
                raise ValueError("a teacher-concluded course is read-only")
            candidates = [a for a in course.visible_assignments()
                          if a.submission.score is None and not a.submission.excused
                          and a.points_possible and a.grading_type == "points"]
            if not candidates:
                candidates = [a for a in course.visible_assignments()
                              if a.points_possible and a.grading_type == "points"]
            target = candidates[-1]
            points = target.points_possible or 0.0
            self.grade(course_id, target.id, points * 0.9 if score is None else score)
            return target.id

    def await_review(self, course_id: int, assignment_id: int, partial: float) -> None:
        """A quiz with an essay question: submitted, auto-graded part ``partial``."""
        with self.lock:
            sub, now = self.assignment(course_id, assignment_id).submission, utcnow()
            sub.workflow_state = "pending_review"
            sub.score = sub.entered_score = float(partial)
            sub.grade = f"{float(partial):g}"
            sub.excused = False
            sub.submitted_at = sub.submitted_at or now
            sub.graded_at = sub.posted_at = now
            self.course(course_id).touch()

    def restrict_course(self, course_id: int) -> None:
        with self.lock:
            self.course(course_id).restricted = True

    def lift_restriction(self, course_id: int) -> None:
        """The course's participation dates open: the student can read it now."""
        with self.lock:
            self.course(course_id).restricted = False

    # -- the oracle -----------------------------------------------------------------------
    def expected(self) -> dict:
        """What the student can see through the API, keyed by Canvas course id."""
        with self.lock:
            return {c.id: self._expected_course(c) for c in self.courses.values()
                    if c.visible and c.is_student}

    def expected_grades(self) -> dict[int, dict[str, Any]]:
        """Canvas's grade facts per readable student course, beyond ``expected()``.

        ``current_score``/``final_score`` are None when the teacher hid totals
        (``hide_final_grades``); ``letter`` is from the course's grading scheme (None
        without one); ``grading_periods`` lists each period with its own scores.
        """
        with self.lock:
            return {c.id: self._expected_grades(c) for c in self.courses.values()
                    if c.visible and c.is_student}

    def _expected_grades(self, course: Course) -> dict[str, Any]:
        hidden = course.hide_final_grades
        scores = (None, None) if hidden else course_scores(course)
        by_period = period_scores(course)
        now_period = current_period(course)
        scheme = course.grading_standard
        return {
            "name": course.display_name, "original_name": course.name,
            "hide_final_grades": hidden,
            "current_score": scores[0], "final_score": scores[1],
            "letter": letters(course, scores)[0],
            "grading_scheme": list(scheme.scheme) if scheme else None,
            "grading_standard_id": course.grading_standard_id,
            "has_weighted_grading_periods": course.weighted_grading_periods,
            "period_group_level": course.period_group_level if course.grading_periods else None,
            "totals_for_all_grading_periods_option": course.totals_for_all_periods,
            "current_grading_period_id": now_period.id if now_period else None,
            "grading_periods": [
                {"id": p.id, "title": p.title, "weight": p.weight, "is_closed": p.is_closed,
                 "current_score": None if hidden else by_period[p.id][0],
                 "final_score": None if hidden else by_period[p.id][1],
                 "letter": None if hidden else letters(course, by_period[p.id])[0]}
                for p in course.grading_periods
            ],
            "assignment_periods": {a.id: a.grading_period_id
                                   for a in course.visible_assignments()},
        }

    def _expected_course(self, course: Course) -> dict:
        current, final = (None, None) if course.hide_final_grades else course_scores(course)
        term = course.term
        groups = {
            g.id: {"name": g.name, "weight": g.weight, "position": g.position,
                   "drop_lowest": g.drop_lowest, "drop_highest": g.drop_highest,
                   "never_drop": sorted(g.never_drop)}
            for g in course.sorted_groups()
        }
        assignments = {}
        for a in course.visible_assignments():
            sub = a.submission
            assignments[a.id] = {
                "name": a.name, "group_id": a.group_id, "position": a.position,
                "due_at": a.due_at, "points_possible": a.points_possible,
                "grading_type": a.grading_type, "omit_from_final_grade": a.omit_from_final_grade,
                "updated_at": a.updated_at, "score": sub.visible_score,
                "grade": sub.visible_grade, "excused": sub.excused, "missing": sub.missing,
                "late": sub.late, "workflow_state": sub.workflow_state,
                "submitted_at": sub.submitted_at, "graded_at": sub.graded_at,
                "posted_at": sub.posted_at,
            }
        return {
            "name": course.display_name, "course_code": course.course_code,
            "apply_group_weights": course.apply_group_weights,
            "computed_current_score": current, "computed_final_score": final,
            # Over for the student: Canvas's ``concluded`` (by date or by the teacher), or an
            # enrollment the registrar completed in a course that is still available.
            "concluded": course.concluded or course.listed_enrollment_state == "completed",
            "term": {"id": term.id, "name": term.name, "start_at": term.start_at,
                     "end_at": term.end_at},
            "groups": groups, "assignments": assignments,
        }
