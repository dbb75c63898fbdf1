"""View models for the dashboard and the course page, built from the database.

Views stay thin: they call one function here and render what it returns. Every grade number
comes from :mod:`app.grades` (the one place the maths lives); this module only gathers rows,
orders them and labels them for people.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

import clock
from app.connections import ConnectionView, connection_views
from app.extensions import db
from app.grades import history, settling
from app.grades.check import CourseReport, course_reports
from app.grades.gpa import GpaReport, TermGpa
from app.grades.gpa_rows import student_gpa
from app.models import SyncRun, Term, User
from app.models.sync_run import ACTIVE_STATUSES
from app.pages.sync.run_view import has_synced, run_state

# --- Dashboard ------------------------------------------------------------------------------


@dataclass
class CourseRow:
    id: int
    name: str
    code: str | None
    canvas_score: float | None
    our_score: float | None
    letter: str | None
    differs: bool
    concluded: bool
    last_synced: datetime | None
    hidden: bool = False  # the teacher hid totals: ours is an estimate
    scope: str | None = None  # the period shown when Canvas shows no all-periods total
    explanation: str | None = None  # why ours and Canvas's differ, for the student
    # Ours and Canvas's differ right after a grade change: Canvas may still be updating its
    # total (app.grades.settling), so it is not flagged yet; the note says so.
    settling: str | None = None
    # The Canvas instance's label, when the student has more than one connection.
    instance: str | None = None
    # Since when no Canvas list shows the course (Canvas has not said it is gone): kept as is.
    missing_since: datetime | None = None


@dataclass
class TermSection:
    name: str
    is_current: bool
    start_at: datetime | None
    end_at: datetime | None
    courses: list[CourseRow] = field(default_factory=list)
    is_past: bool = False  # ended before today: folded away under "Past terms"
    gpa: TermGpa | None = None  # the term's GPA (app.grades.gpa), when it has one


@dataclass
class Dashboard:
    connected: bool
    canvas_url: str | None
    terms: list[TermSection]
    course_count: int
    has_synced: bool
    active_run: dict[str, Any] | None
    last_run: dict[str, Any] | None
    last_synced: datetime | None
    changes: list[history.Change] = field(default_factory=list)  # "What changed", newest first
    # Each connection's name, status and token expiry (for the reconnect and expiry banners).
    connections: list[ConnectionView] = field(default_factory=list)
    gpa: GpaReport | None = None  # term and cumulative GPA, as the GPA page computes them

    @property
    def shown_terms(self) -> list[TermSection]:
        """The terms shown open: current, coming and undated ones; if every term has ended,
        the most recent one."""
        open_terms = [t for t in self.terms if not t.is_past]
        return open_terms or self.terms[:1]

    @property
    def past_terms(self) -> list[TermSection]:
        """The terms folded away under "Past terms", newest first."""
        shown = {id(t) for t in self.shown_terms}
        return [t for t in self.terms if id(t) not in shown]

    @property
    def past_course_count(self) -> int:
        return sum(len(t.courses) for t in self.past_terms)

    @property
    def needs_reconnect(self) -> list[ConnectionView]:
        return [c for c in self.connections if c.status == "needs_reconnect"]

    @property
    def expiring(self) -> list[ConnectionView]:
        return [c for c in self.connections if c.status == "expiring"]


def is_current_term(term: Term | None, now: datetime) -> bool:
    """A term is current when today falls between its start and end (open ends count)."""
    if term is None or (term.start_at is None and term.end_at is None):
        return False
    starts_ok = term.start_at is None or term.start_at <= now
    ends_ok = term.end_at is None or now <= term.end_at
    return starts_ok and ends_ok


def _is_default_term(term: Term | None) -> bool:
    return term is None or term.name.strip().lower() in {"default term", "default"}


def term_sort_key(term: Term | None, now: datetime) -> tuple[int, float, str]:
    """Current terms first, then newest start first; undated and "Default Term" last."""
    if _is_default_term(term):
        return (3, 0.0, "")
    assert term is not None  # narrowed by _is_default_term
    if is_current_term(term, now):
        rank = 0
    elif term.start_at is not None:
        rank = 1
    else:
        rank = 2
    start = -term.start_at.timestamp() if term.start_at is not None else 0.0
    return (rank, start, term.name.lower())


def build_dashboard(user: User, now: datetime | None = None) -> Dashboard:
    """Terms (current first) with their courses and grades, plus the sync state."""
    now = now or clock.now()
    reports = course_reports(db.session, user.id)
    courses = [r.course for r in reports]
    terms = {
        t.id: t for t in db.session.scalars(select(Term).where(Term.user_id == user.id)).all()
    }
    connections = connection_views(user.id, now)
    labels = {c.id: c.label for c in connections} if len(connections) > 1 else {}
    synced = {c.id: c.last_synced_at for c in connections}

    sections: dict[int | None, TermSection] = {}
    for report in reports:
        course = report.course
        term = terms.get(course.term_id) if course.term_id is not None else None
        key = term.id if term is not None and not _is_default_term(term) else None
        if key not in sections:
            sections[key] = TermSection(
                name=term.name if key is not None and term is not None else "Other courses",
                is_current=is_current_term(term, now) if key is not None else False,
                start_at=term.start_at if term is not None else None,
                end_at=term.end_at if term is not None else None,
                is_past=bool(key is not None and term is not None and term.end_at is not None
                             and term.end_at < now),
            )
        row = course_row(report, synced.get(course.connection_id))
        row.instance = labels.get(course.connection_id)
        sections[key].courses.append(row)
    ordered = sorted(
        sections.items(),
        key=lambda item: term_sort_key(terms.get(item[0]) if item[0] is not None else None, now),
    )

    runs = db.session.scalars(
        select(SyncRun)
        .where(SyncRun.user_id == user.id)
        .order_by(SyncRun.created_at.desc(), SyncRun.id.desc())
        .limit(1)
    ).all()
    last = runs[0] if runs else None
    gpa = student_gpa(db.session, user.id)[0] if courses else None
    by_term = {t.term: t for t in gpa.terms} if gpa is not None else {}
    for section in sections.values():
        section.gpa = by_term.get(section.name)
    return Dashboard(
        connected=user.canvas_connected,
        canvas_url=", ".join(c.url for c in connections if c.url and c.status != "disconnected")
        or None,
        terms=[section for _key, section in ordered],
        course_count=len(courses),
        has_synced=has_synced(user.id),
        active_run=run_state(last) if last is not None and last.status in ACTIVE_STATUSES
        else None,
        last_run=run_state(last) if last is not None else None,
        last_synced=latest(*synced.values(),
                           *(c.last_synced_canvas for c in courses)),
        changes=history.feed(user.id),
        connections=connections,
        gpa=gpa,
    )


def latest(*moments: datetime | None) -> datetime | None:
    """The most recent of the given times, ignoring missing ones."""
    return max((m for m in moments if m is not None), default=None)


def course_row(report: CourseReport, user_synced: datetime | None) -> CourseRow:
    """One course on the dashboard: the grades shown (ours, Canvas's, the letter) and why."""
    course = report.course
    period = report.current_period
    if not report.shows_total and period is not None:
        # Canvas shows no total over all periods: the current period's, as Canvas's pages do.
        canvas, ours, letter = period.canvas_current_score, period.current_score, \
            period.canvas_letter
    elif not report.shows_total:
        canvas = ours = letter = None
    else:
        canvas, ours, letter = report.canvas_current_score, report.current_score, report.letter
    return CourseRow(
        id=course.id,
        name=course.name,
        code=course.course_code,
        canvas_score=canvas,
        our_score=ours,
        letter=letter,
        scope=None if report.shows_total else (period.title if period else None),
        differs=report.flagged,
        concluded=course.concluded,
        # The row's own stamp moves only when its data changed; a later successful sync that
        # found it unchanged still confirmed it.
        last_synced=latest(course.last_synced_canvas, user_synced),
        hidden=report.hidden,
        explanation=explain(report) if report.flagged else None,
        settling=SETTLING_NOTE if report.settling else None,
        missing_since=course.missing_since,
    )


_GRACE_MINUTES = int(settling.RECOMPUTE_GRACE.total_seconds() // 60)
SETTLING_NOTE = (
    "A grade changed just before the last sync, and Canvas updates its course total a little "
    "after a grade changes, so Canvas's number may not include it yet. GradeSync shows a "
    "difference only if it is still there at the next sync, or once the newest grade is "
    f"over {_GRACE_MINUTES} minutes old.")
_WHY = {
    settling.PERSISTED: "It was already there at the sync before, with no grade change since, "
                        "so it is not Canvas still updating its total. ",
    settling.AGED: f"The newest grade was over {_GRACE_MINUTES} minutes old when Canvas's "
                   "total was read, so Canvas had time to update it. ",
}


def explain(report: CourseReport) -> str:
    """Why our score and Canvas's differ, in the student's words."""
    parts = []
    if report.course_differs:
        parts.append(_gap("Course", report.canvas_current_score, report.current_score))
    period = report.current_period
    if period is not None and report.period_differs:
        parts.append(_gap(period.title, period.canvas_current_score, period.current_score))
    why = _WHY.get(report.difference_status or "", "")
    return ("; ".join(parts) + ". " + why + "Usually a grade changed in Canvas after the last "
            "sync (sync again), or the teacher set a rule GradeSync cannot see; Canvas's number "
            "is the official one.")


def _gap(what: str, canvas: float | None, ours: float | None) -> str:
    if ours is None:
        return f"{what}: Canvas shows {canvas:.2f}% but GradeSync has no graded work to count"
    return f"{what}: Canvas shows {canvas:.2f}%, GradeSync computes {ours:.2f}%"
