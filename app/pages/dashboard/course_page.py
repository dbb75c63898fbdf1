"""The course page's view model: groups, assignments, badges and the course grade.

Grades come from :mod:`app.grades` only; the what-if calculator is :mod:`.what_if`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from app import grades
from app.extensions import db
from app.models import Assignment, CanvasConnection, Course, GradeCategory
from app.pages.dashboard.chart import Chart, grade_chart
from app.sync import history


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
    chart: Chart | None = None  # the course grade over time
    changes: list[history.Change] = field(default_factory=list)  # this course's ledger


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
        last_synced=latest(course.last_synced_canvas, connection_synced_at(course.connection_id)),
        concluded=course.concluded,
        groups=list(views.values()),
        targets=targets,
        default_target=default.id if default else None,
        chart=grade_chart(history.grade_series(course.user_id, course)),
        changes=history.feed(course.user_id, course_id=course.id, limit=50),
    )


def connection_synced_at(connection_id: int) -> datetime | None:
    """When the course's Canvas connection last synced successfully."""
    return db.session.scalar(
        select(CanvasConnection.last_synced_at).where(CanvasConnection.id == connection_id)
    )
