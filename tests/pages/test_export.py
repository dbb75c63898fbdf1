"""Export from Settings: CSV and JSON of courses, assignments, grades and the change ledger,
read back to the same values (round trip), and only the signed-in student's rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

import clock
from app.accounts import create_user
from app.extensions import db
from app.models import Assignment, CanvasConnection, Course, GradeCategory, GradeEvent
from app.pages.export.data import TABLES, read_csv
from tests.auth_actions import AuthActions
from tests.school_year import MIDTERM

TRICKY_NAME = '=HYPERLINK("http://evil.example","click"), "quoted"\nline two'


def _student(email: str, name: str) -> Any:
    user = create_user(email, "correct horse battery")
    connection = CanvasConnection(user_id=user.id, base_url="https://canvas.example.edu")
    db.session.add(connection)
    db.session.flush()
    course = Course(user_id=user.id, connection_id=connection.id, canvas_course_id=7,
                    name=name, canvas_current_score=91.25, canvas_current_grade="A-",
                    apply_group_weights=True)
    db.session.add(course)
    db.session.flush()
    group = GradeCategory(course_id=course.id, canvas_group_id=1, name="Homework", weight=40.0)
    db.session.add(group)
    db.session.flush()
    db.session.add_all([
        Assignment(course_id=course.id, canvas_course_id=7, canvas_assignment_id=70,
                   grade_category_id=group.id, name="-5 points for lateness?",
                   points_possible=10.0, score=9.5, points_deducted=-0.5, is_late=True,
                   due_at=datetime(2026, 11, 19, 5, 59, tzinfo=UTC)),
        Assignment(course_id=course.id, canvas_course_id=7, canvas_assignment_id=71,
                   grade_category_id=None, name="Ungraded", points_possible=None),
        GradeEvent(user_id=user.id, course_id=course.id, canvas_course_id=7,
                   canvas_assignment_id=70, kind="grade_changed", before={"score": 8.0},
                   after={"score": 9.5, "grade": "9.5"}, at=datetime(2026, 11, 2, tzinfo=UTC)),
    ])
    db.session.commit()
    return user


@pytest.mark.clock(MIDTERM)
def test_export_round_trips_in_csv_and_json(app: Any, client: Any) -> None:
    clock.freeze(MIDTERM)  # the export's time to the second, however slow the machine
    _student("student@example.edu", TRICKY_NAME)
    _student("other@example.edu", "Other student's course")
    AuthActions(client).login()
    settings = client.get("/settings").get_data(as_text=True)
    assert "Export your grades" in settings and "/settings/export/gradesync.json" in settings

    response = client.get("/settings/export/gradesync.json")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="gradesync.json"'
    document = json.loads(response.get_data(as_text=True))
    assert document["exported_at"] == "2026-11-18T15:00:00Z"
    assert document["email"] == "student@example.edu"
    [course] = document["courses"]
    assert course["name"] == TRICKY_NAME and course["canvas_current_score"] == 91.25
    assert course["canvas_current_grade"] == "A-"
    graded = next(a for a in document["assignments"] if a["canvas_assignment_id"] == 70)
    assert (graded["score"], graded["points_deducted"], graded["late"]) == (9.5, -0.5, True)
    assert graded["due_at"] == "2026-11-19T05:59:00Z" and graded["group_weight"] == 40.0
    [event] = document["grade_events"]
    assert event["before"] == {"score": 8.0} and event["after"]["score"] == 9.5

    for name, columns in TABLES.items():
        download = client.get(f"/settings/export/{name}.csv")
        assert download.status_code == 200 and download.mimetype == "text/csv"
        text = download.get_data(as_text=True)
        assert read_csv(text, columns) == document[name], name
    # A spreadsheet does not run the course name as a formula.
    assert "'=HYPERLINK" in client.get("/settings/export/courses.csv").get_data(as_text=True)
    assert client.get("/settings/export/users.csv").status_code == 404


def test_export_needs_a_sign_in(app: Any, client: Any) -> None:
    response = client.get("/settings/export/gradesync.json")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
