"""Grade inputs from database rows (or anything with the same attributes)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from app.grades.model import GradeGroup, GradeItem, GradingPeriod


def from_rows(categories: Iterable[Any], assignments: Iterable[Any]
              ) -> tuple[list[GradeGroup], list[GradeItem]]:
    """Build grade inputs from ``GradeCategory`` and ``Assignment`` rows (or look-alikes).

    Groups and items are keyed by the rows' ``id``; items point at their group through
    ``grade_category_id``. ``never_drop`` holds *Canvas* assignment ids, so it is translated
    to row ids through each assignment's ``canvas_assignment_id``. Columns the schema may not
    have yet (``workflow_state``, ``entered_score``, ``points_deducted``,
    ``grading_period_id``, ``submission_types``) are read when present.
    """
    assignments = list(assignments)
    row_id_by_canvas_id = {a.canvas_assignment_id: a.id for a in assignments
                           if getattr(a, "canvas_assignment_id", None) is not None}
    groups = [
        GradeGroup(
            id=c.id,
            name=c.name or "",
            weight=c.weight,
            drop_lowest=c.drop_lowest or 0,
            drop_highest=c.drop_highest or 0,
            never_drop=frozenset(row_id_by_canvas_id[cid] for cid in (c.never_drop or ())
                                 if cid in row_id_by_canvas_id),
        )
        for c in categories
    ]
    items = [
        GradeItem(
            id=a.id,
            group_id=a.grade_category_id,
            name=a.name or "",
            points_possible=a.points_possible,
            score=a.score,
            excused=bool(a.is_excused),
            omit_from_final_grade=bool(a.omit_from_final_grade),
            grading_type=a.grading_type,
            pending_review=getattr(a, "workflow_state", None) == "pending_review",
            entered_score=getattr(a, "entered_score", None),
            points_deducted=getattr(a, "points_deducted", None),
            grading_period_id=getattr(a, "grading_period_id", None),
            submission_types=split_types(getattr(a, "submission_types", None)),
        )
        for a in assignments
    ]
    return groups, items


def split_types(stored: str | None) -> tuple[str, ...] | None:
    """The stored comma-joined submission types as a tuple (None: not known)."""
    if stored is None:
        return None
    return tuple(t for t in (part.strip() for part in stored.split(",")) if t)


def periods_from_rows(rows: Iterable[Any]) -> list[GradingPeriod]:
    """Build :class:`GradingPeriod` inputs from ``grading_period`` rows (or look-alikes).

    ``id`` is the period's Canvas id (``canvas_grading_period_id``): what the assignments'
    ``grading_period_id`` holds, as Canvas sends it.
    """
    return [
        GradingPeriod(
            id=r.canvas_grading_period_id,
            title=getattr(r, "title", "") or "",
            weight=getattr(r, "weight", None),
            start_date=getattr(r, "start_date", None),
            end_date=getattr(r, "end_date", None),
            close_date=getattr(r, "close_date", None),
            is_closed=bool(getattr(r, "is_closed", False)),
        )
        for r in rows
    ]
