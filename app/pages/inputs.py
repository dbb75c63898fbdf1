"""Bounded request input: route ids that fit a database integer, and JSON bodies with limits.

Anything a client sends is checked before it reaches the database or the grade maths, so
hostile input gets a clear 4xx instead of an overflow deep inside a driver (SQLite refuses
integers beyond 64 bits with an error, not "no row") or a ``RecursionError`` in the parser.
"""

from __future__ import annotations

import json
import math
from typing import Any

from werkzeug.routing import IntegerConverter

# Our primary keys are INTEGER: 32 bits on Postgres (a wider value is an error there, not "no
# row"), 64 on SQLite. Ids are bounded by the narrower, which is also within 64-bit signed.
MAX_ID = 2**31 - 1
MAX_JSON_BYTES = 64 * 1024
MAX_JSON_DEPTH = 8


class BoundedIntConverter(IntegerConverter):
    """``<int:...>`` limited to 0..MAX_ID: a larger id is a 404, never a driver error."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min", 0)
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


class BadJSON(ValueError):
    """The body is not JSON we accept; the message says why, in words for a person."""


def _check_depth(text: str, limit: int) -> None:
    """Refuse nesting deeper than ``limit`` before the parser recurses into it."""
    depth = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                raise BadJSON(f"the JSON is nested too deeply (at most {limit} levels)")
        elif ch in "]}":
            depth -= 1


def _refuse_constant(name: str) -> float:
    raise BadJSON(f"{name} is not a number we accept")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BadJSON(f"{text[:20]} is too large a number")
    return value


def parse_json_body(
    raw: bytes, *, max_bytes: int = MAX_JSON_BYTES, max_depth: int = MAX_JSON_DEPTH
) -> Any:
    """Parse a request body as JSON within limits: size, depth and finite numbers only.

    Raises ``BadJSON`` for anything else (including ``NaN``/``Infinity`` and ``1e400``).
    """
    if len(raw) > max_bytes:
        raise BadJSON(f"the request is too large (at most {max_bytes // 1024} KiB)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadJSON("the request is not UTF-8 text") from exc
    _check_depth(text, max_depth)
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        if isinstance(exc, BadJSON):
            raise
        raise BadJSON("the request is not valid JSON") from exc


def parse_id(value: Any) -> int:
    """An object id from JSON: an integer (or a string of digits) in 0..MAX_ID.

    Raises ``ValueError`` for anything else: floats, booleans, ``1e400``, huge numbers.
    """
    if isinstance(value, bool):
        raise ValueError("not an id")
    if isinstance(value, str):
        text = value.strip()
        if not text.isascii() or not text.isdigit() or len(text) > 10:
            raise ValueError("not an id")
        value = int(text)
    if not isinstance(value, int) or not 0 <= value <= MAX_ID:
        raise ValueError("not an id")
    return value
