"""The scores Canvas shows a student, from the oracle in :mod:`simulator.scoring`.

Only what the student can see goes in: unposted grades count as ungraded, pending-review
submissions are flagged, and each assignment carries the grading period of its submission.
Results are cached on the course until a mutation calls ``course.touch()``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import clock
from simulator.model import Course, GradingPeriod, scheme_letter
from simulator.scoring import canvas_period_scores, canvas_scores

Scores = tuple[float | None, float | None]


def scoring_input(course: Course) -> dict[str, Any]:
    """The course as ``scoring.canvas_scores`` takes it: only what the student can see."""
    groups = []
    for group in course.sorted_groups():
        assignments = []
        for a in course.visible_assignments():
            if a.group_id != group.id:
                continue
            sub = a.submission
            assignments.append({
                "id": a.id, "points_possible": a.points_possible,
                "omit_from_final_grade": a.omit_from_final_grade,
                "score": sub.visible_score,  # hidden (unposted) scores count as ungraded
                # An unposted submission is ignored, excused or not (canvas-lms
                # GradeCalculator#ignore_submission?): 0 of its points in the final score.
                "excused": sub.excused and sub.posted, "grading_type": a.grading_type,
                "submission_types": list(a.submission_types),
                "pending_review": sub.workflow_state == "pending_review",
                "grading_period_id": a.grading_period_id,
            })
        groups.append({
            "id": group.id, "weight": group.weight,
            "rules": {"drop_lowest": group.drop_lowest, "drop_highest": group.drop_highest,
                      "never_drop": sorted(group.never_drop)},
            "assignments": assignments,
        })
    return {
        "apply_group_weights": course.apply_group_weights, "groups": groups,
        "grading_periods": [{"id": p.id, "weight": p.weight} for p in course.grading_periods],
        "weighted_grading_periods": course.weighted_grading_periods,
    }


def _cache(course: Course) -> dict[str, Any]:
    lagging = course.lagging_scores
    if lagging is not None and course.changed_at is not None:
        if (clock.now() - course.changed_at).total_seconds() < course.recompute_delay:
            return lagging  # Canvas's recompute job has not run yet
        course.lagging_scores = None
    if course.scores_cache is None:
        source = scoring_input(course)
        course.scores_cache = {"course": canvas_scores(source),
                               "periods": canvas_period_scores(source)}
    return course.scores_cache


def course_scores(course: Course) -> Scores:
    """(computed_current_score, computed_final_score); (None, None) for non-students."""
    if not course.is_student:
        return None, None
    return _cache(course)["course"]


def period_scores(course: Course) -> dict[int, Scores]:
    """Each grading period's (current, final) score, keyed by period id."""
    if not course.is_student:
        return {p.id: (None, None) for p in course.grading_periods}
    return _cache(course)["periods"]


def letters(course: Course, scores: Scores) -> tuple[str | None, str | None]:
    """The course scheme's letters for two scores; None when the course has no scheme."""
    scheme = course.grading_standard.scheme if course.grading_standard else None
    return scheme_letter(scores[0], scheme), scheme_letter(scores[1], scheme)


def course_letters(course: Course) -> tuple[str | None, str | None]:
    return letters(course, course_scores(course))


def current_period(course: Course, now: datetime | None = None) -> GradingPeriod | None:
    """The grading period today falls in, if any."""
    now = now or clock.now()
    return next((p for p in course.grading_periods if p.start_date <= now < p.end_date), None)
