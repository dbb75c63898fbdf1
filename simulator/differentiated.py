"""Scenarios around what a student's own gradebook is (issue 18), as canvas-lms behaves.

Each helper is a teacher's or an admin's action on one simulated student's course; they take
the student's lock like the methods of :class:`simulator.student.Student`:

* :func:`add_role`: the same user is also an observer (observing no one) or a TA in the
  course. Canvas lists every enrollment in ``enrollments[]`` and, for the assignments, lets the
  widest role decide (canvas-lms ``AssignmentGroup.visible_assignments``,
  ``DifferentiableAssignment.filter``; see ``Course.listed_assignments``).
* :func:`assign_to_others`: an assignment only for other students (``only_visible_to_overrides``
  with an override that leaves our student out): no submission row of theirs, not in their
  grade (canvas-lms ``GradeCalculator#assignment_visible_to_student?``).
* :func:`excuse_unposted`: excuse under a manual post policy: ``excused: true`` with
  ``posted_at: null``; Canvas's student scores ignore the unposted submission
  (``GradeCalculator#ignore_submission?``).
* :func:`set_recompute_delay`: Canvas's totals follow a change only after its background
  recompute (``Enrollment.recompute_final_score_in_singleton``), modelled as clock seconds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from simulator.model import Assignment, Submission, utcnow
from simulator.render import ROLES

if TYPE_CHECKING:
    from simulator.student import Student


def add_role(student: Student, course_id: int, role: str) -> None:
    """Enroll the student's user in ``course_id`` again, as ``role`` (observer, ta...)."""
    if role not in ROLES or role == "student":
        raise ValueError(f"not another role: {role!r}")
    with student.lock:
        course = student.course(course_id)
        if role not in course.extra_roles:
            course.extra_roles = (*course.extra_roles, role)


def assign_to_others(student: Student, course_id: int, group_id: int, name: str,
                     points_possible: float = 100.0) -> int:
    """A published assignment assigned to other students only; returns its id.

    Other students' grades on it are none of ours: our student has no submission on it (the
    ``Submission`` object kept on the model is never rendered: ``assigned`` is False).
    """
    with student.lock:
        course, group = student.course(course_id), student.group(course_id, group_id)
        now = utcnow()
        position = 1 + max((a.position for a in course.assignments.values()
                            if a.group_id == group.id and not a.deleted), default=0)
        assignment = Assignment(
            id=student._ids.next("assignment"), course_id=course.id, group_id=group.id,
            name=name, position=position, points_possible=float(points_possible),
            grading_type="points", due_at=None, created_at=now, updated_at=now,
            submission=Submission(student._ids.next("submission")), assigned=False,
        )
        course.assignments[assignment.id] = assignment
        course.touch()
        return assignment.id


def excuse_unposted(student: Student, course_id: int, assignment_id: int) -> None:
    """The teacher excuses the student on a manually posted assignment, not posted yet."""
    with student.lock:
        student.excuse(course_id, assignment_id)
        assignment = student.assignment(course_id, assignment_id)
        assignment.post_manually = True
        assignment.submission.posted_at = None
        student.course(course_id).touch()


def set_recompute_delay(student: Student, course_id: int, seconds: float) -> None:
    """Canvas serves the old totals for ``seconds`` of clock time after each change."""
    with student.lock:
        course = student.course(course_id)
        course.recompute_delay = float(seconds)
        course.lagging_scores = None
