"""GPA: hand-worked examples (a retake, a course left out, a course with no letter), the
scales, the what-if, the page's forms and the `flask gpa` command."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from app.accounts import create_user
from app.extensions import db
from app.grades.gpa import (
    SCALES,
    GpaCourse,
    compute_gpa,
    letter_for_percent,
    parse_custom_scale,
    points_for_letter,
)
from app.models import CanvasConnection, Course, GpaConnection, Term
from app.models import GpaCourse as GpaCourseRow
from tests.auth_actions import AuthActions

# Fall 2025 (over):  Calc I 4 cr C (later retaken), English 3 cr B+, Art 2 cr A (left out).
# Spring 2026 (now): Calc I again 4 cr A- projected (replaces the first), History 3 cr with no
# letter at 88.5% (B+ on the +/- scale, B without).
COURSES = [
    GpaCourse(1, "Fall 2025", 4, letter="C"),
    GpaCourse(2, "Fall 2025", 3, letter="B+"),
    GpaCourse(3, "Fall 2025", 2, letter="A", excluded=True),
    GpaCourse(4, "Spring 2026", 4, letter="A-", projected=True, replaces=1),
    GpaCourse(5, "Spring 2026", 3, percent=88.5, projected=True),
]


def test_plus_minus_scale_by_hand() -> None:
    report = compute_gpa(COURSES, SCALES["4.0+-"])
    # Fall: (2.0*4 + 3.3*3) / 7 = 17.9/7 = 2.557 -> 2.56; Art is left out.
    # Spring: (3.7*4 + 3.3*3) / 7 = 24.7/7 = 3.528 -> 3.53, projected.
    # Cumulative: the first Calc I is replaced by the retake, Art left out:
    # (3.3*3 + 3.7*4 + 3.3*3) / 10 = 34.6/10 = 3.46.
    assert report.as_json() == {
        "terms": [
            {"term": "Fall 2025", "gpa": 2.56, "credits": 7.0, "projected": False},
            {"term": "Spring 2026", "gpa": 3.53, "credits": 7.0, "projected": True},
        ],
        "cumulative": 3.46,
        "scale": "4.0+-",
    }
    by_id = {o.course.id: o for o in report.courses}
    assert by_id[3].reason == "left out by you"
    assert (by_id[5].letter, by_id[5].points, by_id[5].from_percent) == ("B+", 3.3, True)


def test_plain_and_4_3_scales_by_hand() -> None:
    plain = compute_gpa(COURSES, SCALES["4.0"])
    # B+ counts as B (3), A- as A (4), 88.5% is a B: Fall 17/7 = 2.43, Spring 25/7 = 3.57,
    # cumulative (9 + 16 + 9)/10 = 3.4.
    assert [t.gpa for t in plain.terms] == [2.43, 3.57] and plain.cumulative == 3.4
    with_a_plus = [GpaCourse(1, "T", 3, letter="A+"), GpaCourse(2, "T", 1, letter="B")]
    # (4.3*3 + 3*1)/4 = 15.9/4 = 3.975 -> 3.98 on 4.3; (4*3 + 3)/4 = 3.75 on 4.0.
    assert compute_gpa(with_a_plus, SCALES["4.3"]).cumulative == 3.98
    assert compute_gpa(with_a_plus, SCALES["4.0+-"]).cumulative == 3.75


def test_what_if_changes_a_projected_letter() -> None:
    report = compute_gpa(COURSES, SCALES["4.0+-"], what_if={5: "A"})
    # History as an A: Spring (14.8 + 12)/7 = 3.83; cumulative (9.9 + 14.8 + 12)/10 = 3.67.
    assert [t.gpa for t in report.terms] == [2.56, 3.83] and report.cumulative == 3.67
    with pytest.raises(ValueError, match="'Z' is not on the 4.0 scale with"):
        compute_gpa(COURSES, SCALES["4.0+-"], what_if={5: "Z"})


def test_a_letter_off_the_scale_and_no_grade_are_left_out_in_words() -> None:
    courses = [GpaCourse(1, "T", 3, letter="P"), GpaCourse(2, "T", 3),
               GpaCourse(3, "T", 0, letter="A")]
    report = compute_gpa(courses, SCALES["4.0+-"])
    assert [o.reason for o in report.courses] == [
        "the letter P is not on the 4.0 scale with +/-", "no grade yet", "0 credits"]
    assert report.as_json()["terms"] == [
        {"term": "T", "gpa": None, "credits": 0.0, "projected": False}]
    assert report.cumulative is None


def test_custom_scale() -> None:
    scale = parse_custom_scale("A 93 4\nB 85 3\n\nC 70, 2\nF 0 0")
    assert letter_for_percent(92.99, scale) == "B" and letter_for_percent(93, scale) == "A"
    assert points_for_letter("b", scale) == 3.0 and points_for_letter("B+", scale) is None
    with pytest.raises(ValueError, match="line 2 of the custom scale"):
        parse_custom_scale("A 93 4\nB eighty 3")
    with pytest.raises(ValueError, match="the custom scale is empty"):
        parse_custom_scale("  \n")


# --- Stored entries, the page and the command ---------------------------------------------

def _student(email: str = "student@example.edu") -> Any:
    user = create_user(email, "correct horse battery")
    connection = CanvasConnection(user_id=user.id, base_url=f"https://canvas.{user.id}.edu")
    db.session.add(connection)
    db.session.flush()
    fall = Term(user_id=user.id, connection_id=connection.id, canvas_term_id=1,
                name="Fall 2025", start_at=datetime(2025, 8, 20, tzinfo=UTC))
    spring = Term(user_id=user.id, connection_id=connection.id, canvas_term_id=2,
                  name="Spring 2026", start_at=datetime(2026, 1, 11, tzinfo=UTC))
    db.session.add_all([fall, spring])
    db.session.flush()
    scheme = [["A", 0.94], ["A-", 0.9], ["B+", 0.87], ["B", 0.84], ["C", 0.7], ["F", 0.0]]

    def course(cid: int, name: str, term: Term, **kw: Any) -> Course:
        row = Course(user_id=user.id, connection_id=connection.id, term_id=term.id,
                     canvas_course_id=cid, name=name, **kw)
        db.session.add(row)
        return row

    # Concluded: the final score through the course's scheme counts (Calc 72% -> C even though
    # its last current letter was B; English 88 -> B+).
    calc = course(11, "Calc I", fall, concluded=True, canvas_final_score=72.0,
                  canvas_current_grade="B", grading_scheme=scheme)
    course(12, "English", fall, concluded=True, canvas_final_score=88.0, grading_scheme=scheme)
    art = course(13, "Art", fall, concluded=True, canvas_final_score=99.0, grading_scheme=scheme)
    retake = course(14, "Calc I (again)", spring, canvas_current_grade="A-",
                    canvas_current_score=91.0)
    course(15, "History", spring, canvas_current_score=88.5)  # no scheme, no letter
    db.session.flush()
    db.session.add_all([
        GpaConnection(connection_id=connection.id, default_credits=3),
        GpaCourseRow(course_id=calc.id, credits=4),
        GpaCourseRow(course_id=art.id, credits=2, excluded=True),
        GpaCourseRow(course_id=retake.id, credits=4, replaces_course_id=calc.id),
    ])
    db.session.commit()
    return user, {c.name: c.id for c in db.session.query(Course).filter_by(user_id=user.id)}


EXPECTED = {
    "terms": [
        {"term": "Fall 2025", "gpa": 2.56, "credits": 7.0, "projected": False},
        {"term": "Spring 2026", "gpa": 3.53, "credits": 7.0, "projected": True},
    ],
    "cumulative": 3.46,
    "scale": "4.0+-",
}


def test_gpa_command_prints_the_hand_worked_gpa(app: Any, runner: Any) -> None:
    user, _ids = _student()
    result = runner.invoke(args=["gpa", user.email, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.strip().splitlines()[-1]) == EXPECTED

    text = runner.invoke(args=["gpa", user.email]).output
    assert "Spring 2026" in text and "3.53" in text and "(projected)" in text
    assert "Cumulative" in text and "3.46" in text

    unknown = runner.invoke(args=["gpa", "nobody@example.edu"])
    assert unknown.exit_code == 1 and "no account for 'nobody@example.edu'" in unknown.output


def test_gpa_page_shows_terms_what_if_and_saves_entries(app: Any, client: Any,
                                                         runner: Any) -> None:
    user, ids = _student()
    AuthActions(client).login()
    page = client.get("/gpa").get_data(as_text=True)
    assert "Fall 2025" in page and "2.56" in page and "3.53" in page and "3.46" in page
    assert "projected" in page and "Not in the GPA: left out by you." in page
    assert "Counts as <strong>B+</strong> (3.30 points, from 88.50%), projected." in page

    tried = client.get(f"/gpa?try-{ids['History']}=A").get_data(as_text=True)
    assert "With those letters:" in tried and "cumulative 3.67" in tried

    # History gets 4 credits: Spring (14.8 + 13.2)/8 = 3.5; cumulative (9.9+14.8+13.2)/11 = 3.45.
    saved = client.post(f"/gpa/courses/{ids['History']}", data={"credits": "4"},
                        follow_redirects=True)
    assert "Saved History." in saved.get_data(as_text=True)
    out = json.loads(runner.invoke(args=["gpa", user.email, "--json"]).output.splitlines()[-1])
    assert out["terms"][1]["gpa"] == 3.5 and out["cumulative"] == 3.45

    bad = client.post(f"/gpa/courses/{ids['History']}", data={"credits": "lots"},
                      follow_redirects=True).get_data(as_text=True)
    assert "History: Credits must be a number, e.g. 3 or 4.5 (not &#39;lots&#39;)." in bad

    plain = client.post("/gpa/scale", data={"scale": "4.0"}, follow_redirects=True)
    assert "Scale saved." in plain.get_data(as_text=True)
    assert json.loads(runner.invoke(args=["gpa", user.email, "--json"])
                      .output.splitlines()[-1])["scale"] == "4.0"
    custom = client.post("/gpa/scale", data={"scale": "custom", "custom": "A 93"},
                         follow_redirects=True).get_data(as_text=True)
    assert "Line 1 of the custom scale: write LETTER MIN_PERCENT POINTS" in custom


def test_the_dashboard_shows_term_and_cumulative_gpa(app: Any, client: Any) -> None:
    """The GPA page's numbers, on the dashboard: each term's beside its name, the cumulative
    above the terms (2.56 and 3.53 projected, 3.46 in all: EXPECTED, worked by hand)."""
    _student()
    _student("other@example.edu")  # another student's courses change nothing here
    AuthActions(client).login()
    page = client.get("/").get_data(as_text=True)
    text = " ".join(re.sub(r"<[^>]+>", " ", page).split())
    assert re.search(r"Fall 2025 (Current term )?Term GPA 2\.56 Course", text)
    assert re.search(r"Spring 2026 (Current term )?Term GPA 3\.53 \(projected\) Course", text)
    assert "Cumulative GPA 3.46 (projected: it counts current courses' letters)" in text
    assert 'href="/gpa"' in page


def test_another_students_courses_answer_404(app: Any, client: Any) -> None:
    _me, _ = _student()
    other, other_ids = _student("other@example.edu")
    AuthActions(client).login()
    course_id = other_ids["History"]
    assert client.post(f"/gpa/courses/{course_id}", data={"credits": "1"}).status_code == 404
    course = db.session.get(Course, course_id)
    assert course is not None
    assert client.post(f"/gpa/connections/{course.connection_id}",
                       data={"credits": "1"}).status_code == 404
    page = client.get(f"/gpa?try-{course_id}=A").get_data(as_text=True)
    assert "With those letters:" not in page and "other@example.edu" not in page
    assert f'data-gpa-course="{course_id}"' not in page and f"try-{course_id}" not in page
    assert f'value="{course_id}"' not in page  # not offered as an earlier attempt either
    assert db.session.get(GpaCourseRow, course_id) is None


def test_goal_planner_by_hand() -> None:
    from app.grades.gpa import plan_for_target

    courses = [GpaCourse(1, "Fall", 4, letter="C"),
               GpaCourse(4, "Spring", 4, letter="A-", percent=91.0, projected=True),
               GpaCourse(5, "Spring", 3, percent=88.5, projected=True)]
    scale = SCALES["4.0+-"]
    # Now (3.7*4 + 3.3*3)/7 = 3.53: 3.5 needs nothing more.
    assert plan_for_target(courses, scale, "Spring", 3.5).letters == {4: "A-", 5: "B+"}
    # 3.6 needs 25.2 points: History to A- is the nearer step (90 is 1.5 above 88.5; Calc's A
    # is 3 above 91) and gives (14.8 + 11.1)/7 = 3.7.
    plan = plan_for_target(courses, scale, "Spring", 3.6)
    assert (plan.reachable, plan.letters, plan.gpa) == (True, {4: "A-", 5: "A-"}, 3.7)
    # 4.1 is more than an A everywhere gives (A+ is worth no more than A on this scale).
    best = plan_for_target(courses, scale, "Spring", 4.1)
    assert (best.reachable, best.letters, best.gpa) == (False, {4: "A", 5: "A"}, 4.0)


def test_goal_planner_on_the_page(app: Any, client: Any) -> None:
    _user, ids = _student()
    AuthActions(client).login()
    page = client.get("/gpa?goal=3.6").get_data(as_text=True)
    said = " ".join(page.split("data-goal-result>")[1].split("</p>")[0].split())
    assert said == ("To reach 3.60 in Spring 2026 you need at least A- in Calc I (again) "
                    "and A- in History (3.70).")
    assert f'href="/courses/{ids["History"]}"' in page
    assert "The goal must be between 0 and 4 on this scale." in client.get(
        "/gpa?goal=5").get_data(as_text=True)
    assert "out of reach" not in page


def test_default_credits_per_canvas_connection(app: Any, client: Any, runner: Any) -> None:
    user, ids = _student()
    AuthActions(client).login()
    course = db.session.get(Course, ids["History"])
    assert course is not None
    # History has no credits of its own: the connection's default (3) applies; English too.
    saved = client.post(f"/gpa/connections/{course.connection_id}", data={"credits": "4"},
                        follow_redirects=True).get_data(as_text=True)
    assert f"Default credits saved for canvas.{user.id}.edu." in saved
    # Fall: (2.0*4 + 3.3*4)/8 = 2.65; Spring: (3.7*4 + 3.3*4)/8 = 3.5;
    # cumulative: (3.3*4 + 3.7*4 + 3.3*4)/12 = 41.2/12 = 3.43.
    out = json.loads(runner.invoke(args=["gpa", user.email, "--json"]).output.splitlines()[-1])
    assert [t["gpa"] for t in out["terms"]] == [2.65, 3.5] and out["cumulative"] == 3.43
    bad = client.post(f"/gpa/connections/{course.connection_id}", data={"credits": "-1"},
                      follow_redirects=True).get_data(as_text=True)
    assert "Credits must be between 0 and 100." in bad
