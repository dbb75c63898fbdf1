"""What a student reads (issue 13): what-if units and limits, stated assumptions, plain sync
results, an honest disconnect and the demo's Canvas, without a browser."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from app.accounts import create_user
from app.models import Assignment, Course, SyncRun, utcnow
from app.pages.dashboard.what_if import ScoreError, parse_score
from app.pages.sync.run_view import headline, progress_line
from run import demo_password
from tests.auth_actions import sign_in
from tests.pages.test_dashboard import make_course
from tests.sync_helpers import add_fake_connection


@pytest.fixture
def student(app: Any, db: Any) -> Any:
    user = create_user("a@example.edu", "correct horse battery")
    add_fake_connection(user)
    return user


def _item(db: Any, name: str) -> Assignment:
    return db.session.scalar(db.select(Assignment).where(Assignment.name == name))


@pytest.mark.parametrize("text, points, score", [
    ("9", 10, 9.0), ("90%", 10, 9.0), (" 85 % ", 20, 17.0), ("9,5", 10, 9.5),
    ("15", 10, 15.0), ("150%", 10, 15.0), ("", 10, None), ("3", 0, 3.0), (7, 10, 7.0),
])
def test_parse_score_accepts_points_and_percentages(text: Any, points: float,
                                                    score: float | None) -> None:
    assert parse_score(text, points) == score


@pytest.mark.parametrize("text, points, words", [
    ("100", 10, "At most 15 points"), ("151%", 10, "At most 15"), ("-1", 10, "0 or more"),
    ("lots", 10, "Enter a number"), ("50%", 0, "worth 0 points"), (True, 10, "number"),
])
def test_parse_score_refuses_implausible_values(text: Any, points: float, words: str) -> None:
    with pytest.raises(ScoreError, match=words):
        parse_score(text, points)


def test_what_if_refuses_100_on_a_10_point_item_at_the_box(client: Any, db: Any,
                                                           student: Any) -> None:
    course = make_course(db, student, name="Biology")
    hw = _item(db, "HW 2")
    sign_in(client, "a@example.edu")
    data = client.post(f"/courses/{course.id}/what-if",
                       json={"scores": {str(hw.id): "100"}}).get_json()
    assert "At most 15 points" in data["field_errors"][str(hw.id)]
    assert data["changed"] is False and data["applied"] == 0
    assert data["what_if"]["percent"] == pytest.approx(78.0)  # not 542 %
    as_percent = client.post(f"/courses/{course.id}/what-if",
                             json={"scores": {str(hw.id): "100%"}}).get_json()
    as_points = client.post(f"/courses/{course.id}/what-if",
                            json={"scores": {str(hw.id): "10"}}).get_json()
    assert as_percent["field_errors"] == {}
    assert as_percent["what_if"]["percent"] == pytest.approx(as_points["what_if"]["percent"])
    assert as_percent["what_if"]["percent"] > 78.0


def test_needed_states_and_applies_its_assumption(client: Any, db: Any, student: Any) -> None:
    course = make_course(db, student, name="Biology")
    midterm = _item(db, "Midterm")
    sign_in(client, "a@example.edu")
    url = f"/courses/{course.id}/what-if"
    answers = {}
    for assume in ("exclude", "zero", "average"):
        data = client.post(url, json={"scores": {}, "target": {
            "assignment_id": midterm.id, "percent": 70, "assume": assume}}).get_json()
        answers[assume] = data["needed"]
        assert "This assumes" in data["needed"]["message"]
    assert "left out" in answers["exclude"]["message"]
    assert "scores 0" in answers["zero"]["message"]
    assert "current average" in answers["average"]["message"]
    # The final exam and the hidden quiz at 0 ask more of the midterm than leaving them out.
    assert answers["zero"]["score"] is None or (
        answers["zero"]["score"] > answers["exclude"]["score"])
    bad = client.post(url, json={"scores": {}, "target": {
        "assignment_id": midterm.id, "percent": 70, "assume": "magic"}}).get_json()
    assert bad["needed"]["score"] is None


def test_course_page_labels_units_and_explains(client: Any, db: Any, student: Any) -> None:
    course = make_course(db, student, name="Biology", canvas_score=None)
    final = _item(db, "Final Exam")
    sign_in(client, "a@example.edu")
    page = client.get(f"/courses/{course.id}").get_data(as_text=True)
    assert f'id="what-if-{final.id}-unit">/ 100' in page
    assert 'placeholder="e.g. 90%"' in page  # the ungraded final's box
    assert '<label for="target-assume">Other ungraded work</label>' in page
    assert '<label for="target-assignment">Assignment</label>' in page
    assert ">On<" not in page
    assert "data-final-help" in page and "scored 0" in page
    # No Canvas score: nothing to differ from.
    assert "data-differs" not in page and "Canvas shows no course score" in page


def _run(db: Any, user: Any, **fields: Any) -> SyncRun:
    values: dict[str, Any] = {"user_id": user.id, "kind": "full", "status": "running",
                              "started_at": utcnow() - timedelta(seconds=2)}
    values.update(fields)
    run = SyncRun(**values)
    db.session.add(run)
    db.session.commit()
    return run


def test_sync_results_in_plain_words(db: Any, student: Any) -> None:
    step = {"connection_id": 1, "course_id": 7, "name": "Biology 101", "index": 10,
            "total": 32, "assignments": 4, "rows_written": 5, "run_done": 10, "run_total": 32}
    running = _run(db, student, courses_done=10, courses_total=32, phase="writing",
                   message="[10/32] Syncing course: Biology 101", summary={"steps": [step]})
    assert progress_line(running) == "Syncing Biology 101 — 10 of 32"
    running.phase, running.message = "courses", "Reading your course list"
    assert progress_line(running) == "Reading your course list"
    done = _run(db, student, status="succeeded", finished_at=utcnow(),
                summary={"courses": 32, "courses_written": 5, "assignments": 65})
    assert headline(done) == "Checked 32 courses; 5 had changes."
    done.summary = {"courses": 32, "courses_written": 0}
    assert headline(done) == "Checked 32 courses: nothing changed."
    done.summary = {"courses": 32, "courses_written": 5, "new_grades": 3}
    assert headline(done) == "Checked 32 courses; 5 had changes. 3 new grades."
    assert progress_line(done) == "Checked 32 courses; 5 had changes. 3 new grades."
    # The grade change ledger's count, whatever it says, wins over "had changes".
    done.summary = {"courses": 32, "courses_written": 5, "new_grades": 1}
    assert headline(done) == "Checked 32 courses; 5 had changes. 1 new grade."
    done.summary = {"courses": 32, "courses_written": 5, "new_grades": 0}
    assert headline(done) == "Checked 32 courses; 5 had changes. No new grades."


def test_history_shows_words_with_counts_one_click_away(client: Any, db: Any,
                                                       student: Any) -> None:
    _run(db, student, status="succeeded", finished_at=utcnow(), requests=33,
         summary={"courses": 32, "courses_written": 5, "assignments": 395, "requests": 33,
                  "rows_written": 534})
    sign_in(client, "a@example.edu")
    page = client.get("/sync/history").get_data(as_text=True)
    assert "Checked 32 courses; 5 had changes." in page
    details = page[page.index("<details"):page.index("</details>")]
    assert "395 assignments, 33 requests" in details


def test_disconnect_asks_first_then_keeps_grades_read_only(client: Any, db: Any,
                                                           student: Any) -> None:
    course = make_course(db, student, name="Biology", canvas_score=78.0)
    sign_in(client, "a@example.edu")
    settings = client.get("/settings").get_data(as_text=True)
    assert 'href="/settings/disconnect"' in settings  # a link to a question, not a POST
    confirm = client.get("/settings/disconnect").get_data(as_text=True)
    assert "deleted" in confirm and "stay here, read-only" in confirm
    assert db.session.get(type(student), student.id).canvas_connected  # asking changed nothing
    client.post("/settings/disconnect")
    dashboard = client.get("/").get_data(as_text=True)
    assert "Canvas is disconnected" in dashboard and "data-read-only" in dashboard
    assert f'href="/courses/{course.id}"' in dashboard and "78.00%" in dashboard
    assert "data-sync-button" not in dashboard
    page = client.get(f"/courses/{course.id}").get_data(as_text=True)
    assert "read-only" in page and "Midterm" in page
    assert client.get("/settings/disconnect").status_code == 302  # nothing left to disconnect


def test_demo_settings_offer_the_simulated_canvas(app: Any, client: Any, db: Any) -> None:
    create_user("new@example.edu", "correct horse battery")
    sign_in(client, "new@example.edu")
    assert "data-demo-canvas" not in client.get("/settings").get_data(as_text=True)
    app.config.update(DEMO_MODE=True, DEMO_CANVAS_URL="http://127.0.0.1:5999",
                      DEMO_CANVAS_TOKEN="demo-canvas-token")
    try:
        page = client.get("/settings").get_data(as_text=True)
    finally:
        app.config.update(DEMO_MODE=False, DEMO_CANVAS_URL=None, DEMO_CANVAS_TOKEN=None)
    assert "data-demo-canvas" in page and "demo-canvas-token" in page
    assert 'value="http://127.0.0.1:5999"' in page  # the address field, prefilled


def test_demo_password_is_stable_per_instance() -> None:
    assert demo_password("key-one") == demo_password("key-one")
    assert demo_password("key-one") != demo_password("key-two")
    assert len(demo_password(b"key")) == 12


def test_dashboard_no_differs_without_a_canvas_score(db: Any, student: Any) -> None:
    """A course without any Canvas score never shows '(Canvas: —)'."""
    from app.pages.dashboard.view_data import build_dashboard

    make_course(db, student, name="Art", canvas_score=None)
    row = build_dashboard(student).terms[0].courses[0]
    assert isinstance(row.id, int) and row.differs is False
    assert db.session.scalar(db.select(Course.canvas_current_score)) is None
