"""Pagination links and list helpers of the Canvas client (numbered pages, the course lists
and their merging)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

# The course lists that together hold every course of a student (``get_courses``): Canvas's
# default list (currentish: active or invited in an available course, concluded by date
# included) and ``enrollment_state=completed`` (completed enrollments, completed courses,
# courses concluded by date). None is the default list.
STUDENT_COURSE_LISTS: tuple[str | None, ...] = (None, "completed")
# Every course read asks for the term, the student's scores, ``concluded``, the grading
# periods and the current period's scores: no extra request per course for any of them.
COURSE_INCLUDES: tuple[tuple[str, str], ...] = tuple(
    ("include[]", name)
    for name in ("term", "total_scores", "concluded", "grading_periods",
                 "current_grading_period_scores")
)


def _merge_by_id(lists: Iterable[list[Any]]) -> list[Any]:
    """The lists concatenated, each course id once (its first entry); id-less junk is kept for
    the parser to count."""
    seen: set[Any] = set()
    merged: list[Any] = []
    for items in lists:
        for item in items:
            key = item.get("id") if isinstance(item, dict) else None
            if isinstance(key, (int, str)) and not isinstance(key, bool):
                if key in seen:
                    continue
                seen.add(key)
            merged.append(item)
    return merged


def canvas_time(value: datetime | str) -> str:
    """ISO-8601 in UTC with ``Z`` (``YYYY-MM-DDTHH:MM:SSZ``), as Canvas's ``*_since`` want.

    Naive datetimes are taken as UTC; strings are passed through.
    """
    if isinstance(value, str):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_PAGE_PARAM = re.compile(r"(?<=[?&])page=[^&]*")


def _page_number(url: str | None) -> int | None:
    """The numeric ``page`` of a link, or None (bookmarks, no link)."""
    if not url:
        return None
    values = parse_qs(urlsplit(url).query).get("page", [])
    return int(values[0]) if values and values[0].isdigit() else None


def _with_page(url: str, page: int) -> str:
    """``url`` with its ``page`` parameter set to ``page``, the rest of the query as given."""
    return _PAGE_PARAM.sub(f"page={page}", url, count=1)
