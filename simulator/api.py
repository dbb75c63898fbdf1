"""The simulator's REST endpoints: route a GET to a handler that returns an ApiResponse.

Handlers run with the simulator lock held while they read the student's data; the server
serialises the body afterwards. Errors are raised as :class:`ApiError` with Canvas's bodies.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from simulator.lists import (
    ENROLLMENT_STATES,
    current_enrollment,
    in_course_list,
    in_enrollment_list,
)
from simulator.model import Assignment, Course
from simulator.pagination import (
    InvalidPage,
    Page,
    link_header,
    paginate_bookmark,
    paginate_numbered,
)
from simulator.render import (
    ROLES,
    assignment_json,
    course_json,
    enrollment_json,
    grading_period_json,
    grading_standard_json,
    group_json,
    profile_json,
    submission_json,
    user_json,
)
from simulator.student import Student

NOT_FOUND = {"errors": [{"message": "The specified resource does not exist."}]}
UNAUTHORIZED = {"status": "unauthorized",
                "errors": [{"message": "user not authorized to perform that action"}]}


class ApiError(Exception):
    """An error response; ``unauthorized`` ones take their status from the config."""

    def __init__(self, status: int, body: Any, *, unauthorized: bool = False) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.unauthorized = unauthorized


def not_found() -> ApiError:
    return ApiError(404, NOT_FOUND)


def not_permitted() -> ApiError:
    return ApiError(401, UNAUTHORIZED, unauthorized=True)


@dataclass
class ApiRequest:
    student: Student
    path: str
    pairs: list[tuple[str, str]]  # the query string in order, blanks kept
    query: dict[str, list[str]]
    base: str  # scheme://host the client used

    def values(self, key: str) -> list[str]:
        """All values of ``key[]`` (and of a plain ``key``, which Canvas also accepts)."""
        return self.query.get(f"{key}[]", []) + self.query.get(key, [])

    def last(self, key: str) -> str | None:
        values = self.query.get(key)
        return values[-1] if values else None

    def includes(self) -> set[str]:
        return set(self.values("include"))


@dataclass
class ApiResponse:
    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    is_list: bool = False  # list endpoints are what malform() rules act on
    # Objects rendered (groups, assignments, submissions, courses): what the request's cost
    # grows with (server.py charges ``item_cost`` per object; 0 for a single object).
    work: int = 0


def _paged(request: ApiRequest, page: Page, body: list) -> ApiResponse:
    link = link_header(request.base + request.path, request.pairs, page)
    return ApiResponse(body, headers={"link": link} if link else {}, is_list=True,
                       work=len(body))


def _visible_course(request: ApiRequest, course_id: str) -> Course:
    course = request.student.courses.get(int(course_id))
    if course is None:
        raise not_found()
    if not course.visible:
        raise not_permitted()
    return course


def _visible_assignment(course: Course, assignment_id: str) -> Assignment:
    assignment = course.assignments.get(int(assignment_id))
    if assignment is None or assignment.deleted:
        raise not_found()
    if not assignment.published:
        raise not_permitted()
    return assignment


def _check_self(request: ApiRequest, user_id: str) -> None:
    if user_id not in ("self", str(request.student.user_id)):
        raise not_permitted()


def _parse_since(request: ApiRequest, key: str) -> datetime | None:
    raw = request.last(key)
    if raw is None or raw == "":
        return None
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise ApiError(400, {"errors": {key: f"Invalid datetime for {key}"}}) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


# -- users --------------------------------------------------------------------------------
def get_user(request: ApiRequest, user_id: str) -> ApiResponse:
    _check_self(request, user_id)
    return ApiResponse(user_json(request.student.user, request.base))


def get_profile(request: ApiRequest, user_id: str) -> ApiResponse:
    _check_self(request, user_id)
    return ApiResponse(profile_json(request.student.user, request.base))


def list_enrollments(request: ApiRequest, user_id: str) -> ApiResponse:
    """The student's own enrollments, with ``grades`` (``simulator.lists.in_enrollment_list``).

    Bookmark pages ordered by (type, sortable name, id): CL ``enrollments_api_controller.rb
    #index`` (``BookmarkedCollection::SimpleBookmarker`` on ``type``, ``sortable_name``, ``id``).
    """
    _check_self(request, user_id)
    student = request.student
    states = request.values("state")
    bad = [state for state in states if state not in ENROLLMENT_STATES]
    if bad:
        raise ApiError(400, {"error": f"Invalid state {bad[0]}"})
    types = request.values("type")
    rows = [c for c in student.courses.values()
            if in_enrollment_list(c, states, types, ROLES[c.enrollment_type][0])]
    sortable = student.user.sortable_name

    def key(course: Course) -> list:
        return [ROLES[course.enrollment_type][0], sortable, course.enrollment_id]

    rows.sort(key=key)
    page = paginate_bookmark(rows, request.query, key)
    return _paged(request, page, [enrollment_json(c, student.user, request.base)
                                  for c in page.items])


# -- courses ------------------------------------------------------------------------------
def _collation_key(course: Course) -> tuple[str, int]:
    """A rough stand-in for ICU collation: accents and case do not decide the order."""
    folded = unicodedata.normalize("NFKD", course.name).casefold()
    return "".join(ch for ch in folded if not unicodedata.combining(ch)), course.id


def list_courses(request: ApiRequest) -> ApiResponse:
    """``GET /courses``: which courses, by ``simulator.lists.in_course_list``."""
    student = request.student
    enrollment_state = request.last("enrollment_state")
    states = set(request.values("state"))
    enrollment_type = request.last("enrollment_type")
    rows = [c for c in student.courses.values()
            if in_course_list(c, enrollment_state, states, enrollment_type)]
    rows.sort(key=_collation_key)
    page = paginate_numbered(rows, request.query)
    includes = request.includes()
    user_id = student.user_id
    return _paged(request, page, [course_json(c, user_id, includes, request.base)
                                  for c in page.items])


def list_grading_periods(request: ApiRequest, course_id: str) -> ApiResponse:
    """canvas-lms ``grading_periods_controller.rb#index``: ``GradingPeriod.for(course)`` (the
    course's own group, else its term's) by start date, serialized as an object
    ``{"grading_periods": [...], "meta": {"pagination": ..., "primaryCollection":
    "grading_periods"}, "can_create_grading_periods": false, "grading_periods_read_only":
    <the group belongs to an account>}`` (``serialize_json_api``, ``index_permissions``)."""
    course = _visible_course(request, course_id)
    periods = sorted(course.grading_periods, key=lambda p: p.start_date)
    page = paginate_numbered(periods, request.query)
    link = link_header(request.base + request.path, request.pairs, page)
    body = {"grading_periods": [grading_period_json(p, course) for p in page.items],
            "meta": {"pagination": {rel: int(n) for rel, n in page.links.items()},
                     "primaryCollection": "grading_periods"},
            "can_create_grading_periods": False,
            "grading_periods_read_only": bool(periods) and course.period_group_level == "term"}
    return ApiResponse(body, headers={"link": link} if link else {})


def list_grading_standards(request: ApiRequest, course_id: str) -> ApiResponse:
    """The grading standards available in the course (here: its own, if any)."""
    course = _visible_course(request, course_id)
    # The course's own standards only: an account's (or Canvas's default, id 0) is not
    # listed in the course context to a student.
    standard = course.grading_standard
    standards = [course] if standard and standard.context_type == "Course" else []
    page = paginate_numbered(standards, request.query)
    return _paged(request, page, [grading_standard_json(c) for c in page.items])


def get_grading_standard(request: ApiRequest, course_id: str, standard_id: str
                         ) -> ApiResponse:
    course = _visible_course(request, course_id)
    standard = course.grading_standard
    # grading_standards_api_controller.rb#context_show finds the standard in the course's
    # own (active) standards: an account's scheme, or the default (id 0, no record), is 404.
    if standard is None or standard.context_type != "Course" or standard.id != int(standard_id):
        raise not_found()
    return ApiResponse(grading_standard_json(course))


def get_course(request: ApiRequest, course_id: str) -> ApiResponse:
    course = request.student.courses.get(int(course_id))
    if course is None or course.dropped:
        raise not_found() if course is None else not_permitted()
    # CL courses_controller.rb#show: the user's *current* enrollments only (none when completed).
    return ApiResponse(course_json(course, request.student.user_id, request.includes(),
                                   request.base, enrolled=current_enrollment(course)))


def list_assignment_groups(request: ApiRequest, course_id: str) -> ApiResponse:
    course = _visible_course(request, course_id)
    includes = request.includes()
    # CL assignment_groups_controller.rb#index passes exclude_response_fields[] on
    # (#assignment_excludes) to lib/api/v1/assignment_group.rb#assignment_group_json and
    # lib/api/v1/assignment.rb#assignment_json: "description" and "in_closed_grading_period"
    # are left out here; "rubric" and "needs_grading_count" too, which the simulator never
    # renders (no rubrics; a student has no needs_grading_count).
    excluded = set(request.values("exclude_response_fields"))
    description = "description" not in excluded
    page = paginate_numbered(course.sorted_groups(), request.query)
    by_group: dict[int, list[Assignment]] | None = None
    if "assignments" in includes:
        by_group = {g.id: [] for g in course.groups.values()}
        for assignment in course.listed_assignments():  # all the user's roles decide
            by_group.setdefault(assignment.group_id, []).append(assignment)
    user_id = request.student.user_id
    body = [group_json(course, g.id, by_group[g.id] if by_group is not None else None,
                       user_id, request.base,
                       submission="submission" in includes and course.is_student,
                       description=description,
                       closed_period="in_closed_grading_period" not in excluded)
            for g in page.items]
    rendered = len(body) + (sum(len(by_group[g.id]) for g in page.items) if by_group else 0)
    return replace(_paged(request, page, body), work=rendered)


def list_assignments(request: ApiRequest, course_id: str) -> ApiResponse:
    """canvas-lms AssignmentsApiController#index -> #get_assignments: ``Assignments::
    ScopedToUser`` ordered by ``assignment_groups.position, assignments.position,
    assignments.id``, numbered pages by ``Api.paginate`` (default 10, at most 100 a page,
    ``rel="last"`` on every page); ``include[]=submission`` adds the caller's own submission
    per assignment on the page (``Api::V1::Assignment#submissions_hash``: one query per page,
    ``submissions.where(assignment_id: page).for_user``), absent where there is none.
    ``exclude_response_fields[]`` is not passed on to ``assignment_json`` here (unlike
    AssignmentGroupsController#index), so ``description`` and ``in_closed_grading_period``
    are always rendered. Charged like any request (server.py): RequestThrottle's cost is
    CPU + DB time (``RequestThrottle#calculate_cost``), so ``request_cost`` per page plus
    ``item_cost`` per assignment rendered, as the groups endpoint charges its assignments."""
    course = _visible_course(request, course_id)
    items = course.listed_assignments()  # Assignments::ScopedToUser: as the groups endpoint
    order_by = request.last("order_by")
    if order_by == "name":
        items.sort(key=lambda a: (a.name.casefold(), a.id))
    elif order_by == "due_at":
        items.sort(key=lambda a: (a.due_at is None, a.due_at or datetime.min.replace(tzinfo=UTC),
                                  a.id))
    wanted = request.values("assignment_ids")
    if wanted:
        ids = {int(i) for i in wanted if i.isdigit()}
        items = [a for a in items if a.id in ids]
    page = paginate_numbered(items, request.query)
    if wanted and len(page.items) != len(wanted):
        found = {str(a.id) for a in page.items}
        missing = ",".join(i for i in wanted if i not in found)
        raise ApiError(400, {"message": f"Invalid assignment_ids: {missing}"})
    submission = "submission" in request.includes() and course.is_student
    user_id = request.student.user_id
    return _paged(request, page, [assignment_json(a, user_id, request.base,
                                                  submission=submission)
                                  for a in page.items])


def get_assignment(request: ApiRequest, course_id: str, assignment_id: str) -> ApiResponse:
    course = _visible_course(request, course_id)
    assignment = _visible_assignment(course, assignment_id)
    return ApiResponse(assignment_json(assignment, request.student.user_id, request.base,
                                       submission="submission" in request.includes()))


def get_own_submission(request: ApiRequest, course_id: str, assignment_id: str,
                       user_id: str) -> ApiResponse:
    _check_self(request, user_id)
    course = _visible_course(request, course_id)
    assignment = _visible_assignment(course, assignment_id)
    body = submission_json(assignment, request.student.user_id, request.base)
    if "assignment" in request.includes():
        body["assignment"] = assignment_json(assignment, request.student.user_id, request.base)
    return ApiResponse(body)


def list_student_submissions(request: ApiRequest, course_id: str) -> ApiResponse:
    """``students/submissions``: bookmark pages, visibility filtered *after* paginating."""
    course = _visible_course(request, course_id)
    student = request.student
    student_ids = request.values("student_ids")
    if len(student_ids) > 100:
        raise ApiError(400, {"error": "too many students"})
    if any(s not in ("self", "all", str(student.user_id)) for s in student_ids):
        raise not_permitted()
    graded_since = _parse_since(request, "graded_since")
    submitted_since = _parse_since(request, "submitted_since")
    workflow_state = request.last("workflow_state")
    wanted = request.values("assignment_ids")
    # Only a student enrollment has submissions of its own (one per *assigned* assignment);
    # a TA or observer gets none.
    rows = [a for a in course.assignments.values()
            if not a.deleted and a.assigned and course.is_student]
    if wanted:
        published = {str(a.id) for a in course.assignments.values()
                     if a.published and not a.deleted}
        if any(i not in published for i in wanted):
            raise ApiError(403, {"error": "invalid assignment ids requested"})
        rows = [a for a in rows if str(a.id) in wanted]
    # The "SQL" filters run before pagination ...
    if graded_since is not None:
        rows = [a for a in rows if a.submission.graded_at and a.submission.graded_at > graded_since]
    if submitted_since is not None:
        rows = [a for a in rows
                if a.submission.submitted_at and a.submission.submitted_at > submitted_since]
    if workflow_state:
        rows = [a for a in rows if a.submission.workflow_state == workflow_state]
    include_assignment = "assignment" in request.includes()
    user_id = student.user_id

    def render(items: list[Assignment]) -> list[dict]:
        # ... and the visibility filter after it, which is what makes pages short.
        out = []
        for a in items:
            if not a.published:
                continue
            body = submission_json(a, user_id, request.base)
            if include_assignment:
                body["assignment"] = assignment_json(a, user_id, request.base)
            out.append(body)
        return out

    if request.last("grouped") in ("1", "true"):
        page = paginate_numbered([student], request.query)
        rows.sort(key=lambda a: a.submission.id)
        body = [{"user_id": user_id, "section_id": course.section_id,
                 "submissions": render(rows)} for _ in page.items]
        return _paged(request, page, body)
    rows.sort(key=lambda a: a.submission.id)
    if request.last("order_direction") == "descending":
        rows.reverse()
        page = paginate_numbered(rows, request.query)
    else:
        page = paginate_bookmark(rows, request.query, lambda a: [a.submission.id])
    return _paged(request, page, render(page.items))


_ID = r"(\d+)"
_USER = r"(self|\d+)"
ROUTES: list[tuple[re.Pattern[str], Callable[..., ApiResponse]]] = [
    (re.compile(rf"/api/v1/users/{_USER}"), get_user),
    (re.compile(rf"/api/v1/users/{_USER}/profile"), get_profile),
    (re.compile(rf"/api/v1/users/{_USER}/enrollments"), list_enrollments),
    (re.compile(r"/api/v1/courses"), list_courses),
    (re.compile(rf"/api/v1/courses/{_ID}"), get_course),
    (re.compile(rf"/api/v1/courses/{_ID}/assignment_groups"), list_assignment_groups),
    (re.compile(rf"/api/v1/courses/{_ID}/assignments"), list_assignments),
    (re.compile(rf"/api/v1/courses/{_ID}/assignments/{_ID}"), get_assignment),
    (re.compile(rf"/api/v1/courses/{_ID}/assignments/{_ID}/submissions/{_USER}"),
     get_own_submission),
    (re.compile(rf"/api/v1/courses/{_ID}/students/submissions"), list_student_submissions),
    (re.compile(rf"/api/v1/courses/{_ID}/grading_periods"), list_grading_periods),
    (re.compile(rf"/api/v1/courses/{_ID}/grading_standards"), list_grading_standards),
    (re.compile(rf"/api/v1/courses/{_ID}/grading_standards/{_ID}"), get_grading_standard),
]


def dispatch(request: ApiRequest) -> ApiResponse:
    """Route ``request`` (GET) to its handler; unknown paths are 404s."""
    path = request.path.rstrip("/") or "/"
    for pattern, handler in ROUTES:
        match = pattern.fullmatch(path)
        if match:
            try:
                with request.student.lock:
                    return handler(request, *match.groups())
            except InvalidPage as exc:
                raise ApiError(400, {"errors": [{"message": str(exc)}]}) from None
    raise not_found()
