"""Which list shows a course or an enrollment: Canvas's rules, one function per list.

Each rule names the canvas-lms code it follows (CL = ``instructure/canvas-lms``; CANVAS_API.md
"Read first"). The states involved:

* the course's ``workflow_state``: ``available``, or ``completed`` once a teacher concludes it;
* the enrollment's ``workflow_state`` (:attr:`Course.listed_enrollment_state`): ``active``,
  ``invited``, or ``completed`` (the registrar completed it, or the teacher's conclusion did);
* the enrollment's state *by date* (:attr:`Course.effective_enrollment_state`,
  ``EnrollmentState#state``): ``completed`` once the course is over by date.

What a student's token gets:

=======================================================  =======================================
``GET /courses`` (no ``state[]``, no ``enrollment_state``)  active or invited enrollments in
                                                         available courses: current ones and
                                                         courses over by date
``enrollment_state=completed`` alone                     those of them over by date: a subset
``enrollment_state=active`` alone                        active, available, not over by date
``state[]=available``                                    active or invited in available courses
``state[]=completed``                                    completed enrollments in completed
                                                         courses: the teacher-concluded ones
``/users/self/enrollments?state[]=current_and_concluded``  active in available courses, or
                                                         completed; by date active or completed
=======================================================  =======================================

A completed enrollment in a course that is still available (the registrar's) is in no
``/courses`` list; only ``/users/self/enrollments`` shows it.
"""

from __future__ import annotations

from collections.abc import Iterable

from simulator.model import Course

__all__ = [
    "ENROLLMENT_STATES",
    "current_enrollment",
    "in_course_list",
    "in_enrollment_list",
]

CURRENTISH = ("active", "invited")
# CL enrollments_api_controller.rb#user_index_enrollments: the state[] values it accepts.
ENROLLMENT_STATES = frozenset({
    "active", "inactive", "rejected", "invited", "creation_pending", "pending_active",
    "pending_invited", "completed", "current_and_invited", "current_and_future",
    "current_and_concluded",
})
# CL enrollments_api_controller.rb#enrollment_states_for_state_param: the synthetic states as
# the by-date states they stand for.
_SYNTHETIC = {
    "current_and_invited": ("active", "invited"),
    "current_and_future": ("active", "invited", "creation_pending", "pending_active",
                           "pending_invited"),
    "current_and_concluded": ("active", "completed"),
}
# CL Enrollment scopes active_by_date / invited_or_pending_by_date / completed_by_date.
_BY_DATE = {
    "active": ("active",),
    "invited_or_pending": ("invited", "pending_invited", "pending_active"),
    "completed": ("completed",),
}


def _currentish(course: Course) -> bool:
    """CL ``Enrollment::QueryBuilder`` ``:current_and_invited`` (strict checks, no course
    state given): an active or invited enrollment in an available course."""
    return course.listed_enrollment_state in CURRENTISH and course.workflow_state == "available"


def _in_course_state(course: Course, state: str) -> bool:
    """CL ``Enrollment::QueryBuilder.new(nil, course_workflow_state: state,
    enforce_course_workflow_state: true)``: ``COURSE_ENROLLMENT_STATE_MAP`` turns the course
    state into an enrollment state (available -> current_and_invited, completed ->
    completed), and the course must be in that state. The simulator's courses are never
    unpublished or deleted, so those states match nothing."""
    if state == "available":
        return _currentish(course)
    if state == "completed":
        return (course.listed_enrollment_state == "completed"
                and course.workflow_state == "completed")
    return False


def in_course_list(course: Course, enrollment_state: str | None, states: Iterable[str],
                   enrollment_type: str | None) -> bool:
    """Whether ``GET /courses`` with these parameters lists ``course``.

    CL ``app/controllers/courses_controller.rb#courses_for_user``:

    * with ``state[]``: one ``QueryBuilder`` per state (:func:`_in_course_state`), then
      ``enrollment_state`` in SQL by date (``active_by_date`` etc.);
    * else ``enrollment_state=active``: ``user.participating_enrollments`` (active, in an
      available course, active by date);
    * else ``user.cached_currentish_enrollments`` (``current_and_invited``: no date check),
      and ``enrollment_state`` filters those in Ruby by date (``select!(&:completed?)``), so
      ``completed`` is only the currentish enrollments over by date.
    """
    if course.dropped:
        return False
    if enrollment_type and course.enrollment_type != enrollment_type:
        return False
    effective = course.effective_enrollment_state
    states = list(states)
    if states:
        listed = any(_in_course_state(course, state) for state in states)
        if enrollment_state in _BY_DATE:
            listed = listed and effective in _BY_DATE[enrollment_state]
        return listed
    if enrollment_state == "active":
        return _currentish(course) and effective == "active"
    if not _currentish(course):
        return False
    if enrollment_state in ("completed", "invited_or_pending"):
        return effective in _BY_DATE[enrollment_state]
    return True


def _query_builder(course: Course, state: str) -> bool:
    """CL ``Enrollment::QueryBuilder.new(state).conditions`` (strict checks) for a student.

    ``pending_*`` have no condition there (``filter_map`` drops them): they match nothing.
    """
    workflow = course.listed_enrollment_state
    if state == "current_and_invited":
        return _query_builder(course, "active") or _query_builder(course, "invited")
    if state == "current_and_concluded":
        return _query_builder(course, "active") or _query_builder(course, "completed")
    if state == "current_and_future":  # active without strict checks, or invited
        return workflow == "active" or _query_builder(course, "invited")
    if state in CURRENTISH:
        return workflow == state and course.workflow_state == "available"
    if state.startswith("pending_"):
        return False
    return workflow == state


def in_enrollment_list(course: Course, states: Iterable[str], types: Iterable[str],
                       role: str) -> bool:
    """Whether the student's own ``GET /users/self/enrollments`` lists the course's enrollment.

    CL ``app/controllers/enrollments_api_controller.rb#user_index_enrollments`` (the user is
    the caller): with ``state[]``, ``enrollment_index_conditions(true)`` ORs a
    ``QueryBuilder`` per state and ``enrollment_states.state`` must be one of
    ``enrollment_states_for_state_param``; without, ``current_and_invited`` enrollments not
    completed by date. ``type[]`` filters ``enrollments.type``.
    """
    if course.dropped:
        return False
    types = list(types)
    if types and role not in types:
        return False
    effective = course.effective_enrollment_state
    states = list(states)
    if not states:
        return _currentish(course) and effective != "completed"
    by_date = {s for state in states for s in _SYNTHETIC.get(state, (state,))}
    return any(_query_builder(course, state) for state in states) and effective in by_date


def current_enrollment(course: Course) -> bool:
    """Whether ``GET /courses/:id`` shows the student's enrollment in ``enrollments``.

    CL ``courses_controller.rb#show`` renders ``@course.current_enrollments`` of the user, and
    ``Course#current_enrollments`` leaves out ``rejected``, ``completed``, ``deleted`` and
    ``inactive`` enrollments: a completed enrollment answers ``"enrollments": []``.
    """
    return course.listed_enrollment_state not in ("rejected", "completed", "deleted", "inactive")
