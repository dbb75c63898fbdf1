"""Canvas's grade rules that issue 12 names, through app.grades and the simulator's oracle.

Each case is computed by hand in its comments; both implementations must give it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app import grades
from app.grades import (
    GradeGroup,
    GradeItem,
    GradingPeriod,
    course_grade,
    needed_score,
    parse_scheme,
    period_grades,
    scheme_letter,
)
from simulator.scoring import canvas_period_scores, canvas_scores


def item(aid: int, gid: int, score: float | None, points: float | None, **extra: Any
         ) -> GradeItem:
    return GradeItem(aid, gid, f"A{aid}", points, score, **extra)


def oracle_course(groups: list[GradeGroup], items: list[GradeItem], weighted: bool,
                  periods: Sequence[GradingPeriod] = (), weighted_periods: bool = False
                  ) -> dict[str, Any]:
    """The same course in the oracle's format."""
    return {
        "apply_group_weights": weighted,
        "weighted_grading_periods": weighted_periods,
        "grading_periods": [{"id": p.id, "weight": p.weight} for p in periods],
        "groups": [{
            "id": g.id, "weight": g.weight,
            "rules": {"drop_lowest": g.drop_lowest, "drop_highest": g.drop_highest,
                      "never_drop": sorted(g.never_drop)},
            "assignments": [{
                "id": i.id, "score": i.score, "points_possible": i.points_possible,
                "excused": i.excused, "omit_from_final_grade": i.omit_from_final_grade,
                "grading_type": i.grading_type, "pending_review": i.pending_review,
                "grading_period_id": i.grading_period_id,
            } for i in items if i.group_id == g.id],
        } for g in groups],
    }


def both(groups: list[GradeGroup], items: list[GradeItem], weighted: bool,
         current: float | None, final: float | None) -> None:
    result = course_grade(groups, items, weighted)
    assert canvas_scores(oracle_course(groups, items, weighted)) == (current, final)
    for got, want in ((result.current_percent, current), (result.final_percent, final)):
        assert got == (None if want is None else pytest.approx(want, abs=0.005))


# --------------------------------------------------------------------------- pending review


def test_pending_review_is_left_out_of_current_and_counted_in_final() -> None:
    groups = [GradeGroup(1)]
    items = [item(1, 1, 18, 20), item(2, 1, 4, 10, pending_review=True), item(3, 1, None, 10)]
    # current: only 18/20 = 90% (the quiz awaits manual grading)
    # final:   18 + 4 (partial) + 0 = 22 / 40 = 55%
    both(groups, items, False, 90.0, 55.0)


def test_pending_review_alone_gives_no_current_grade_and_what_if_finishes_it() -> None:
    groups = [GradeGroup(1, weight=100)]
    items = [item(1, 1, 6, 10, pending_review=True)]
    # current: nothing finished -> None; final: 6/10 = 60%
    both(groups, items, True, None, 60.0)
    # What if the teacher grades it 9: it counts as a finished grade, 90% both ways
    result = course_grade(groups, items, True, what_if={1: 9})
    assert (result.current_percent, result.final_percent) == (90.0, 90.0)


# --------------------------------------------------------------------------- late deductions


def test_late_deduction_score_is_already_after_the_deduction() -> None:
    late = item(1, 1, 7, 10, entered_score=9, points_deducted=2)
    # Canvas counts score (7), not entered_score (9): (7 + 10) / 20 = 85%
    both([GradeGroup(1)], [late, item(2, 1, 10, 10)], False, 85.0, 85.0)
    assert (late.entered_score, late.points_deducted, late.score) == (9, 2, 7)


def test_from_rows_reads_pending_review_and_late_columns() -> None:
    from types import SimpleNamespace

    row = SimpleNamespace(id=5, canvas_assignment_id=50, grade_category_id=1, name="Q",
                          points_possible=10.0, score=7.0, is_excused=False,
                          omit_from_final_grade=False, grading_type="points",
                          workflow_state="pending_review", entered_score=9.0,
                          points_deducted=2.0, grading_period_id=77)
    cat = SimpleNamespace(id=1, name="G", weight=None, drop_lowest=0, drop_highest=0,
                          never_drop=None)
    _, items = grades.from_rows([cat], [row])
    assert items[0] == GradeItem(5, 1, "Q", 10.0, 7.0, False, False, "points", True, 9.0,
                                 2.0, 77)


# --------------------------------------------------------------------------- weights


def test_weights_over_100_not_scaled_down_under_100_scaled_up_zero_points_left_out() -> None:
    over = [GradeGroup(1, weight=70), GradeGroup(2, weight=50)]
    items = [item(1, 1, 8, 10), item(2, 2, 6, 10)]
    # over 100: 80% * 70 + 60% * 50 = 56 + 30 = 86, not divided by 1.2
    both(over, items, True, 86.0, 86.0)
    under = [GradeGroup(1, weight=30), GradeGroup(2, weight=30), GradeGroup(3, weight=40)]
    items = [item(1, 1, 8, 10), item(2, 2, 6, 10), item(3, 3, 5, 0)]
    # group 3 has 0 points possible: left out. (80 * 30 + 60 * 30) / 60 = 4200/60 = 70
    both(under, items, True, 70.0, 70.0)


# --------------------------------------------------------------------------- drop rules


def test_drop_rules_keep_highest_grade_set_then_drop_lowest_of_it() -> None:
    g = GradeGroup(1, drop_lowest=1, drop_highest=1, never_drop=frozenset({4}))
    items = [item(1, 1, 0, 1), item(2, 1, 50, 100), item(3, 1, 100, 100), item(4, 1, 5, 10)]
    # never_drop 5/10 always counts. Droppable 0/1, 50/100, 100/100 (n = 3).
    # Stage 1 (drop lowest 1, keep 2 with highest grade incl. 5/10):
    #   keep {0/1,100/100}: 105/111 = 94.6%; {50,100}: 155/210 = 73.8%; {0/1,50}: 55/111
    #   -> keep 0/1 and 100/100 (drops 50/100, not the lowest raw 0/1).
    # Stage 2 (drop highest 1 of those, lowest grade): keep 0/1 -> 5/11 = 45.45%;
    #   keep 100/100 -> 105/110 = 95.45% -> keep 0/1: 5/11 = 45.4545...% -> 45.45
    both([g], items, False, 45.45, 45.45)
    kept = course_grade([g], items, False).group(1).current
    assert kept.counted == (1, 4) and kept.dropped == (2, 3)


def test_drop_highest_becomes_zero_when_both_rules_reach_n() -> None:
    g = GradeGroup(1, drop_lowest=2, drop_highest=1)
    items = [item(1, 1, 2, 10), item(2, 1, 6, 10), item(3, 1, 9, 10)]
    # n = 3: drop_lowest 2 (<= n - 1), 2 + 1 >= 3 so drop_highest = 0: keep 9/10 = 90%
    both([g], items, False, 90.0, 90.0)
    # drop_lowest 5 is capped at n - 1 = 2: same answer
    both([GradeGroup(1, drop_lowest=5, drop_highest=3)], items, False, 90.0, 90.0)


# --------------------------------------------------------------------------- grading periods

Q1 = GradingPeriod(101, "Quarter 1", weight=40, is_closed=True,
                   start_date=datetime(2025, 8, 1, tzinfo=UTC),
                   end_date=datetime(2025, 10, 15, tzinfo=UTC))
Q2 = GradingPeriod(102, "Quarter 2", weight=60,
                   start_date=datetime(2025, 10, 15, tzinfo=UTC),
                   end_date=datetime(2026, 1, 10, tzinfo=UTC))


def _period_course() -> tuple[list[GradeGroup], list[GradeItem]]:
    groups = [GradeGroup(1, "Homework", 50), GradeGroup(2, "Tests", 50)]
    items = [
        item(1, 1, 9, 10, grading_period_id=101), item(2, 2, 70, 100, grading_period_id=101),
        item(3, 1, 8, 10, grading_period_id=102), item(4, 2, None, 100, grading_period_id=102),
    ]
    return groups, items


def test_weighted_grading_periods_average_the_period_scores() -> None:
    groups, items = _period_course()
    result = period_grades(groups, items, True, [Q1, Q2], weighted_periods=True)
    # Q1: HW 90% * 50 + Tests 70% * 50 = 80. Q2 current: only HW 80% (Tests ungraded) = 80.
    # Q2 final: HW 80% * 50 + Tests 0% * 50 = 40.
    assert result.period(101).current_percent == pytest.approx(80.0)
    assert result.period(102).current_percent == pytest.approx(80.0)
    assert result.period(102).final_percent == pytest.approx(40.0)
    # course current: 80 * 0.4 + 80 * 0.6 = 80; final: 80 * 0.4 + 40 * 0.6 = 32 + 24 = 56
    assert result.current_percent == pytest.approx(80.0)
    assert result.final_percent == pytest.approx(56.0)
    # the plain grade over all assignments would differ: current HW 17/20 = 85% * 50 +
    # Tests 70% * 50 = 77.5
    assert result.all_assignments.current_percent == pytest.approx(77.5)
    course = oracle_course(groups, items, True, [Q1, Q2], weighted_periods=True)
    assert canvas_scores(course) == (80.0, 56.0)
    assert canvas_period_scores(course) == {101: (80.0, 80.0), 102: (80.0, 40.0)}


def test_weighted_periods_leave_out_a_period_without_score_and_scale_up_never_down() -> None:
    groups, items = _period_course()
    only_q1 = [i for i in items if i.grading_period_id == 101]
    result = period_grades(groups, only_q1, True, [Q1, Q2], weighted_periods=True)
    # Q2 has no score at all: left out; 80 * 40 / 40 = 80 (scaled up from weight 40)
    assert result.period(102).current_percent is None
    assert result.current_percent == pytest.approx(80.0)
    # The final score counts every period's weight, Q2 adding 0 (lib/grade_calculator.rb
    # apply_grading_period_weights_to_scores): 80 * 0.4 + 0 * 0.6 = 32, not 80.
    assert result.final_percent == pytest.approx(32.0)
    assert canvas_scores(oracle_course(groups, only_q1, True, [Q1, Q2],
                                       weighted_periods=True)) == (80.0, 32.0)
    heavy = [GradingPeriod(101, weight=80), GradingPeriod(102, weight=70)]
    result = period_grades(groups, items, True, heavy, weighted_periods=True)
    # weights 150 > 100: not scaled down. 80 * 0.8 + 80 * 0.7 = 64 + 56 = 120
    assert result.current_percent == pytest.approx(120.0)
    course = oracle_course(groups, items, True, heavy, weighted_periods=True)
    assert canvas_scores(course)[0] == 120.0


def test_non_weighted_periods_total_is_over_all_assignments() -> None:
    groups, items = _period_course()
    result = period_grades(groups, items, True, [Q1, Q2], weighted_periods=False)
    # current: HW (9 + 8) / 20 = 85% * 50 + Tests 70/100 * 50 = 42.5 + 35 = 77.5
    # final:   HW 85% * 50 + Tests 70/200 = 35% * 50 = 42.5 + 17.5 = 60
    assert (result.current_percent, result.final_percent) == (77.5, 60.0)
    assert canvas_scores(oracle_course(groups, items, True, [Q1, Q2])) == (77.5, 60.0)


def test_current_period_by_dates() -> None:
    assert grades.current_period([Q1, Q2], datetime(2025, 11, 1, tzinfo=UTC)) == Q2
    assert grades.current_period([Q1, Q2], datetime(2025, 10, 15, tzinfo=UTC)) == Q2
    assert grades.current_period([Q1, Q2], datetime(2026, 2, 1, tzinfo=UTC)) is None


def test_what_if_and_needed_score_per_period_and_overall() -> None:
    groups, items = _period_course()
    # What if the Q2 test is 100: Q2 = 80% * 50 + 100% * 50 = 90; course 80*.4 + 90*.6 = 86
    result = period_grades(groups, items, True, [Q1, Q2], weighted_periods=True,
                           what_if={4: 100})
    assert result.period(102).current_percent == pytest.approx(90.0)
    assert result.current_percent == pytest.approx(86.0)
    # Needed on the Q2 test for Q2 >= 85: 40 + x/100 * 50 >= 85 -> x >= 90
    assert needed_score(groups, items, True, 4, 85, periods=[Q1, Q2], weighted_periods=True,
                        period_id=102) == 90.0
    # Needed for the course >= 83: 32 + 0.6 * (40 + x/2) >= 83 -> 24 + 0.3x >= 51 -> x >= 90
    assert needed_score(groups, items, True, 4, 83, periods=[Q1, Q2],
                        weighted_periods=True) == 90.0
    with pytest.raises(ValueError, match="period"):
        needed_score(groups, items, True, 4, 83, periods=[Q1, Q2], period_id=999)


# --------------------------------------------------------------------------- letters


SCHEME = parse_scheme([{"name": "Pass+", "value": 0.9}, {"name": "Fail", "value": 0},
                       {"name": "Pass", "value": 0.57}])


def test_letters_come_from_the_course_scheme() -> None:
    assert SCHEME == (("Pass+", 0.9), ("Pass", 0.57), ("Fail", 0.0))
    # 57.00 reaches 0.57 exactly (a float 0.57 * 100 is 56.99999...)
    assert scheme_letter(57.0, SCHEME) == "Pass"
    assert scheme_letter(56.996, SCHEME) == "Pass"  # shown as 57.00
    assert scheme_letter(56.994, SCHEME) == "Fail"  # shown as 56.99
    assert scheme_letter(89.996, SCHEME) == "Pass+"  # shown as 90.00
    assert scheme_letter(-4.0, SCHEME) == "Fail"
    assert scheme_letter(93.5, grades.CANVAS_DEFAULT_SCHEME) == "A-"


def test_no_scheme_no_letter() -> None:
    assert scheme_letter(95.0, None) is None
    assert scheme_letter(None, SCHEME) is None
    assert parse_scheme([]) is None
    with pytest.raises(ValueError):
        parse_scheme([{"name": "A"}])


# --------------------------------------------------------------------------- property

_items = st.lists(st.tuples(
    st.none() | st.sampled_from([0, 1, 2.5, 5, 8, 10, 12]),   # score
    st.sampled_from([None, 0, 5, 10, 10, 20]),                 # points
    st.booleans(),                                             # pending review
    st.sampled_from([101, 102, 102, None]),                    # grading period
    st.integers(0, 2),                                         # group index
), max_size=10)


@settings(max_examples=200, deadline=None)
@given(_items, st.booleans(), st.booleans(),
       st.tuples(st.sampled_from([None, 0, 30, 60, 80]), st.sampled_from([None, 0, 40, 70])),
       st.integers(0, 2))
def test_periods_and_pending_review_agree_with_the_oracle(
    values: list[tuple[Any, Any, bool, int | None, int]], weighted: bool,
    weighted_periods: bool, period_weights: tuple[Any, Any], drop: int,
) -> None:
    groups = [GradeGroup(1, weight=40, drop_lowest=drop), GradeGroup(2, weight=35),
              GradeGroup(3, weight=None, drop_highest=1)]
    items = [item(n, gi + 1, score, points, pending_review=pending, grading_period_id=period)
             for n, (score, points, pending, period, gi) in enumerate(values, start=1)]
    periods = [GradingPeriod(101, weight=period_weights[0]),
               GradingPeriod(102, weight=period_weights[1])]
    ours = period_grades(groups, items, weighted, periods, weighted_periods=weighted_periods)
    course = oracle_course(groups, items, weighted, periods, weighted_periods)
    oracle = canvas_scores(course)
    assert _close(ours.current_percent, oracle[0]) and _close(ours.final_percent, oracle[1])
    for period_id, (current, final) in canvas_period_scores(course).items():
        mine = ours.period(period_id)
        assert _close(mine.current_percent, current) and _close(mine.final_percent, final)


def _close(x: float | None, y: float | None) -> bool:
    if x is None or y is None:
        return x is y
    return abs(x - y) <= 0.0051
