"""Dashboard, course page and what-if views, on rows written straight into the database."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

import clock
from app import grades
from app.accounts import create_user
from app.models import Assignment, Course, GradeCategory, Term
from app.pages.dashboard.view_data import build_dashboard
from tests.auth_actions import sign_in
from tests.sync_helpers import add_fake_connection, connection_id_for

NOW = clock.now()
_ids = iter(range(1000, 10**6))




# The course's own grading scheme (Canvas's grading standard): A >= 90 ... F.
SCHEME: list[list[Any]] = [["A", 0.9], ["B", 0.8], ["C", 0.7], ["D", 0.6], ["F", 0.0]]


def make_course(db: Any, user: Any, *, name: str, term: Term | None = None,
                weighted: bool = True, canvas_score: float | None = None,
                scheme: list[list[Any]] | None = SCHEME) -> Course:
    """A course with two groups: Homework 40% (drop lowest 1) and Exams 60%."""
    course = Course(user_id=user.id, connection_id=connection_id_for(user),
                    term_id=term.id if term else None,
                    canvas_course_id=next(_ids), name=name,
                    course_code=name[:6].upper(), apply_group_weights=weighted,
                    canvas_current_score=canvas_score, last_synced_canvas=NOW,
                    # Canvas sends its own letter wherever the course has a scheme.
                    canvas_current_grade=grades.scheme_letter(canvas_score,
                                                              grades.parse_scheme(scheme)),
                    grading_standard_id=1 if scheme else None, grading_scheme=scheme)
    db.session.add(course)
    db.session.flush()
    homework = GradeCategory(course_id=course.id, canvas_group_id=1, name="Homework",
                             weight=40.0, position=1, drop_lowest=1, drop_highest=0,
                             never_drop=[])
    exams = GradeCategory(course_id=course.id, canvas_group_id=2, name="Exams", weight=60.0,
                          position=2, never_drop=[])
    db.session.add_all([homework, exams])
    db.session.flush()

    def item(group: GradeCategory, cid: int, name: str, points: float, score: float | None,
             **extra: Any) -> Assignment:
        return Assignment(course_id=course.id, grade_category_id=group.id,
                          canvas_assignment_id=cid, canvas_course_id=course.canvas_course_id,
                          name=name, position=cid, points_possible=points, score=score,
                          grading_type="points", due_at=NOW - timedelta(days=30 - cid),
                          **extra)

    db.session.add_all([
        item(homework, 11, "HW 1", 10, 10),
        item(homework, 12, "HW 2", 10, 8, is_late=True),
        item(homework, 13, "HW 3", 10, 0, is_missing=True),       # dropped as the lowest
        item(homework, 14, "HW 4", 10, None, is_excused=True),
        item(exams, 21, "Midterm", 100, 70),
        item(exams, 22, "Final Exam", 100, None),                  # not graded yet
        item(exams, 23, "Quiz (hidden)", 20, None, workflow_state="graded",
             graded_at=NOW),
    ])
    db.session.commit()
    return course


@pytest.fixture
def student(app: Any, db: Any) -> Any:
    user = create_user("a@example.edu", "correct horse battery")
    add_fake_connection(user)
    return user


def test_dashboard_requires_login(client: Any) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_not_connected_user_is_sent_to_settings(client: Any, db: Any) -> None:
    create_user("new@example.edu", "correct horse battery")
    sign_in(client, "new@example.edu")
    page = client.get("/").get_data(as_text=True)
    assert "Connect your Canvas account" in page
    assert 'href="/settings' in page
    assert "Sync Canvas" not in page


def test_terms_current_first_then_newest_default_last(app: Any, db: Any, student: Any) -> None:
    old = Term(user_id=student.id, connection_id=connection_id_for(student),
               canvas_term_id=1, name="Fall 2020",
               start_at=NOW - timedelta(days=1500), end_at=NOW - timedelta(days=1400))
    newer = Term(user_id=student.id, connection_id=connection_id_for(student),
                 canvas_term_id=2, name="Spring 2024",
                 start_at=NOW - timedelta(days=400), end_at=NOW - timedelta(days=300))
    current = Term(user_id=student.id, connection_id=connection_id_for(student),
                   canvas_term_id=3, name="This Term",
                   start_at=NOW - timedelta(days=20), end_at=NOW + timedelta(days=60))
    default = Term(user_id=student.id, connection_id=connection_id_for(student),
                   canvas_term_id=4, name="Default Term")
    db.session.add_all([old, newer, current, default])
    db.session.commit()
    for term, name in ((old, "Old"), (default, "Club"), (current, "Now"), (newer, "Newer")):
        make_course(db, student, name=name, term=term)

    view = build_dashboard(student)
    assert [t.name for t in view.terms] == ["This Term", "Spring 2024", "Fall 2020",
                                            "Other courses"]
    assert view.terms[0].is_current and not view.terms[1].is_current


def test_dashboard_shows_both_scores_when_they_differ(client: Any, db: Any,
                                                      student: Any) -> None:
    # Ours: homework (10+8)/20 = 90% after dropping the 0; exams 70% -> 0.4*90 + 0.6*70 = 78.
    make_course(db, student, name="Biology", canvas_score=78.0)
    make_course(db, student, name="Chemistry", canvas_score=81.5)
    sign_in(client, "a@example.edu")
    page = client.get("/").get_data(as_text=True)
    assert "Sync Canvas" in page and 'name="csrf_token"' in page
    biology = page[page.index("Biology"):page.index("Chemistry")]
    assert "78.00%" in biology and "Canvas:" not in biology
    assert re.search(r"<td[^>]*>C</td>", biology)  # the letter cell (labelled for phones)
    chemistry = page[page.index("Chemistry"):]
    assert "78.00%" in chemistry and "(Canvas: 81.50%)" in chemistry
    assert "Canvas shows 81.50%, GradeSync computes 78.00%" in chemistry  # explained


def test_no_letter_without_the_courses_own_scheme(client: Any, db: Any, student: Any) -> None:
    make_course(db, student, name="Biology", canvas_score=78.0, scheme=None)
    sign_in(client, "a@example.edu")
    page = client.get("/").get_data(as_text=True)
    biology = page[page.index("Biology"):]
    assert "78.00%" in biology and not re.search(r"<td[^>]*>C</td>", biology)


def test_course_page_groups_badges_and_grade(client: Any, db: Any, student: Any) -> None:
    course = make_course(db, student, name="Biology", canvas_score=78.0)
    sign_in(client, "a@example.edu")
    page = client.get(f"/courses/{course.id}").get_data(as_text=True)
    assert "Homework" in page and "40% of the grade" in page
    assert "Drops the lowest score" in page
    for badge in ("Missing", "Late", "Excused", "Not graded yet", "Grade hidden", "Dropped"):
        assert badge in page, badge
    assert "78.00%" in page
    assert "90.00%" in page  # homework average after the drop
    # "What do I need?" defaults to the ungraded final.
    selected = re.search(r'<option value="(\d+)" selected>([^<]+)</option>', page)
    assert selected and selected.group(2) == "Final Exam"


def test_what_if_recomputes_without_touching_data(client: Any, db: Any, student: Any) -> None:
    course = make_course(db, student, name="Biology")
    final = db.session.scalar(db.select(Assignment).where(Assignment.name == "Final Exam"))
    sign_in(client, "a@example.edu")
    response = client.post(f"/courses/{course.id}/what-if",
                           json={"scores": {str(final.id): 100}})
    assert response.status_code == 200
    data = response.get_json()
    assert data["current"]["percent"] == pytest.approx(78.0)
    # Exams become (70 + 100) / 200 = 85%: 0.4 * 90 + 0.6 * 85 = 87.
    assert data["what_if"]["percent"] == pytest.approx(87.0)
    assert data["what_if"]["letter"] == "B"
    assert data["changed"] is True
    db.session.expire_all()
    assert db.session.get(Assignment, final.id).score is None


def test_what_if_needed_score(client: Any, db: Any, student: Any) -> None:
    course = make_course(db, student, name="Biology")
    final = db.session.scalar(db.select(Assignment).where(Assignment.name == "Final Exam"))
    sign_in(client, "a@example.edu")
    data = client.post(f"/courses/{course.id}/what-if", json={
        "scores": {}, "target": {"assignment_id": final.id, "percent": "90"}}).get_json()
    # 0.4 * 90 + 0.6 * (70 + x) / 200 * 100 >= 90  ->  x >= 110: out of reach.
    assert data["needed"]["score"] is None
    assert "Even full marks" in data["needed"]["message"]
    data = client.post(f"/courses/{course.id}/what-if", json={
        "scores": {}, "target": {"assignment_id": final.id, "percent": 80}}).get_json()
    # 0.4 * 90 + 0.6 * (70 + x) / 2 >= 80  ->  x >= 76.67
    assert data["needed"]["score"] == pytest.approx(76.67)
    assert "76.67 / 100" in data["needed"]["message"]


def test_what_if_rejects_bad_input(client: Any, db: Any, student: Any) -> None:
    course = make_course(db, student, name="Biology")
    sign_in(client, "a@example.edu")
    url = f"/courses/{course.id}/what-if"
    assert client.post(url, data="not json").status_code == 400
    data = client.post(url, json={"scores": {"999999": 5, "abc": 1}}).get_json()
    assert len(data["errors"]) == 2 and data["changed"] is False
    midterm = db.session.scalar(db.select(Assignment).where(Assignment.name == "Midterm"))
    data = client.post(url, json={"scores": {str(midterm.id): "lots"}}).get_json()
    assert "Midterm" in data["errors"][0]


def test_what_if_requires_csrf_token(app: Any, client: Any, db: Any, student: Any) -> None:
    course = make_course(db, student, name="Biology")
    sign_in(client, "a@example.edu")
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = client.post(f"/courses/{course.id}/what-if", json={"scores": {}})
        assert response.status_code == 400
        page = client.get(f"/courses/{course.id}").get_data(as_text=True)
        token = re.search(r'data-csrf-token="([^"]+)"', page).group(1)
        response = client.post(f"/courses/{course.id}/what-if", json={"scores": {}},
                               headers={"X-CSRFToken": token})
        assert response.status_code == 200
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


@pytest.mark.parametrize("method, path", [
    ("get", "/courses/{id}"),
    ("post", "/courses/{id}/what-if"),
])
def test_other_users_course_is_404(client: Any, db: Any, student: Any, method: str,
                                   path: str) -> None:
    course = make_course(db, student, name="Biology")
    create_user("b@example.edu", "correct horse battery")
    sign_in(client, "b@example.edu")
    response = getattr(client, method)(path.format(id=course.id), json={"scores": {}})
    assert response.status_code == 404
    assert client.get("/").get_data(as_text=True).count("Biology") == 0


def test_dashboard_explains_a_rejected_token(client: Any, db: Any, student: Any) -> None:
    from app.models import SyncRun

    db.session.add(SyncRun(user_id=student.id, status="failed", finished_at=NOW,
                           error="Canvas rejected the access token for canvas.example.edu: "
                                 "create a new token in Canvas.",
                           summary={"status": "failed", "error_kind": "invalid_token"}))
    db.session.commit()
    sign_in(client, "a@example.edu")
    page = client.get("/").get_data(as_text=True)
    assert "The last sync failed: Canvas rejected the access token" in page
    assert "Update your Canvas token in Settings" in page


def test_dashboard_follows_a_running_sync(client: Any, db: Any, student: Any) -> None:
    from app.models import SyncRun

    step = {"connection_id": 1, "course_id": 9, "name": "Art", "index": 1, "total": 4,
            "assignments": 3, "rows_written": 4, "run_done": 1, "run_total": 4}
    run = SyncRun(user_id=student.id, status="running", started_at=NOW, phase="writing",
                  courses_done=1, courses_total=4, message="[1/4] Syncing course: Art",
                  summary={"steps": [step]})
    db.session.add(run)
    db.session.commit()
    sign_in(client, "a@example.edu")
    page = client.get("/").get_data(as_text=True)
    assert f'data-status-url="/sync/{run.id}/status.json"' in page
    # The run's course step (data, not the log's "[1/4] Syncing course: Art") reads as words.
    assert 'value="25"' in page and "Syncing Art — 1 of 4" in page
    assert "[1/4]" not in page
