"""The course page's view model: groups, assignments, badges, the course grade and its periods.

Grades come from :mod:`app.grades` through the grade check's report
(:func:`app.grades.check.build_report`), the same numbers the dashboard and ``flask grades``
show; the what-if calculator is :mod:`.what_if`. A course with grading periods opens on the
current period (as Canvas's Grades page does); ``?period=<id>`` or ``?period=all`` switch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

import clock
from app import grades
from app.extensions import db
from app.grades import history
from app.grades.check import CourseReport, build_report, scores_differ
from app.models import (
    Assignment,
    CanvasConnection,
    Course,
    GradeCategory,
    GradingPeriod,
    User,
)
from app.pages.dashboard.chart import Chart, grade_chart

ALL_PERIODS = "all"


@dataclass
class AssignmentView:
    id: int
    name: str
    due_at: datetime | None
    score: float | None
    points_possible: float | None
    entered_score: float | None  # before a late or missing deduction
    points_deducted: float | None
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
class PeriodLink:
    """One entry of the period switcher (``key``: the Canvas id, or ``"all"``)."""

    key: str
    title: str
    weight: float | None
    is_closed: bool
    is_current: bool
    selected: bool
    score: float | None  # ours
    canvas_score: float | None


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
    hidden: bool  # the teacher hid totals: ours is an estimate, nothing "differs"
    last_synced: datetime | None
    concluded: bool
    periods: list[PeriodLink]
    selected_period: str | None  # a PeriodLink key; None without grading periods
    period_title: str | None
    period_score: float | None
    period_final_score: float | None
    period_canvas_score: float | None
    period_differs: bool
    weighted_periods: bool
    shows_total: bool  # False: Canvas shows no total over all periods (nor do we)
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


def load_periods(course: Course) -> list[GradingPeriod]:
    return list(db.session.scalars(
        select(GradingPeriod).where(GradingPeriod.course_id == course.id)
        .order_by(GradingPeriod.start_date, GradingPeriod.id)
    ))


def course_report(course: Course, what_if: dict[int, float | None] | None = None
                  ) -> tuple[CourseReport, list[Assignment]]:
    """The course's grade report (``what_if``: assignment row id -> score) and its rows."""
    groups, assignments = load_rows(course)
    return build_report(course, groups, assignments, load_periods(course), what_if), assignments


def choose_period(report: CourseReport, asked: str | None, now: datetime | None = None
                  ) -> int | None:
    """The period to show: the one asked for, else the current one; None = all periods."""
    ids = {p.id for p in report.periods}
    if not ids or (asked == ALL_PERIODS and report.shows_total):
        return None
    if asked is not None and asked.isdigit() and int(asked) in ids:
        return int(asked)
    if report.current_period is not None:
        return report.current_period.id
    current = grades.current_period(report.inputs[2], now or clock.now())
    if current is None and not report.shows_total:  # no "all periods" view: the last one
        current = report.inputs[2][-1]
    return current.id if current is not None else None


def scoped(report: CourseReport, period_id: int | None
           ) -> tuple[float | None, float | None, grades.GradeResult]:
    """(current %, final %, group breakdown) of one period, or of the whole course."""
    result = report.result
    if isinstance(result, grades.PeriodsResult):
        if period_id is not None:
            graded = result.period(period_id).result
            return graded.current_percent, graded.final_percent, graded
        return result.current_percent, result.final_percent, result.all_assignments
    return result.current_percent, result.final_percent, result


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
    if assignment.omit_from_final_grade or _not_graded(assignment):
        found.append(("ungraded", "Not counted"))
    return found


def _not_graded(assignment: Assignment) -> bool:
    """Canvas leaves it out of the grade as not graded (decided by its submission types)."""
    return grades.not_graded(grades.split_types(assignment.submission_types),
                             assignment.grading_type)


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


def build_course_page(course: Course, period: str | None = None) -> CoursePage:
    from app.pages.dashboard.view_data import latest

    groups, _ = load_rows(course)
    report, assignments = course_report(course)
    selected = choose_period(report, period)
    result = scoped(report, selected)[2]  # the group breakdown of what is shown
    if selected is not None:
        assignments = [a for a in assignments if a.grading_period_id == selected]
    chosen = next((p for p in report.periods if p.id == selected), None)
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
            entered_score=assignment.entered_score,
            points_deducted=assignment.points_deducted,
            grade=assignment.grade,
            grading_type=assignment.grading_type,
            badges=item_badges,
            counts=key is not None and not (assignment.omit_from_final_grade
                                            or _not_graded(assignment)),
            dropped=assignment.id in dropped,
        ))

    targets = [(a.id, a.name) for group in views.values() for a in group.assignments
               if a.counts and (a.points_possible or 0) > 0]
    ungraded = [a for group in views.values() for a in group.assignments
                if a.counts and a.score is None and (a.points_possible or 0) > 0]
    # "What do I need on the final?": prefer an ungraded final, else any ungraded item.
    final = next((a for a in ungraded if "final" in a.name.lower()), None)
    default = final or (ungraded[-1] if ungraded else None)
    links = [
        PeriodLink(str(p.id), p.title, p.weight, p.is_closed, p.is_current, p.id == selected,
                   p.current_score, p.canvas_current_score)
        for p in report.periods
    ]
    if links and report.shows_total:  # Canvas hides it otherwise (CourseReport.shows_total)
        links.append(PeriodLink(ALL_PERIODS, "All grading periods", None, False, False,
                                selected is None, report.current_score,
                                report.canvas_current_score))
    return CoursePage(
        id=course.id,
        name=course.name,
        code=course.course_code,
        apply_group_weights=course.apply_group_weights,
        canvas_score=report.canvas_current_score,
        canvas_final_score=None if report.hidden else course.canvas_final_score,
        our_score=report.current_score if report.shows_total else None,
        our_final_score=report.final_score if report.shows_total else None,
        letter=(chosen.canvas_letter if chosen else None) if not report.shows_total
        else report.letter,
        differs=report.course_differs and not report.settling,
        hidden=report.hidden,
        last_synced=latest(course.last_synced_canvas, connection_synced_at(course.connection_id)),
        concluded=course.concluded,
        periods=links,
        selected_period=(str(selected) if selected is not None else ALL_PERIODS) if links
        else None,
        period_title=chosen.title if chosen else None,
        period_score=chosen.current_score if chosen else None,
        period_final_score=chosen.final_score if chosen else None,
        period_canvas_score=chosen.canvas_current_score if chosen else None,
        period_differs=bool(chosen and not report.hidden and not report.settling
                            and scores_differ(chosen.canvas_current_score, chosen.current_score)),
        weighted_periods=course.has_weighted_grading_periods,
        shows_total=report.shows_total,
        groups=list(views.values()),
        targets=targets,
        default_target=default.id if default else None,
        chart=grade_chart(history.grade_series(course.user_id, course), _zone_of(course)),
        changes=history.feed(course.user_id, course_id=course.id, limit=50),
    )


def _zone_of(course: Course) -> str | None:
    """The student's chosen time zone: the chart's dates read in it, as the page's do."""
    return db.session.scalar(select(User.time_zone).where(User.id == course.user_id))


def connection_synced_at(connection_id: int) -> datetime | None:
    """When the course's Canvas connection last synced successfully."""
    return db.session.scalar(
        select(CanvasConnection.last_synced_at).where(CanvasConnection.id == connection_id)
    )
