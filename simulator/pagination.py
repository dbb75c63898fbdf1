"""Canvas pagination: per_page clamping, numbered and bookmark pages, the ``link`` header.

Mirrors CL ``lib/api.rb`` and the BookmarkedCollection gem (CANVAS_API.md §1).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote_plus

T = TypeVar("T")

PER_PAGE = 10
MAX_PER_PAGE = 100
LINK_BUDGET = 6 * 1024  # Canvas caps the link text at 6 KB
DROPPED_PARAMS = frozenset({"page", "per_page", "access_token", "api_key"})
REL_ORDER = ("current", "next", "prev", "first", "last")
REL_PRIORITY = ("next", "last", "prev", "current", "first")
_LEADING_INT = re.compile(r"\s*([+-]?\d+)")


class InvalidPage(ValueError):
    """A page value the collection cannot serve (answered with 400)."""


def ruby_to_i(value: str) -> int:
    """Ruby's String#to_i: the leading integer, or 0 ("abc" -> 0, "12abc" -> 12)."""
    match = _LEADING_INT.match(value)
    return int(match.group(1)) if match else 0


def per_page(query: dict[str, list[str]], default: int = PER_PAGE,
             maximum: int = MAX_PER_PAGE) -> int:
    values = query.get("per_page")
    raw = ruby_to_i(values[-1]) if values else default
    return min(max(raw, 1), maximum)


def _last(query: dict[str, list[str]], key: str) -> str | None:
    values = query.get(key)
    return values[-1] if values else None


def numbered_page(query: dict[str, list[str]]) -> int:
    raw = _last(query, "page")
    if raw is None or raw == "":
        return 1
    if not raw.strip().lstrip("+").isdigit() or int(raw) < 1:
        raise InvalidPage(f"invalid page {raw!r}")
    return int(raw)


@dataclass
class Page:
    """One page of a collection and the page values of its links (rel -> page string)."""

    items: list
    links: dict[str, str]
    per_page: int


def paginate_numbered(items: Sequence[T], query: dict[str, list[str]]) -> Page:
    """Ordinal pages with current/next/prev/first/last; past the end gives []."""
    size = per_page(query)
    page = numbered_page(query)
    total_pages = max(1, -(-len(items) // size))
    start = (page - 1) * size
    chunk = list(items[start:start + size])
    links = {"current": str(page)}
    if start + size < len(items):
        links["next"] = str(page + 1)
    if page > 1:
        links["prev"] = str(page - 1)
    links["first"] = "1"
    links["last"] = str(total_pages)
    return Page(chunk, links, size)


def encode_bookmark(key: list) -> str:
    """``bookmark:`` + urlsafe base64 of the JSON sort key, no padding ([9936614] ->
    ``bookmark:Wzk5MzY2MTRd``)."""
    raw = json.dumps(key, separators=(",", ":"), ensure_ascii=False).encode()
    return "bookmark:" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_bookmark(value: str) -> list | None:
    """The sort key of a ``bookmark:`` page value; None (= first page) when unreadable."""
    token = value[len("bookmark:"):]
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError):
        return None
    return key if isinstance(key, list) else None


def paginate_bookmark(items: Sequence[T], query: dict[str, list[str]],
                      sort_key: Callable[[T], list]) -> Page:
    """Bookmark pages over ``items`` (already sorted by ``sort_key``).

    Links are current, next (while more remain) and first; never prev or last. A numeric
    page above 1 raises InvalidPage; an undecodable bookmark means the first page.
    """
    size = per_page(query)
    raw = _last(query, "page")
    after: list | None = None
    current = "first"
    if raw and raw.startswith("bookmark:"):
        after = decode_bookmark(raw)
        current = raw if after is not None else "first"
    elif raw and raw.strip().isdigit() and int(raw) > 1:
        raise InvalidPage(f"page {raw} is not valid for a bookmarked collection")
    start = 0
    if after is not None:
        start = len(items)
        for index, item in enumerate(items):
            if _after(sort_key(item), after):
                start = index
                break
    chunk = list(items[start:start + size])
    links = {"current": current}
    if start + size < len(items) and chunk:
        links["next"] = encode_bookmark(sort_key(chunk[-1]))
    links["first"] = "first"
    return Page(chunk, links, size)


def _after(key: list, bookmark: list) -> bool:
    """Strictly after the bookmark; None sorts first, like SQL NULLS FIRST."""
    def norm(values: list) -> list[tuple[int, Any]]:
        return [(0, "") if v is None else (1, v) for v in values]

    try:
        return norm(key) > norm(bookmark)
    except TypeError:  # a bookmark of the wrong shape: treat as the first page
        return True


def canonical_query(pairs: list[tuple[str, str]]) -> str:
    """Rails ``to_query`` of the params minus page/per_page/access_token/api_key.

    Arrays (``include[]``) keep their order and render as ``include%5B%5D=term``; a plain key
    given twice keeps its last value; the rendered segments are sorted.
    """
    arrays: dict[str, list[str]] = {}
    scalars: dict[str, str] = {}
    for key, value in pairs:
        if key.endswith("[]"):
            base = key[:-2]
            if base not in DROPPED_PARAMS:
                arrays.setdefault(base, []).append(value)
        elif key not in DROPPED_PARAMS:
            scalars[key] = value
    segments = [f"{quote_plus(k)}={quote_plus(v)}" for k, v in scalars.items()]
    for key, values in arrays.items():
        name = quote_plus(f"{key}[]")
        segments.append("&".join(f"{name}={quote_plus(v)}" for v in values))
    return "&".join(sorted(segments))


def link_header(base_url: str, pairs: list[tuple[str, str]], page: Page) -> str:
    """The ``link`` header value; links are dropped (by priority) past the 6 KB budget."""
    query = canonical_query(pairs)
    prefix = f"{base_url}?{query}&" if query else f"{base_url}?"
    entries: dict[str, str] = {}
    used = 0
    for rel in REL_PRIORITY:
        if rel not in page.links:
            continue
        entry = f'<{prefix}page={page.links[rel]}&per_page={page.per_page}>; rel="{rel}"'
        if used + len(entry) + 1 > LINK_BUDGET:
            break
        entries[rel] = entry
        used += len(entry) + 1
    return ",".join(entries[rel] for rel in REL_ORDER if rel in entries)
