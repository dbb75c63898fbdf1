"""Terms and grading periods from Canvas JSON (a course's ``term`` and ``grading_periods``).

Pure, like :mod:`app.sync.parse` (which re-exports these): junk is skipped and counted, with
one warning per list, and numbers are clamped (see :mod:`app.sync.coerce`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from app.sync.coerce import (
    _dict,
    _list,
    clean_text,
    parse_bool,
    parse_datetime,
    parse_id,
    parse_percent,
)
from app.sync.fields import _LIMITS

logger = logging.getLogger("app.sync.parse")  # one logger for the whole parser


def parse_term(raw: Any) -> dict[str, Any] | None:
    """A ``term`` row from a course's ``term`` object; None when it has no usable id."""
    term = _dict(raw)
    canvas_term_id = parse_id(term.get("id"))
    if canvas_term_id is None:
        return None
    return {
        "canvas_term_id": canvas_term_id,
        "name": clean_text(term.get("name"), _LIMITS["term.name"]) or f"Term {canvas_term_id}",
        "start_at": parse_datetime(term.get("start_at")),
        "end_at": parse_datetime(term.get("end_at")),
    }


def parse_periods(raw: Any) -> tuple[dict[str, Any], ...]:
    """``grading_period`` rows from a course's ``grading_periods``, in date order."""
    rows: dict[int, dict[str, Any]] = {}
    junk = 0
    for item in _list(raw):
        period = _dict(item)
        canvas_id = parse_id(period.get("id"))
        if canvas_id is None:
            junk += 1
            continue
        rows[canvas_id] = {
            "canvas_grading_period_id": canvas_id,
            "title": clean_text(period.get("title"), _LIMITS["period.title"])
            or f"Grading period {canvas_id}",
            "weight": parse_percent(period.get("weight")),
            "start_date": parse_datetime(period.get("start_date")),
            "end_date": parse_datetime(period.get("end_date")),
            "close_date": parse_datetime(period.get("close_date")),
            "is_closed": parse_bool(period.get("is_closed")),
        }
    _log_junk(junk, "grading periods")
    return tuple(sorted(rows.values(), key=_period_order))


def _log_junk(count: int, what: str) -> None:
    """One line per list, however much junk it held (never one line per entry)."""
    if count:
        logger.warning("skipped %d %s without a usable id", count, what)


def _period_order(row: Mapping[str, Any]) -> tuple[bool, float, int]:
    start = row["start_date"]
    return (start is None, start.timestamp() if start else 0.0, row["canvas_grading_period_id"])
