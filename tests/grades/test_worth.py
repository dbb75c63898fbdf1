"""What an assignment is worth (app.grades.worth), checked against the course total itself:
raising one assignment from nothing to full marks, everything else as it is, moves the final
total by exactly its worth; with weighted grading periods too, where its period's weight (and
Canvas's scaling of weights under 100) decides it."""

from __future__ import annotations

import pytest

from app.grades.calculator import course_grade
from app.grades.model import GradeGroup, GradeItem, GradingPeriod
from app.grades.periods import period_grades
from app.grades.worth import assignment_worth

GROUPS = [GradeGroup(id=1, name="Homework", weight=40.0),
          GradeGroup(id=2, name="Exams", weight=60.0)]


def items(period_of: dict[int, int | None]) -> list[GradeItem]:
    """Six graded assignments in two groups; ``period_of``: item id -> period id."""
    points = {1: 10.0, 2: 20.0, 3: 10.0, 4: 100.0, 5: 50.0, 6: 80.0}
    scores = {1: 8.0, 2: 15.0, 3: 9.0, 4: 70.0, 5: 45.0, 6: 60.0}
    return [GradeItem(id=i, group_id=1 if i <= 3 else 2, name=f"a{i}", points_possible=p,
                      score=scores[i], grading_period_id=period_of.get(i))
            for i, p in points.items()]


def final_total(all_items: list[GradeItem], periods: list[GradingPeriod] | None) -> float:
    if periods:
        result = period_grades(GROUPS, all_items, True, periods, weighted_periods=True)
        assert result.final_percent is not None
        return float(result.final_percent)
    plain = course_grade(GROUPS, all_items, True).final_percent
    assert plain is not None
    return float(plain)


def moved_by(all_items: list[GradeItem], item_id: int,
             periods: list[GradingPeriod] | None) -> float:
    def with_score(score: float) -> list[GradeItem]:
        return [GradeItem(**{**{f: getattr(i, f) for f in GradeItem.__dataclass_fields__},
                             "score": score}) if i.id == item_id else i for i in all_items]

    target = next(i for i in all_items if i.id == item_id)
    return (final_total(with_score(target.points_possible or 0.0), periods)
            - final_total(with_score(0.0), periods))


@pytest.mark.parametrize("weights", [(30.0, 70.0), (20.0, 30.0), (50.0, 80.0)],
                         ids=["sum-100", "under-100-scaled-up", "over-100-not-scaled"])
def test_an_assignment_moves_the_weighted_period_total_by_its_worth(
    weights: tuple[float, float],
) -> None:
    periods = [GradingPeriod(id=11, title="Q1", weight=weights[0]),
               GradingPeriod(id=12, title="Q2", weight=weights[1])]
    all_items = items({1: 11, 2: 12, 3: 11, 4: 11, 5: 12, 6: 12})
    worth = assignment_worth(GROUPS, all_items, True, periods, weighted_periods=True)
    for item in all_items:
        assert worth[item.id] == pytest.approx(moved_by(all_items, item.id, periods)), item.name
    # Not the course-wide share: that ignored the periods' weights.
    plain = assignment_worth(GROUPS, all_items, True)
    assert any(worth[i] != pytest.approx(plain[i]) for i in plain)


def test_without_weighted_periods_the_share_is_of_the_whole_course() -> None:
    all_items = items({})
    worth = assignment_worth(GROUPS, all_items, True)
    for item in all_items:
        assert worth[item.id] == pytest.approx(moved_by(all_items, item.id, None)), item.name


def test_an_assignment_in_no_period_is_in_no_share_of_a_weighted_total() -> None:
    periods = [GradingPeriod(id=11, title="Q1", weight=50.0),
               GradingPeriod(id=12, title="Q2", weight=50.0)]
    all_items = items({1: 11, 2: 12, 3: 11, 4: 11, 5: 12, 6: None})
    worth = assignment_worth(GROUPS, all_items, True, periods, weighted_periods=True)
    assert worth[6] is None
    assert worth[4] == pytest.approx(moved_by(all_items, 4, periods))
