"""Canvas JSON for the simulator's objects, as a *student* token sees it (CANVAS_API.md §3).

``base`` is the scheme and host the client used, for the html_url-style fields.
"""

from __future__ import annotations

from simulator.model import (
    DEFAULT_STANDARD,
    Assignment,
    Course,
    GradingPeriod,
    Submission,
    Term,
    UserInfo,
    iso,
)
from simulator.totals import course_scores, current_period, letters, period_scores

ROLES = {  # enrollment type -> (role, role_id); a user enrolls as only one here
    "student": ("StudentEnrollment", 3), "ta": ("TaEnrollment", 4),
    "teacher": ("TeacherEnrollment", 5), "designer": ("DesignerEnrollment", 6),
    "observer": ("ObserverEnrollment", 7),
}

# Score keys Canvas removes (not nulls) while a grade is hidden from the student.
HIDDEN_SUBMISSION_KEYS = ("score", "grade", "entered_score", "entered_grade")


def term_json(term: Term, course: Course | None = None) -> dict:
    # The term's group only (lib/api/v1/enrollment_term.rb): a course-level group is not it.
    term_group = course is not None and course.period_group_level == "term"
    return {
        "id": term.id, "name": term.name, "start_at": iso(term.start_at),
        "end_at": iso(term.end_at), "created_at": iso(term.created_at),
        "workflow_state": "active",
        "grading_period_group_id": course.grading_period_group_id if term_group and course
        else None,
    }


def listed_period_json(period: GradingPeriod) -> dict:
    """A period of the course list's ``include[]=grading_periods``: canvas-lms
    ``lib/api/v1/course.rb`` ``course_json`` serializes
    ``course.enrollment_term&.grading_period_group&.grading_periods`` with
    ``only: %w[id title start_date end_date workflow_state]`` (no weight, close date or
    ``is_closed``, and the term's group only)."""
    return {
        "id": period.id, "title": period.title, "start_date": iso(period.start_date),
        "end_date": iso(period.end_date), "workflow_state": "active",
    }


def grading_period_json(period: GradingPeriod, course: Course) -> dict:
    """A period of ``GET /courses/:id/grading_periods``: canvas-lms
    ``app/serializers/grading_period_serializer.rb`` (id, grading_period_group_id, start_date,
    end_date, close_date, weight, title, permissions, is_closed) plus ``is_last``
    (``app/models/grading_period.rb``: ``alias_method :is_last, :last?``, the period of the
    group with the latest end date)."""
    last = max(course.grading_periods, key=lambda p: p.end_date)
    return {
        "id": period.id, "grading_period_group_id": course.grading_period_group_id,
        "title": period.title, "start_date": iso(period.start_date),
        "end_date": iso(period.end_date), "close_date": iso(period.close_date),
        "weight": period.weight, "is_closed": period.is_closed, "is_last": period is last,
        "permissions": {"read": True, "create": False, "update": False, "delete": False},
    }


def scheme_data(course: Course) -> list[list]:
    """``include[]=grading_scheme`` on a course: canvas-lms ``lib/api/v1/course.rb``
    ``course_json``: ``course.grading_standard_or_default.data``, ``[[name, lower bound],
    ...]`` highest first; Canvas's default scheme when the course has none of its own."""
    standard = course.grading_standard
    scheme = standard.scheme if standard is not None else DEFAULT_STANDARD
    return [[name, value] for name, value in scheme]


def grading_standard_json(course: Course) -> dict:
    """The course's GradingStandard (grading standards API)."""
    standard = course.grading_standard
    assert standard is not None
    return {
        "id": standard.id, "title": standard.title, "context_type": standard.context_type,
        "context_id": course.id, "points_based": False, "scaling_factor": 1.0,
        "grading_scheme": [{"name": name, "value": value} for name, value in standard.scheme],
    }


def enrollment_brief(course: Course, user_id: int, includes: set[str]) -> dict:
    """An item of a course's ``enrollments[]``; only student enrollments carry scores."""
    role, role_id = ROLES[course.enrollment_type]
    item: dict = {
        "type": course.enrollment_type, "role": role, "role_id": role_id, "user_id": user_id,
        "enrollment_state": course.listed_enrollment_state,
        "limit_privileges_to_course_section": False,
    }
    if not course.is_student:
        return item
    if "total_scores" in includes and not course.hide_final_grades:
        scores = course_scores(course)
        current_letter, final_letter = letters(course, scores)
        item.update({
            "computed_current_score": scores[0], "computed_final_score": scores[1],
            "computed_current_grade": current_letter, "computed_final_grade": final_letter,
            "computed_current_letter_grade": current_letter,
        })
    if "current_grading_period_scores" in includes:
        period = current_period(course)
        item.update({
            "has_grading_periods": bool(course.grading_periods),
            "multiple_grading_periods_enabled": bool(course.grading_periods),
            # lib/api/v1/course_json.rb current_grading_period_scores: the group's "Display
            # Totals for 'All Grading Periods'" setting. The computed_* totals are still sent;
            # Canvas's pages hide them (GradebooksController#exclude_total?).
            "totals_for_all_grading_periods_option": course.totals_for_all_periods,
            "current_grading_period_title": period.title if period else None,
            "current_grading_period_id": period.id if period else None,
        })
        if not course.hide_final_grades:
            scores = period_scores(course)[period.id] if period else (None, None)
            current_letter, final_letter = letters(course, scores)
            item.update({
                "current_period_computed_current_score": scores[0],
                "current_period_computed_final_score": scores[1],
                "current_period_computed_current_grade": current_letter,
                "current_period_computed_final_grade": final_letter,
            })
    return item


def role_brief(course: Course, role_type: str, user_id: int) -> dict:
    """Another enrollment of the same user in the course (one per role, as Canvas lists
    them in ``enrollments[]``); no scores: only a student enrollment has them."""
    role, role_id = ROLES[role_type]
    return {"type": role_type, "role": role, "role_id": role_id, "user_id": user_id,
            "enrollment_state": course.listed_enrollment_state,
            "limit_privileges_to_course_section": False}


def course_json(course: Course, user_id: int, includes: set[str], base: str, *,
                enrolled: bool = True) -> dict:
    """A course of ``/courses``; restricted courses shrink to two keys.

    ``enrolled=False``: ``"enrollments": []`` (``GET /courses/:id`` of a completed enrollment,
    see ``simulator.lists.current_enrollment``).
    """
    if course.restricted:
        return {"id": course.id, "access_restricted_by_date": True}
    body: dict = {
        "id": course.id, "name": course.display_name, "account_id": 112, "uuid": course.uuid,
        "start_at": iso(course.start_at), "grading_standard_id": course.grading_standard_id,
        "is_public": False, "created_at": iso(course.created_at),
        "course_code": course.course_code, "default_view": course.default_view,
        "root_account_id": 1, "enrollment_term_id": course.term.id, "license": "private",
        "grade_passback_setting": None, "end_at": iso(course.end_at),
        "public_syllabus": False, "public_syllabus_to_auth": False, "storage_quota_mb": 1000,
        "is_public_to_auth_users": False, "homeroom_course": False,
        "course_color": course.course_color, "friendly_name": None,
        "apply_assignment_group_weights": course.apply_group_weights,
        "calendar": {"ics": f"{base}/feeds/calendars/course_{course.uuid}.ics"},
        "time_zone": course.time_zone, "blueprint": False, "template": False,
        "enrollments": [enrollment_brief(course, user_id, includes),
                        *(role_brief(course, role, user_id) for role in course.extra_roles)]
        if enrolled else [],
        "hide_final_grades": course.hide_final_grades,
        "workflow_state": course.workflow_state,
        "restrict_enrollments_to_course_dates": False,
    }
    if course.nickname:
        body["original_name"] = course.name
    if course.locale:
        body["locale"] = course.locale
    if "term" in includes:
        body["term"] = term_json(course.term, course)
    if "grading_periods" in includes:
        body["grading_periods"] = ([listed_period_json(p) for p in course.grading_periods]
                                   if course.period_group_level == "term" else None)
    if "grading_scheme" in includes:
        body["grading_scheme"] = scheme_data(course)
    if "current_grading_period_scores" in includes:
        body["has_grading_periods"] = bool(course.grading_periods)
        body["multiple_grading_periods_enabled"] = bool(course.grading_periods)
        body["has_weighted_grading_periods"] = course.weighted_grading_periods
    if "concluded" in includes:
        body["concluded"] = course.concluded
    return body


def submission_json(assignment: Assignment, user_id: int, base: str) -> dict:
    sub: Submission = assignment.submission
    body: dict = {
        "id": sub.id, "user_id": user_id, "assignment_id": assignment.id, "url": None,
        "score": sub.score, "grade": sub.grade, "entered_score": sub.entered_score,
        "entered_grade": sub.grade, "excused": sub.excused, "attempt": sub.attempt,
        "submission_type": sub.submission_type, "submitted_at": iso(sub.submitted_at),
        "body": None, "graded_at": iso(sub.graded_at),
        "grade_matches_current_submission": True, "grader_id": sub.grader_id,
        "workflow_state": sub.workflow_state, "late_policy_status": sub.late_policy_status,
        "points_deducted": sub.points_deducted,
        "grading_period_id": assignment.grading_period_id,
        "cached_due_date": iso(assignment.due_at), "extra_attempts": None,
        "posted_at": iso(sub.posted_at), "redo_request": False, "sticker": None,
        "custom_grade_status_id": None, "late": sub.late, "missing": sub.missing,
        "seconds_late": sub.seconds_late,
        "preview_url": (f"{base}/courses/{assignment.course_id}/assignments/{assignment.id}"
                        f"/submissions/{user_id}?preview=1&version={sub.attempt or 0}"),
    }
    if sub.hidden:
        for key in HIDDEN_SUBMISSION_KEYS:
            del body[key]
    elif sub.excused:
        body["score"] = body["grade"] = body["entered_score"] = body["entered_grade"] = None
    return body


def assignment_json(assignment: Assignment, user_id: int, base: str, *,
                    submission: bool = False, description: bool = True) -> dict:
    a = assignment
    body: dict = {
        "id": a.id, "name": a.name, "description": a.description,
        "created_at": iso(a.created_at), "updated_at": iso(a.updated_at),
        "due_at": iso(a.due_at), "lock_at": None, "unlock_at": None, "has_overrides": False,
        "course_id": a.course_id, "html_url": f"{base}/courses/{a.course_id}/assignments/{a.id}",
        "assignment_group_id": a.group_id, "points_possible": a.points_possible,
        "grading_type": a.grading_type, "grading_standard_id": None,
        "submission_types": list(a.submission_types), "position": a.position,
        "published": a.published, "unpublishable": False,
        "only_visible_to_overrides": not a.assigned,
        "locked_for_user": False, "omit_from_final_grade": a.omit_from_final_grade,
        "hide_in_gradebook": False, "muted": a.post_manually, "post_manually": a.post_manually,
        "anonymous_grading": False, "moderated_grading": False, "allowed_attempts": -1,
        "has_submitted_submissions": a.submission.submitted_at is not None,
        "is_quiz_assignment": "online_quiz" in a.submission_types,
        "workflow_state": "published" if a.published else "unpublished",
        "in_closed_grading_period": a.in_closed_period,
    }
    if not description:
        del body["description"]
    # Only the caller's own active submission, and only where one exists: an assignment for
    # other students has none (canvas-lms Api::V1::Assignment#submissions_hash, then
    # assignment_json renders "submission" only ``if (submission = opts[:submission])``).
    if submission and a.assigned:
        body["submission"] = submission_json(a, user_id, base)
    return body


def group_json(course: Course, group_id: int, assignments: list[Assignment] | None,
               user_id: int, base: str, *, submission: bool, description: bool) -> dict:
    group = course.groups[group_id]
    body: dict = {
        "id": group.id, "name": group.name, "position": group.position,
        "group_weight": group.weight, "sis_source_id": None, "integration_data": {},
        "rules": group.rules(),
    }
    if assignments is not None:
        body["assignments"] = [
            assignment_json(a, user_id, base, submission=submission, description=description)
            for a in assignments
        ]
        body["any_assignment_in_closed_grading_period"] = any(
            a.in_closed_period for a in assignments)
    return body


def user_json(user: UserInfo, base: str) -> dict:
    return {
        "id": user.id, "name": user.name, "created_at": iso(user.created_at),
        "sortable_name": user.sortable_name, "short_name": user.short_name,
        "avatar_url": f"{base}/images/messages/avatar-50.png", "last_name": user.last_name,
        "first_name": user.first_name, "locale": None, "effective_locale": "en",
        "permissions": {"can_update_name": False, "can_update_avatar": True,
                        "limit_parent_app_web_access": False},
    }


def profile_json(user: UserInfo, base: str) -> dict:
    return {
        "id": user.id, "name": user.name, "short_name": user.short_name,
        "sortable_name": user.sortable_name, "title": None, "bio": None,
        "pronunciation": None, "primary_email": user.email, "login_id": user.login_id,
        "sis_user_id": None, "time_zone": user.time_zone, "locale": None,
        "calendar": {"ics": f"{base}/feeds/calendars/user_{user.id}.ics"},
        "lti_user_id": f"lti-{user.id:08d}", "avatar_url": f"{base}/images/messages/avatar-50.png",
        "pronouns": None, "k5_user": False, "use_classic_font_in_k5": False,
    }


def enrollment_json(course: Course, user: UserInfo, base: str) -> dict:
    """An item of the student's own ``/users/self/enrollments``.

    CL ``lib/api/v1/user.rb#enrollment_json``: ``enrollment_state`` is the enrollment's
    ``workflow_state``; only a student enrollment has ``grades`` (``grades_hash``), and for the
    student's own enrollment the scores are there only while the course does not hide totals
    (``grade_permissions?``): with ``hide_final_grades`` only ``html_url`` is left.
    """
    role, role_id = ROLES[course.enrollment_type]
    body = {
        "id": course.enrollment_id, "user_id": user.id, "course_id": course.id,
        "type": role, "created_at": iso(course.enrollment_created_at),
        "updated_at": iso(course.enrollment_updated_at), "associated_user_id": None,
        "start_at": None, "end_at": None, "course_section_id": course.section_id,
        "root_account_id": 1, "limit_privileges_to_course_section": False,
        "enrollment_state": course.listed_enrollment_state, "role": role, "role_id": role_id,
        "last_activity_at": None, "last_attended_at": None, "total_activity_time": 0,
        "html_url": f"{base}/courses/{course.id}/users/{user.id}",
        "user": {"id": user.id, "name": user.name, "created_at": iso(user.created_at),
                 "sortable_name": user.sortable_name, "short_name": user.short_name},
    }
    if course.is_student:
        grades: dict = {"html_url": f"{base}/courses/{course.id}/grades/{user.id}"}
        if not course.hide_final_grades:
            scores = course_scores(course)
            current_letter, final_letter = letters(course, scores)
            grades.update({"current_grade": current_letter, "current_score": scores[0],
                           "final_grade": final_letter, "final_score": scores[1]})
        body["grades"] = grades
    return body
