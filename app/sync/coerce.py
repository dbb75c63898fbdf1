"""Scalar coercion for Canvas JSON: every value to what its column can hold, or None.

Canvas payloads are trusted for nothing (see :mod:`app.sync.parse`): these functions never
raise on junk, they return None (or a default) instead.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from app.safe_text import strip_control

INT_MIN = -(2**31)
INT_MAX = 2**31 - 1  # positions and drop counts are 32-bit INTEGER columns
ID_MAX = 2**63 - 1  # Canvas ids are 64-bit (shard * 10**13 + local id): BIGINT columns
# Points (points_possible, scores, deductions): canvas-lms's own largest, Quizzes::Quiz's
# `validates :points_possible, numericality: { less_than_or_equal_to: 2_000_000_000 }`
# (app/models/quizzes/quiz.rb). Percentages and weights: a million percent is far past any
# extra credit. Beyond them a value is clamped (and the course's sync logs it once).
POINTS_LIMIT = 2_000_000_000.0
PERCENT_LIMIT = 1_000_000.0

_clamped = threading.local()  # the out-of-range values met while parsing one course

def clean_text(value: Any, max_len: int | None = None) -> str | None:
    """A string fit for a VARCHAR column, or None.

    Control characters and ANSI escapes are removed (``strip_control``: these values reach
    terminals and log lines; NUL is one, and Postgres refuses it), lone surrogates (JSON
    allows them, UTF-8 does not) become U+FFFD, and the result is cut to ``max_len``
    characters.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (str, int, float)):
        text = str(value)
    else:
        return None
    text = strip_control(text)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in text)
    if max_len is not None and len(text) > max_len:
        text = text[:max_len]
    return text


def parse_float(value: Any) -> float | None:
    """A finite float, or None for null, junk, NaN and infinities (booleans are junk)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _bounded(value: Any, limit: float, kind: str) -> float | None:
    number = parse_float(value)
    if number is None or -limit <= number <= limit:
        return number
    hits: list[str] | None = getattr(_clamped, "hits", None)
    if hits is not None:
        hits.append(kind)
    return math.copysign(limit, number)


def parse_points(value: Any) -> float | None:
    """Points (possible, scored, deducted) as :func:`parse_float`, clamped to the
    ``POINTS_LIMIT`` a Canvas can hold."""
    return _bounded(value, POINTS_LIMIT, "points")


def parse_percent(value: Any) -> float | None:
    """A percentage (a score or a weight), clamped to ``PERCENT_LIMIT``."""
    return _bounded(value, PERCENT_LIMIT, "percent")


@contextmanager
def clamp_report(log: logging.Logger, where: str) -> Iterator[None]:
    """Count the values clamped while the block parses ``where`` (one course); log them in
    one warning at the end, never one line per value."""
    outer = getattr(_clamped, "hits", None)
    hits: list[str] = []
    _clamped.hits = hits
    try:
        yield
    finally:
        _clamped.hits = outer
        if hits:
            kinds = ", ".join(f"{hits.count(k)} {k}" for k in sorted(set(hits)))
            log.warning("%s: numbers from Canvas out of range were clamped (%s)", where, kinds)


def parse_int(value: Any, *, lo: int = INT_MIN, hi: int = INT_MAX) -> int | None:
    """An integer within [lo, hi], or None. Integral floats and digit strings are accepted."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            return None
        number = int(value)
    elif isinstance(value, str):
        text = value.strip()
        if not text.lstrip("-").isdigit() or len(text) > 20:
            return None
        number = int(text)
    else:
        return None
    return number if lo <= number <= hi else None


def parse_id(value: Any) -> int | None:
    """A Canvas id: a positive 64-bit integer, or None."""
    return parse_int(value, lo=1, hi=ID_MAX)


def parse_bool(value: Any, default: bool = False) -> bool:
    """Canvas booleans are JSON booleans; accept the usual string spellings, else ``default``."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in {"true", "1", "yes"}:
            return True
        if text in {"false", "0", "no", ""}:
            return False
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    return default


def parse_datetime(value: Any) -> datetime | None:
    """An ISO-8601 timestamp as an aware UTC datetime; naive input is taken as UTC."""
    if not isinstance(value, str) or not value or len(value) > 64:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def clean_joined(value: Any, max_len: int | None = None) -> str | None:
    """A list of strings comma-joined (as Canvas stores ``submission_types``), or None.

    None when ``value`` is not a list (absent, or junk): "not known", unlike ``[]`` ("").
    """
    if not isinstance(value, list):
        return None
    return clean_text(",".join(t for t in value if isinstance(t, str)), max_len)
