"""The grade ledger: each change a teacher makes in Canvas becomes exactly its events.

Against the Canvas simulator, on SQLite and Postgres. The first sync is the baseline (no
events); after a mutation, a full and an incremental sync record the same events; a sync with
nothing new records none.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import EVENT_KINDS, GradeEvent, utcnow
from tests.auth_actions import sign_in
from tests.conftest import connect_user
from tests.school_year import MIDTERM
from tests.sync.test_canvas_sync_service import succeeded, sync

# The ledger follows grade changes in a term in progress: the tests live mid-term.
pytestmark = pytest.mark.clock(MIDTERM)

Event = tuple[str, int, int | None]


def events(user_id: int) -> list[GradeEvent]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(GradeEvent).where(GradeEvent.user_id == user_id).order_by(GradeEvent.id)
        )
    )


def keys(user_id: int) -> set[Event]:
    return {(e.kind, e.canvas_course_id, e.canvas_assignment_id) for e in events(user_id)}


def first(student: Any, want: Any) -> tuple[int, int]:
    """A visible points assignment of a counted course matching ``want(expected row)``."""
    for cid, course in student.expected().items():
        if course["computed_current_score"] is None:
            continue
        for aid, a in course["assignments"].items():
            counts = a["points_possible"] and a["grading_type"] == "points"
            if counts and not a["omit_from_final_grade"] and want(a):
                return cid, aid
    raise LookupError("no such assignment in the preset")


def ungraded(a: dict[str, Any]) -> bool:
    return a["score"] is None and not a["excused"] and not a["missing"]


def graded(a: dict[str, Any]) -> bool:
    return a["score"] is not None and not a["excused"] and not a["missing"] and a["score"] > 2


def course_score(student: Any, cid: int) -> Any:
    return student.expected()[cid]["computed_current_score"]


def grade_moved(student: Any, cid: int, before: Any) -> set[Event]:
    """``course_grade_changed`` is expected exactly when Canvas's course score moved."""
    return set() if course_score(student, cid) == before else {("course_grade_changed", cid, None)}


# Each mutation: (name, pick, apply, kinds of the assignment's own events)
def _grade_new(s: Any, c: int, a: int) -> None:
    s.grade(c, a, 7)


def _regrade(s: Any, c: int, a: int) -> None:
    s.grade(c, a, s.expected()[c]["assignments"][a]["score"] - 1)


def _edit_due(s: Any, c: int, a: int) -> None:
    due = s.expected()[c]["assignments"][a]["due_at"] or utcnow()
    s.edit_assignment(c, a, due_at=due + timedelta(days=2))


def _edit_points(s: Any, c: int, a: int) -> None:
    points = s.expected()[c]["assignments"][a]["points_possible"]
    s.edit_assignment(c, a, points_possible=points + 5)


MUTATIONS: dict[str, tuple[Any, Any, tuple[str, ...]]] = {
    "grade_posted": (ungraded, _grade_new, ("grade_posted",)),
    "grade_changed": (graded, _regrade, ("grade_changed",)),
    "excused": (graded, lambda s, c, a: s.excuse(c, a), ("excused",)),
    "missing": (ungraded, lambda s, c, a: s.mark_missing(c, a), ("missing",)),
    "late_penalty": (graded, lambda s, c, a: s.apply_late_penalty(c, a, 1.5), ("late_penalty",)),
    "assignment_removed": (
        ungraded,
        lambda s, c, a: s.delete_assignment(c, a),
        ("assignment_removed",),
    ),
    "due_changed": (ungraded, _edit_due, ("due_changed",)),
    "points_changed": (graded, _edit_points, ("points_changed",)),
}


@pytest.mark.parametrize("incremental", [False, True], ids=["full", "incremental"])
@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_each_change_records_exactly_its_events(
    canvas_user: Any, name: str, incremental: bool
) -> None:
    user, student = canvas_user
    baseline = succeeded(sync(user))
    assert events(user.id) == [] and baseline["new_grades"] == 0
    pick, apply, kinds = MUTATIONS[name]
    cid, aid = first(student, pick)
    score_before = course_score(student, cid)
    apply(student, cid, aid)
    result = succeeded(sync(user, incremental=incremental))
    expected = {(kind, cid, aid) for kind in kinds} | grade_moved(student, cid, score_before)
    assert keys(user.id) == expected
    assert result["new_grades"] == (1 if "grade_posted" in kinds else 0)
    # Nothing new: nothing recorded, by either kind of sync.
    count = len(events(user.id))
    succeeded(sync(user))
    succeeded(sync(user, incremental=True))
    assert len(events(user.id)) == count


def test_a_grade_entered_weeks_ago_and_posted_now_is_a_new_grade(canvas_user: Any) -> None:
    user, student = canvas_user
    cid, aid = first(student, ungraded)
    student.grade(cid, aid, 9, posted=False)
    with student.lock:  # the teacher entered it three weeks ago (manual post policy)
        student.assignment(cid, aid).submission.graded_at = utcnow() - timedelta(weeks=3)
    succeeded(sync(user))
    assert events(user.id) == []
    before = course_score(student, cid)
    student.post_grade(cid, aid)
    result = succeeded(sync(user, incremental=True))
    assert keys(user.id) == {("grade_posted", cid, aid)} | grade_moved(student, cid, before)
    posted = next(e for e in events(user.id) if e.kind == "grade_posted")
    assert posted.before is None and posted.after["score"] == 9
    assert result["new_grades"] == 1


@pytest.mark.parametrize("incremental", [False, True], ids=["full", "incremental"])
def test_missing_cleared_added_and_course_events(canvas_user: Any, incremental: bool) -> None:
    user, student = canvas_user
    cid, aid = first(student, ungraded)
    student.mark_missing(cid, aid)
    restricted = next(c.id for c in student.courses.values() if c.restricted)
    succeeded(sync(user))
    student.mark_missing(cid, aid, missing=False)
    group = next(iter(student.expected()[cid]["groups"]))
    new_id = student.add_assignment(cid, group, "Lab 9: Enzymes")
    student.lift_restriction(restricted)
    other = next(c for c in student.expected() if c not in (cid, restricted))
    student.conclude_course(other)
    succeeded(sync(user, incremental=incremental))
    assert keys(user.id) == {
        ("missing_cleared", cid, aid),
        ("assignment_added", cid, new_id),
        ("course_added", restricted, None),
        ("course_concluded", other, None),
    }
    added = next(e for e in events(user.id) if e.kind == "assignment_added")
    assert added.after["name"] == "Lab 9: Enzymes"


def test_course_grade_before_and_after_rides_with_the_grade(canvas_user: Any) -> None:
    user, student = canvas_user
    succeeded(sync(user))
    cid, aid = first(student, ungraded)
    before = course_score(student, cid)
    student.grade(cid, aid, 10)
    succeeded(sync(user))
    moved = [e for e in events(user.id) if e.kind == "course_grade_changed"]
    assert len(moved) == 1
    assert moved[0].before["score"] == pytest.approx(before)
    assert moved[0].after["score"] == pytest.approx(course_score(student, cid))
    assert {e.at for e in events(user.id)} == {moved[0].at}  # one sync, one moment


def test_full_and_incremental_record_the_same_events(app: Any, simulator: Any) -> None:
    """Two identical students; the same changes; one syncs fully, the other incrementally."""
    recorded = []
    for n, incremental in enumerate((False, True)):
        user, student = connect_user(
            app, simulator, email=f"twin{n}@example.edu", token=f"tok-twin-{n}", seed=7
        )
        succeeded(sync(user))
        c1, a1 = first(student, ungraded)
        c2, a2 = first(student, graded)
        student.grade(c1, a1, 8)
        student.excuse(c2, a2)
        student.apply_late_penalty(*first(student, graded), 1)
        succeeded(sync(user, incremental=incremental))
        recorded.append(
            sorted(
                # The twins' Canvas ids differ: compare what changed, by name and value.
                (e.kind, json.dumps(e.before, sort_keys=True), json.dumps(e.after, sort_keys=True))
                for e in events(user.id)
            )
        )
    assert recorded[0] == recorded[1]
    assert len(recorded[0]) >= 3


def test_changes_cli_prints_events_oldest_first(runner: Any, canvas_user: Any) -> None:
    user, student = canvas_user
    succeeded(sync(user))
    cid, aid = first(student, ungraded)
    student.grade(cid, aid, 6)
    succeeded(sync(user))
    student.mark_missing(*first(student, ungraded))
    succeeded(sync(user))
    out = runner.invoke(args=["changes", user.email, "--json"])
    assert out.exit_code == 0, out.output
    rows = json.loads(out.output.strip().splitlines()[-1])
    assert [r["kind"] for r in rows if r["kind"] != "course_grade_changed"] == [
        "grade_posted",
        "missing",
    ]
    assert set(rows[0]) == {
        "kind",
        "canvas_course_id",
        "canvas_assignment_id",
        "before",
        "after",
        "at",
    }
    assert all(r["kind"] in EVENT_KINDS for r in rows)
    posted = next(r for r in rows if r["kind"] == "grade_posted")
    assert posted["canvas_assignment_id"] == aid and posted["after"]["score"] == 6
    assert posted["canvas_course_id"] == cid and posted["before"] is None
    assert [r["at"] for r in rows] == sorted(r["at"] for r in rows)
    later = runner.invoke(args=["changes", user.email, "--json", "--since", rows[-1]["at"]])
    assert [r["kind"] for r in json.loads(later.output.strip().splitlines()[-1])] == [
        r["kind"] for r in rows if r["at"] >= rows[-1]["at"]
    ]
    text = runner.invoke(args=["changes", user.email])
    assert "graded 6" in text.output
    bad = runner.invoke(args=["changes", user.email, "--since", "yesterday"])
    assert bad.exit_code != 0 and "ISO 8601" in bad.output
    unknown = runner.invoke(args=["changes", "nobody@example.edu"])
    assert unknown.exit_code == 1


# --- the pages --------------------------------------------------------------------------------


def text_of(html: str) -> str:
    """What a person reads: tags out, whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split()).replace(" ,", ",").replace(" :", ":")




def test_dashboard_and_course_page_show_the_changes_and_the_chart(
    client: Any, canvas_user: Any
) -> None:

    user, student = canvas_user
    succeeded(sync(user))
    cid, aid = first(student, ungraded)
    name = student.expected()[cid]["assignments"][aid]["name"]
    points = student.expected()[cid]["assignments"][aid]["points_possible"]
    before = course_score(student, cid)
    student.grade(cid, aid, 7)
    succeeded(sync(user))
    after = course_score(student, cid)
    sign_in(client, user)

    page = client.get("/")
    html = page.get_data(as_text=True)
    assert "What changed" in html
    course_name = student.expected()[cid]["name"]
    line = f"{name} graded 7/{points:g}, course {before:.1f}% → {after:.1f}%"
    feed = text_of(html.split("What changed", 1)[1].split("</section>", 1)[0])
    assert f"{course_name}: {line}" in feed

    local_id = db.session.scalar(
        select(GradeEvent.course_id).where(GradeEvent.canvas_course_id == cid)
    )
    page = client.get(f"/courses/{local_id}")
    html = page.get_data(as_text=True)
    csp = page.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp.split("style-src", 1)[-1].split(";", 1)[0]
    chart = html.split("<svg", 1)[1].split("</svg>", 1)[0]
    assert "data-chart-line" in chart and chart.count("<circle") >= 2
    assert f"{after:.1f}%" in chart and "style=" not in chart and "<script" not in chart
    assert line in text_of(html.split("Changes in this course", 1)[1])


def test_first_sync_shows_no_flood_of_changes(client: Any, canvas_user: Any) -> None:
    user, _student = canvas_user
    succeeded(sync(user))
    sign_in(client, user)
    assert "What changed" not in client.get("/").get_data(as_text=True)


def test_the_sync_page_headline_counts_new_grades(canvas_user: Any) -> None:
    from app import jobs
    from app.models import SyncRun
    from app.pages.sync.run_view import headline

    user, student = canvas_user

    def run_sync() -> int:
        run = jobs.create_sync_run(user.id, False)
        jobs.run_sync(user.id, run.id, False)
        return run.id

    run_sync()  # the baseline
    for _ in range(3):
        student.grade(*first(student, ungraded), 5)
    run_id = run_sync()
    db.session.expire_all()
    done = db.session.get(SyncRun, run_id)
    assert done is not None and done.status == "succeeded"
    assert headline(done).startswith(f"Checked {done.summary['courses']} courses")
    assert headline(done).endswith(". 3 new grades.")


# --- the comparisons themselves (app.sync.ledger) ---------------------------------------------


def _row(**fields: Any) -> dict[str, Any]:
    base = {"canvas_course_id": 1, "canvas_assignment_id": 2, "name": "Lab 4", "due_at": None,
            "points_possible": 20.0, "score": 18.0, "grade": "18", "is_excused": False,
            "is_missing": False, "points_deducted": None}
    return {**base, **fields}


def test_hiding_a_grade_or_a_course_total_is_not_a_change() -> None:
    from app.sync.ledger import assignment_changes, course_changes

    assert assignment_changes(_row(), _row(score=None, grade=None)) == []
    course = {"canvas_course_id": 1, "name": "Biology", "concluded": False,
              "canvas_current_score": 87.1, "canvas_current_grade": "B+"}
    hidden = {**course, "canvas_current_score": None, "canvas_current_grade": None}
    assert course_changes(course, hidden) == []
    assert [c.kind for c in course_changes(hidden, course)] == ["course_grade_changed"]


def test_a_late_deduction_is_a_penalty_and_lifting_it_a_regrade() -> None:
    from app.sync.ledger import assignment_changes

    late = _row(score=16.0, grade="16", points_deducted=2.0)
    applied = assignment_changes(_row(), late)
    assert [c.kind for c in applied] == ["late_penalty"]
    assert applied[0].after["points_deducted"] == 2.0 and applied[0].after["score"] == 16.0
    assert [c.kind for c in assignment_changes(late, _row(points_deducted=0.0))] == [
        "grade_changed"
    ]
    regraded_and_late = _row(score=12.0, points_deducted=2.0)
    assert sorted(c.kind for c in assignment_changes(_row(), regraded_and_late)) == [
        "grade_changed",
        "late_penalty",
    ]
