"""Pagination links and request helpers of the Canvas client (numbered pages, what a course read
includes, Canvas's time format)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

# Every course read asks for the term, the student's scores, ``concluded``, the grading
# periods and the current period's scores: no extra request per course for any of them.
COURSE_INCLUDES: tuple[tuple[str, str], ...] = tuple(
    ("include[]", name)
    for name in ("term", "total_scores", "concluded", "grading_periods",
                 "current_grading_period_scores")
)


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
