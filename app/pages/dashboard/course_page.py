"""The course page's view model and the what-if calculator behind it.

Grades come from :mod:`app.grades` only; what-if scores are applied to an in-memory copy of
the inputs, so the synced rows are never touched.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from app import grades
from app.extensions import db
from app.models import Assignment, Course, GradeCategory, User
from app.pages.inputs import parse_id

# What-if scores above this are typos, not extra credit.
MAX_WHAT_IF_SCORE = 100_000.0


@dataclass
class AssignmentView:
    id: int
    name: str
    due_at: datetime | None
    score: float | None
    points_possible: float | None
    grade: str | None
    grading_type: str | None
    badges: list[tuple[str, str]]  # (css kind, label)
    counts: bool
    dropped: bool


@dataclass
class GroupView:
    id: int | None
    name: str
    weight: float | None
    effective_weight: float | None
    rules: list[str]
    percent: float | None
    earned: float | None
    possible: float | None
    assignments: list[AssignmentView] = field(default_factory=list)


@dataclass
class CoursePage:
    id: int
    name: str
    code: str | None
    apply_group_weights: bool
    canvas_score: float | None
    canvas_final_score: float | None
    our_score: float | None
    our_final_score: float | None
    letter: str | None
    differs: bool
    last_synced: datetime | None
    concluded: bool
    groups: list[GroupView]
    targets: list[tuple[int, str]]  # assignments a "what do I need" question can be about
    default_target: int | None


def load_rows(course: Course) -> tuple[list[GradeCategory], list[Assignment]]:
    groups = db.session.scalars(
        select(GradeCategory)
        .where(GradeCategory.course_id == course.id)
        .order_by(GradeCategory.position, GradeCategory.id)
    ).all()
    assignments = db.session.scalars(
        select(Assignment)
        .where(Assignment.course_id == course.id)
        .order_by(Assignment.position, Assignment.due_at, Assignment.id)
    ).all()
    return list(groups), list(assignments)


def badges(assignment: Assignment) -> list[tuple[str, str]]:
    """The labels a student needs next to an assignment's score."""
    found: list[tuple[str, str]] = []
    if assignment.is_excused:
        found.append(("excused", "Excused"))
    if assignment.is_missing:
        found.append(("missing", "Missing"))
    if assignment.is_late:
        found.append(("late", "Late"))
    if assignment.score is None and not assignment.is_excused and not assignment.is_missing:
        # Canvas removes the score of a graded-but-unposted submission: it exists, hidden.
        hidden = assignment.workflow_state == "graded" or assignment.graded_at is not None
        found.append(("ungraded", "Grade hidden" if hidden else "Not graded yet"))
    if assignment.omit_from_final_grade or assignment.grading_type == "not_graded":
        found.append(("ungraded", "Not counted"))
    return found


def group_rules(group: GradeCategory, names: dict[int, str]) -> list[str]:
    """Drop rules in words: 'Drops the lowest 2 scores', 'Never drops: Midterm'."""
    rules = []
    if group.drop_lowest:
        rules.append(f"Drops the lowest {_scores(group.drop_lowest)}")
    if group.drop_highest:
        rules.append(f"Drops the highest {_scores(group.drop_highest)}")
    keep = [names[cid] for cid in group.never_drop or () if cid in names]
    if keep and (group.drop_lowest or group.drop_highest):
        rules.append("Never drops: " + ", ".join(keep))
    return rules


def _scores(count: int) -> str:
    return "score" if count == 1 else f"{count} scores"


def build_course_page(course: Course) -> CoursePage:
    from app.pages.dashboard.service import latest, scores_differ

    groups, assignments = load_rows(course)
    inputs_groups, inputs_items = grades.from_rows(groups, assignments)
    result = grades.course_grade(inputs_groups, inputs_items, course.apply_group_weights)
    names = {a.canvas_assignment_id: a.name for a in assignments}
    dropped = {i for g in result.groups for i in g.current.dropped}

    views: dict[int | None, GroupView] = {}
    for group in groups:
        breakdown = result.group(group.id).current
        views[group.id] = GroupView(
            id=group.id,
            name=group.name,
            weight=group.weight,
            effective_weight=breakdown.effective_weight if course.apply_group_weights else None,
            rules=group_rules(group, names),
            percent=breakdown.percent,
            earned=breakdown.earned,
            possible=breakdown.possible,
        )
    for assignment in assignments:
        key = assignment.grade_category_id if assignment.grade_category_id in views else None
        if key not in views:
            views[None] = GroupView(None, "Not in any group (not counted)", None, None, [],
                                    None, None, None)
        item_badges = badges(assignment)
        if assignment.id in dropped:
            item_badges.append(("ungraded", "Dropped"))
        views[key].assignments.append(AssignmentView(
            id=assignment.id,
            name=assignment.name,
            due_at=assignment.due_at,
            score=assignment.score,
            points_possible=assignment.points_possible,
            grade=assignment.grade,
            grading_type=assignment.grading_type,
            badges=item_badges,
            counts=key is not None and not (assignment.omit_from_final_grade
                                            or assignment.grading_type == "not_graded"),
            dropped=assignment.id in dropped,
        ))

    targets = [(a.id, a.name) for group in views.values() for a in group.assignments
               if a.counts and (a.points_possible or 0) > 0]
    ungraded = [a for group in views.values() for a in group.assignments
                if a.counts and a.score is None and (a.points_possible or 0) > 0]
    # "What do I need on the final?": prefer an ungraded final, else any ungraded item.
    final = next((a for a in ungraded if "final" in a.name.lower()), None)
    default = final or (ungraded[-1] if ungraded else None)
    shown = result.current_percent
    return CoursePage(
        id=course.id,
        name=course.name,
        code=course.course_code,
        apply_group_weights=course.apply_group_weights,
        canvas_score=course.canvas_current_score,
        canvas_final_score=course.canvas_final_score,
        our_score=shown,
        our_final_score=result.final_percent,
        letter=grades.letter_grade(shown) if shown is not None else None,
        differs=scores_differ(course.canvas_current_score, shown),
        last_synced=latest(course.last_synced_canvas, user_synced_at(course.user_id)),
        concluded=course.concluded,
        groups=list(views.values()),
        targets=targets,
        default_target=default.id if default else None,
    )


def user_synced_at(user_id: int) -> datetime | None:
    return db.session.scalar(select(User.last_canvas_sync_at).where(User.id == user_id))


# --- What-if --------------------------------------------------------------------------------


def parse_score(value: Any) -> float | None:
    """A what-if score from the browser: a number (or numeric text); None for blank."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValueError("not a number")
    number = float(value.strip() if isinstance(value, str) else value)
    if not math.isfinite(number) or not 0 <= number <= MAX_WHAT_IF_SCORE:
        raise ValueError("out of range")
    return number


def what_if(course: Course, scores: Any, target: Any = None) -> dict[str, Any]:
    """The course grade with hypothetical scores, and optionally the score a target needs.

    Args:
        scores: ``{assignment id: score}`` (ids as numbers or strings; blank means "as is").
        target: ``{"assignment_id": id, "percent": 90}`` for "what do I need on it?".
    """
    groups, assignments = load_rows(course)
    by_id = {a.id: a for a in assignments}
    overrides: dict[int, float] = {}
    errors: list[str] = []
    for key, value in (scores or {}).items() if isinstance(scores, dict) else ():
        try:
            assignment = by_id[parse_id(key)]
        except (KeyError, ValueError):
            errors.append("An assignment in the form is not part of this course.")
            continue
        try:
            score = parse_score(value)
        except (TypeError, ValueError, OverflowError):
            errors.append(f"“{assignment.name}”: enter a number from 0 to "
                          f"{MAX_WHAT_IF_SCORE:g}.")
            continue
        if score is not None:
            overrides[assignment.id] = score

    group_inputs, item_inputs = grades.from_rows(groups, assignments)
    actual = grades.course_grade(group_inputs, item_inputs, course.apply_group_weights)
    hypothetical = grades.course_grade(
        group_inputs, item_inputs, course.apply_group_weights, what_if=overrides or None
    )
    return {
        "current": _grade_json(actual),
        "what_if": _grade_json(hypothetical),
        "changed": _rounded(actual.current_percent) != _rounded(hypothetical.current_percent),
        "errors": errors,
        "needed": _needed(course, group_inputs, item_inputs, by_id, overrides, target),
    }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _grade_json(result: grades.GradeResult) -> dict[str, Any]:
    percent = result.current_percent
    return {
        "percent": percent,
        "final_percent": result.final_percent,
        "letter": grades.letter_grade(percent) if percent is not None else None,
        "groups": [{"id": g.group.id, "percent": g.current.percent} for g in result.groups],
    }


def _needed(
    course: Course,
    group_inputs: list[grades.GradeGroup],
    item_inputs: list[grades.GradeItem],
    by_id: dict[int, Assignment],
    overrides: dict[int, float],
    target: Any,
) -> dict[str, Any] | None:
    """Answer "what do I need on <assignment> for <target %>?", or None if not asked."""
    if not isinstance(target, dict):
        return None
    try:
        assignment = by_id[parse_id(target.get("assignment_id"))]
        percent = float(target.get("percent"))
    except (KeyError, TypeError, ValueError, OverflowError):
        return {"score": None, "message": "Choose an assignment and a target percentage."}
    if not math.isfinite(percent) or not 0 <= percent <= 1000:
        return {"score": None, "message": "Enter a target percentage such as 90."}
    others = {k: v for k, v in overrides.items() if k != assignment.id}
    score = grades.needed_score(
        group_inputs, item_inputs, course.apply_group_weights, assignment.id, percent,
        what_if=others or None,
    )
    points = assignment.points_possible or 0
    target_text = f"{percent:g}%"
    if score is None:
        message = (f"Even full marks on “{assignment.name}” would not bring the course to "
                   f"{target_text}.")
    elif score == 0:
        message = f"Any score on “{assignment.name}” keeps the course at {target_text} or above."
    else:
        share = f" ({score / points * 100:.1f}%)" if points else ""
        message = (f"You need {score:g} / {points:g}{share} on “{assignment.name}” for "
                   f"{target_text}.")
    return {"assignment_id": assignment.id, "target": percent, "score": score,
            "message": message}
