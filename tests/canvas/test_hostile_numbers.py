"""Numbers from a hostile Canvas are bounded (issue 21, finding 1).

A Canvas that reports ``computed_current_score: 1e300`` used to make the course page's trend
chart loop towards the score, growing without end. Now every score, point and weight parsed from
Canvas is clamped (one warning per course), and the chart draws at most ``MAX_TICKS`` gridlines
whatever is stored.
"""

from __future__ import annotations

import logging
import re
import signal
import time
import tracemalloc
from datetime import timedelta
from typing import Any

import pytest

from app.accounts import create_user
from app.grades.history import GradePoint
from app.models import GradeEvent
from app.pages.dashboard.chart import MAX_TICKS, grade_chart
from app.sync.coerce import PERCENT_LIMIT, POINTS_LIMIT
from app.sync.parse import parse_course_list, parse_gradebook
from tests.auth_actions import sign_in
from tests.pages.test_dashboard import make_course
from tests.slow_servers import finishes_within
from tests.sync_helpers import add_fake_connection

HUGE = 1e300
MB = 1024 * 1024


def _hostile_course(course_id: int) -> dict[str, Any]:
    return {
        "id": course_id, "name": f"Course {course_id}", "course_code": "C",
        "grading_periods": [{"id": 1, "title": "P", "weight": HUGE}],
        "enrollments": [{
            "type": "student", "enrollment_state": "active",
            "computed_current_score": HUGE, "computed_final_score": -HUGE,
            "current_period_computed_current_score": HUGE,
        }],
    }


def test_scores_and_weights_from_canvas_are_clamped_with_one_warning_per_course(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="app.sync.parse"):
        courses = parse_course_list([_hostile_course(11), _hostile_course(12)])
        book = parse_gradebook(11, [{
            "id": 5, "name": "G", "group_weight": HUGE,
            "assignments": [
                {"id": n, "name": f"A{n}", "points_possible": HUGE,
                 "submission": {"score": HUGE, "entered_score": -HUGE, "points_deducted": HUGE}}
                for n in range(1, 200)
            ],
        }])
    row = courses.courses[0].row
    assert row["canvas_current_score"] == PERCENT_LIMIT
    assert row["canvas_final_score"] == -PERCENT_LIMIT
    assert row["canvas_period_current_score"] == PERCENT_LIMIT
    assert courses.courses[0].periods[0]["weight"] == PERCENT_LIMIT
    assert book.groups[0]["weight"] == PERCENT_LIMIT
    first = book.assignments[0]
    assert first["points_possible"] == POINTS_LIMIT and first["score"] == POINTS_LIMIT
    assert first["entered_score"] == -POINTS_LIMIT
    clamped = [r.getMessage() for r in caplog.records if "clamped" in r.getMessage()]
    # one line for each course of the list, one for the gradebook: not one per value
    assert len(clamped) == 3, clamped
    assert any("course 11" in line and "796 points" in line for line in clamped), clamped


def test_a_chart_draws_a_bounded_number_of_gridlines_whatever_the_data() -> None:
    now = __import__("clock").now()
    for scores in ([HUGE], [-HUGE, HUGE], [1e308, -1e308], [float("nan"), 88.0], [70.0, 2e9]):
        points = [GradePoint(now + timedelta(hours=i), s) for i, s in enumerate(scores)]
        ended, took, errors = finishes_within(5, lambda p=points: grade_chart(p))
        assert ended and not errors, (scores, errors)
        chart = grade_chart(points)
        assert chart is None or len(chart.ticks) <= MAX_TICKS, scores
    usual = grade_chart([GradePoint(now, 85.0), GradePoint(now + timedelta(days=1), 91.0)])
    assert usual is not None and [t[1] for t in usual.ticks] == ["70%", "80%", "90%", "100%"]


@pytest.mark.slow
def test_a_hostile_score_course_page_answers_quickly_with_bounded_memory(
    app: Any, db: Any, client: Any
) -> None:
    """A score stored before the parser clamped (or any huge one) still draws a page."""
    user = create_user("huge@example.edu", "correct horse battery")
    add_fake_connection(user)
    course = make_course(db, user, name="Hostile", canvas_score=HUGE)
    db.session.add(GradeEvent(user_id=user.id, course_id=course.id, kind="course_grade_changed",
                              canvas_course_id=course.canvas_course_id,
                              at=course.last_synced_canvas - timedelta(days=1),
                              before={"score": 80.0}, after={"score": -HUGE}))
    db.session.commit()
    sign_in(client, "huge@example.edu")

    def give_up(*_: Any) -> None:
        raise TimeoutError("the course page of a 1e300 score never answered")

    previous = signal.signal(signal.SIGALRM, give_up)  # the page runs in this thread
    tracemalloc.start()
    started = time.monotonic()
    try:
        signal.setitimer(signal.ITIMER_REAL, 10)
        page = client.get(f"/courses/{course.id}")
        signal.setitimer(signal.ITIMER_REAL, 0)
        took = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        tracemalloc.stop()
    assert took < 5 and peak < 64 * MB, (took, peak / MB)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert len(re.findall(r'class="chart-grid"', html)) <= MAX_TICKS
