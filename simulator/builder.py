"""Builds one student's synthetic gradebook, deterministically from a seeded ``random``."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

from simulator import features
from simulator.catalog import (
    ASCII_COURSES,
    STUDENT_NAMES,
    TIME_ZONES,
    UNICODE_COURSES,
    UNWEIGHTED_TEMPLATES,
    WEIGHTED_TEMPLATES,
    item_for,
)
from simulator.model import (
    Assignment,
    Course,
    Group,
    Submission,
    Term,
    UserInfo,
    grade_string,
)
from simulator.specs import CourseSpec, IdAllocator

# The school calendar: three terms a year, with breaks between them (UTC; 06:00Z is
# midnight in the central US). A term runs from its first day to the end of its last day.
TERMS: tuple[tuple[str, tuple[int, int], tuple[int, int]], ...] = (
    ("Spring", (1, 11), (5, 15)),  # winter break before it: 19 Dec to 10 Jan
    ("Summer", (6, 1), (8, 8)),
    ("Fall", (8, 20), (12, 19)),
)


def semesters(anchor: datetime) -> list[tuple[str, datetime, datetime]]:
    """The terms that have begun by ``anchor``'s day, newest first.

    The first one contains ``anchor`` during a term and has ended during a break, as on a
    real school's calendar: a test that needs a term in progress pins the clock inside one.
    """
    result: list[tuple[str, datetime, datetime]] = []
    for year in range(anchor.year, anchor.year - 9, -1):
        for season, (start_month, start_day), (end_month, end_day) in reversed(TERMS):
            start = datetime(year, start_month, start_day, 6, tzinfo=UTC)
            end = datetime(year, end_month, end_day, 5, 59, 59, tzinfo=UTC)
            if start.date() <= anchor.date():  # a term that begins later today counts
                result.append((f"{season} {year}", start, end))
    return result


class Builder:
    """Generates one student's data; every random choice comes from ``self.rng``."""

    def __init__(self, preset: str, seed: int, ids: IdAllocator, anchor: datetime) -> None:
        self.rng = random.Random(f"{preset}:{seed}")
        self.ids = ids
        self.anchor = anchor
        self.cap = anchor - timedelta(minutes=5)  # generated history ends before "today"
        self.user_id = ids.next("user")
        self.name_uses: dict[str, int] = {}
        self.shard = 0  # the shard of the course being built

    # -- terms and user ------------------------------------------------------------------
    def terms(self, count: int, *, default_term: bool) -> list[Term]:
        terms = []
        for name, start, end in semesters(self.anchor)[:count]:
            created = start - timedelta(days=120, hours=self.rng.randint(0, 48))
            terms.append(Term(self.ids.next("term"), name, start, end, created))
        if default_term:
            created = self.anchor - timedelta(days=1500)
            terms.append(Term(self.ids.next("term"), "Default Term", None, None, created))
        return terms

    def user(self, name: str | None) -> UserInfo:
        if name:
            first, _, last = name.rpartition(" ")
            first, last = (first, last) if first else (name, "")
        else:
            first, last = self.rng.choice(STUDENT_NAMES)
        full = f"{first} {last}".strip()
        login = (first[:1] + last.replace(" ", "").replace("'", "")).lower()[:8] or "student"
        login = f"{login}{self.user_id % 100}"
        return UserInfo(
            id=self.user_id, name=full, short_name=first,
            sortable_name=f"{last}, {first}" if last else first, first_name=first,
            last_name=last, login_id=login, email=f"{login}@students.example.edu",
            created_at=self.anchor - timedelta(days=400, seconds=self.rng.randint(0, 86400)),
        )

    # -- courses --------------------------------------------------------------------------
    def course_name(self, unicode_name: bool) -> tuple[str, str]:
        name, code = self.rng.choice(UNICODE_COURSES if unicode_name else ASCII_COURSES)
        uses = self.name_uses.get(name, 0)
        self.name_uses[name] = uses + 1
        if uses:
            return f"{name} (Sec {uses + 1:03d})", f"{code}-{uses + 1:03d}"
        return name, code

    def course(self, spec: CourseSpec, name: str, code: str) -> Course:
        rng = self.rng
        term = spec.term
        start = term.start_at or self.anchor - timedelta(days=60)
        end = term.end_at or self.anchor + timedelta(days=60)
        self.shard = spec.shard
        course = Course(
            id=self.ids.next("course", spec.shard), name=name, course_code=code, term=term,
            apply_group_weights=spec.weighted,
            enrollment_id=self.ids.next("enrollment", self.shard),
            section_id=self.ids.next("section", self.shard),
            created_at=start - timedelta(days=rng.randint(30, 90)),
            enrollment_created_at=start - timedelta(days=rng.randint(5, 30)),
            start_at=start if rng.random() < 0.5 or term.start_at is None else None,
            end_at=None, hide_final_grades=spec.hide_final_grades,
            restricted=spec.restricted,
            enrollment_type=spec.role, nickname=spec.nickname,
            time_zone=rng.choice(TIME_ZONES), default_view=rng.choice(("modules", "wiki", "feed")),
            course_color=rng.choice((None, "#0B874B", "#BD3C14")),
            locale="fr" if name.startswith(("É", "F", "Ca")) else None,
            uuid=uuid.UUID(int=rng.getrandbits(128)).hex,
        )
        if spec.concluded and spec.ended == "teacher":
            course.workflow_state = "completed"
        elif spec.concluded and spec.ended == "registrar":
            course.enrollment_state = "completed"
        course.enrollment_updated_at = course.enrollment_created_at
        features.add_grading_standard(course, rng, self.ids, spec.scheme)
        self._groups(course, spec)
        self._assignments(course, spec, start, end)
        if spec.periods:
            features.add_grading_periods(course, self.ids, self.anchor,
                                         weighted=spec.periods == "weighted", shard=spec.shard,
                                         level=spec.period_level,
                                         totals_for_all=spec.totals_for_all_periods)
        features.apply_late_deduction(course)
        if spec.force_features:
            features.add_pending_review(course, rng)
        if spec.graded_after_end:
            features.grade_after_end(course, rng)
        if spec.showcase and spec.periods:
            features.grade_each_period(course, self.anchor)
        return course

    def _groups(self, course: Course, spec: CourseSpec) -> None:
        rng = self.rng
        templates = WEIGHTED_TEMPLATES if spec.weighted else UNWEIGHTED_TEMPLATES
        template = list(rng.choice(templates))
        if spec.force_features or rng.random() < 0.4:
            template.append(("Extra Credit", 0.0))
        for position, (name, weight) in enumerate(template, start=1):
            group = Group(self.ids.next("group", self.shard), name, position, weight)
            course.groups[group.id] = group

    def _assignments(self, course: Course, spec: CourseSpec, start: datetime,
                     end: datetime) -> None:
        groups = course.sorted_groups()
        regular = [g for g in groups if g.name != "Extra Credit"]
        extra = [g for g in groups if g.name == "Extra Credit"]
        n_extra = min(len(extra) * 2, max(spec.n_assignments // 10, 1)) if extra else 0
        n_regular = max(spec.n_assignments - n_extra, len(regular))
        # Exams get few items; everything else shares the rest round-robin.
        counts = {g.id: 0 for g in groups}
        exams = [g for g in regular if "Exam" in g.name]
        others = [g for g in regular if g not in exams] or exams
        for g in exams:
            counts[g.id] = 1 if g.name == "Final Exam" else min(3, max(1, n_regular // 8))
        remaining = n_regular - sum(counts.values())
        for index in range(max(remaining, 0)):
            counts[others[index % len(others)].id] += 1
        if extra:
            counts[extra[0].id] = max(n_extra, 2) if spec.showcase else n_extra
        span = (end - start).total_seconds()
        index = 0
        for group in groups:
            for k in range(1, counts[group.id] + 1):
                index += 1
                fraction = index / (sum(counts.values()) + 1)
                due = start + timedelta(seconds=span * fraction)
                due = due.replace(hour=5, minute=59, second=59, microsecond=0)
                self._add_assignment(course, group, k, due)
        if spec.showcase:
            self._showcase(course, start)
        self._apply_rules(course)
        self._unpublished(course)
        self._submissions(course, spec)

    def _add_assignment(self, course: Course, group: Group, k: int, due: datetime) -> None:
        rng = self.rng
        name, points, grading_type, omit = item_for(rng, group.name, k)
        due_at: datetime | None = due
        if group.name in ("Final Exam", "Exams") and k == 1 and rng.random() < 0.3:
            name, due_at = f"{name} (date TBA)", None
        if group.name == "Participation" and k == 2:
            name, points = "Reading reflection (ungraded)", None
        created = course.created_at + timedelta(days=rng.randint(1, 20), seconds=k * 37)
        updated = min(created + timedelta(days=rng.randint(0, 40), minutes=rng.randint(0, 900)),
                      self.cap)
        assignment = Assignment(
            id=self.ids.next("assignment", self.shard), course_id=course.id,
            group_id=group.id, name=name,
            position=k, points_possible=points, grading_type=grading_type, due_at=due_at,
            created_at=created, updated_at=max(updated, created),
            submission=Submission(self.ids.next("submission", self.shard)),
            description=rng.choice((None, "<p>Complete the worksheet.</p>",
                                    f"<p>Read chapter {k}.</p>")),
            omit_from_final_grade=omit,
            submission_types=["online_quiz"] if "Quiz" in name else ["online_upload"],
        )
        course.assignments[assignment.id] = assignment

    def _showcase(self, course: Course, start: datetime) -> None:
        """Add the edge cases a client must survive, if chance left any out."""
        items = list(course.assignments.values())
        groups = [g for g in course.sorted_groups() if "Exam" not in g.name
                  and g.name != "Extra Credit"] or course.sorted_groups()
        home = groups[0]
        position = 1 + max((a.position for a in items if a.group_id == home.id), default=0)
        due = (start + timedelta(days=3)).replace(hour=5, minute=59, second=59)
        if not any(a.points_possible is None for a in items):
            self._add_assignment(course, home, position, due)
            added = list(course.assignments.values())[-1]
            added.name, added.points_possible = "Reading reflection (ungraded)", None
            position += 1
        if not any(a.grading_type == "pass_fail" and a.points_possible for a in items):
            self._add_assignment(course, home, position, due)
            added = list(course.assignments.values())[-1]
            added.name, added.points_possible = "Syllabus check-in ✔", 5.0
            added.grading_type = "pass_fail"
        if not any(a.due_at is None for a in items):
            exams = [a for a in items if "Exam" in a.name or "Midterm" in a.name] or items
            exams[-1].due_at = None
            exams[-1].name = f"{exams[-1].name} (date TBA)"

    def _apply_rules(self, course: Course) -> None:
        rng = self.rng
        for group in course.groups.values():
            members = sorted((a for a in course.assignments.values() if a.group_id == group.id),
                             key=lambda a: a.position)
            if len(members) < 3:
                continue
            if group.name in ("Quizzes", "Homework", "Labs") and rng.random() < 0.7:
                group.drop_lowest = 1 if len(members) < 6 else 2
                if group.name != "Quizzes":
                    group.never_drop = [members[0].id]
            elif group.name in ("Assignments", "Participation") and rng.random() < 0.25:
                group.drop_highest = 1

    def _unpublished(self, course: Course) -> None:
        """A few unpublished drafts: invisible to the student, they make short pages."""
        candidates = [a for a in course.assignments.values()
                      if a.due_at is not None and a.points_possible is not None]
        for assignment in self.rng.sample(candidates, min(len(candidates) // 8 + 1, 3)):
            assignment.published = False
            assignment.name = f"{assignment.name} (draft)"

    # -- submissions ----------------------------------------------------------------------
    def _submissions(self, course: Course, spec: CourseSpec) -> None:
        rng = self.rng
        ability = rng.uniform(0.62, 0.98)
        states = {}
        for a in course.assignments.values():
            states[a.id] = self._pick_state(a, spec)
        if spec.force_features:
            self._force_states(course, states)
        for a in course.assignments.values():
            self._fill_submission(a, states[a.id], ability)
            if states[a.id] == "unposted":
                a.post_manually = True

    def _pick_state(self, a: Assignment, spec: CourseSpec) -> str:
        r = self.rng.random()
        if not a.published or a.points_possible is None:
            return "unsubmitted" if r < 0.7 else "submitted"
        if a.due_at is None:
            return "graded" if r < 0.5 else "unsubmitted"
        if a.due_at > self.cap:
            return "unsubmitted" if r < 0.85 else "submitted"
        if spec.concluded:
            return ("graded" if r < 0.9 else "excused" if r < 0.94
                    else "missing" if r < 0.97 else "late")
        for state, bound in (("graded", 0.70), ("unposted", 0.76), ("excused", 0.80),
                             ("missing", 0.87), ("late", 0.93)):
            if r < bound:
                return state
        return "submitted"

    def _force_states(self, course: Course, states: dict[int, str]) -> None:
        """Make sure the course shows every interesting state at least once."""
        eligible = [a for a in course.visible_assignments()
                    if a.due_at is not None and a.due_at < self.cap and a.points_possible
                    and a.grading_type == "points" and not a.omit_from_final_grade]
        wanted = [s for s in ("excused", "missing", "unposted", "late")
                  if s not in states.values()]
        taken = {a.id for a in eligible if states[a.id] != "graded"}
        pool = [a for a in eligible if a.id not in taken]
        for state, assignment in zip(wanted, self.rng.sample(pool, min(len(wanted), len(pool))),
                                     strict=False):
            states[assignment.id] = state

    def _fill_submission(self, a: Assignment, state: str, ability: float) -> None:
        rng, sub = self.rng, a.submission
        due = a.due_at or a.created_at + timedelta(days=14)
        if state in ("unsubmitted", "missing"):
            if state == "missing":
                sub.missing, sub.late_policy_status = True, "missing"
            return
        if state == "excused":
            sub.excused, sub.workflow_state = True, "graded"
            sub.graded_at = self._clamp(due + timedelta(days=rng.randint(1, 6)))
            sub.posted_at, sub.grader_id = sub.graded_at, 5512
            return
        sub.attempt = 1
        sub.submission_type = a.submission_types[0]
        if state == "late":
            sub.late, sub.seconds_late = True, rng.randint(600, 250000)
            sub.submitted_at = self._clamp(due + timedelta(seconds=sub.seconds_late))
        else:
            sub.submitted_at = self._clamp(due - timedelta(minutes=rng.randint(5, 4000)))
        if state == "submitted":
            sub.workflow_state = "submitted"
            return
        sub.score = self._score(a, ability)
        sub.entered_score = sub.score
        sub.grade = grade_string(sub.score, a.grading_type, a.points_possible)
        sub.workflow_state = "graded"
        sub.grader_id = -30177 if "Quiz" in a.name else 5512
        sub.graded_at = self._clamp(sub.submitted_at + timedelta(hours=rng.randint(2, 120)))
        if sub.graded_at < sub.submitted_at:
            sub.graded_at = sub.submitted_at
        sub.posted_at = None if state == "unposted" else sub.graded_at

    def _score(self, a: Assignment, ability: float) -> float:
        points = a.points_possible or 0.0
        if a.grading_type == "pass_fail":
            return points if self.rng.random() < 0.9 else 0.0
        if not points:
            return float(self.rng.choice((1, 2, 3, 5)))  # extra credit on a 0-point item
        fraction = min(1.08, max(0.0, self.rng.gauss(ability, 0.12)))
        return round(points * fraction * 2) / 2

    def _clamp(self, value: datetime) -> datetime:
        return min(value, self.cap)
