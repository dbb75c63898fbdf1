"""A hostile Canvas: what a server a user points GradeSync at can do to exhaust its memory.

Anyone can register an account and enter their own server as "Canvas", so the client must
survive a server that lies. Three behaviours, switched on in :class:`~simulator.SimulatorConfig`:

- ``hostile_last_page``: every numbered list claims ``rel="last"`` is this page (and keeps
  offering ``next`` up to it), while pages past the real end are ``[]`` as on real Canvas. A
  client that plans every page from ``last`` up front builds that many URLs and futures.
- ``hostile_gzip_bytes``: every API answer is a ``content-encoding: gzip`` body that inflates
  to this many bytes of zeros (about 1000:1, so 256 MiB costs ~250 KiB on the wire).
- ``hostile_endless_gradebook``: a course's gradebook lists (``assignment_groups``, and the
  split plan's ``assignments``) never end: every page links a ``next`` one (and no ``last``),
  and each page past the real ones is this many small junk groups, each embedding one
  assignment (or this many assignments): a few dozen bytes an item, so a client that bounds
  these lists by bytes alone reads tens of MiB of them.
"""

from __future__ import annotations

import functools
import re
import zlib

_ENTRY = re.compile(r'<([^>]*)>;\s*rel="([a-z]+)"')
_PAGE = re.compile(r"(?<=[?&])page=[^&]*")
_CHUNK = 1024 * 1024


def inflate_last(link: str, last_page: int) -> str:
    """A ``link`` header that says the list ends at ``last_page`` (numbered pages only)."""
    links = {rel: url for url, rel in _ENTRY.findall(link)}
    current = links.get("current")
    if current is None:
        return link
    match = _PAGE.search(current)
    if match is None or not match.group(0)[5:].isdigit():
        return link  # a bookmark list: no last to lie about
    page = int(match.group(0)[5:])

    def at(n: int) -> str:
        return _PAGE.sub(f"page={n}", current, count=1)

    entries = [(at(page), "current")]
    if page < last_page:
        entries.append((at(page + 1), "next"))
    entries += [(at(1), "first"), (at(last_page), "last")]
    return ",".join(f'<{url}>; rel="{rel}"' for url, rel in entries)


GRADEBOOK_LIST = re.compile(r"/api/v1/courses/[^/]+/(assignment_groups|assignments)$")


def endless_link(link: str) -> str:
    """A ``link`` header whose list goes on past ``current``: next is the page after it."""
    links = {rel: url for url, rel in _ENTRY.findall(link)}
    current = links.get("current")
    match = _PAGE.search(current) if current else None
    if current is None or match is None or not match.group(0)[5:].isdigit():
        return link
    page = int(match.group(0)[5:])
    nxt = _PAGE.sub(f"page={page + 1}", current, count=1)
    first = links.get("first", current)
    return f'<{current}>; rel="current",<{nxt}>; rel="next",<{first}>; rel="first"'


def junk_gradebook_page(path: str, page: int, items: int) -> bytes:
    """``items`` small groups with one embedded assignment each (``assignment_groups``), or
    ``items`` small assignments (ids of their own on each page)."""
    base = page * items * 2
    if path.endswith("/assignments"):
        rows = [b'{"id":%d,"assignment_group_id":1,"submission":{}}' % (base + n)
                for n in range(items)]
    else:
        rows = [b'{"id":%d,"assignments":[{"id":%d,"submission":{}}]}'
                % (base + n, base + items + n) for n in range(items)]
    return b"[" + b",".join(rows) + b"]"


@functools.lru_cache(maxsize=4)
def gzip_bomb(size: int) -> bytes:
    """A gzip member that inflates to ``size`` zero bytes, built without holding them."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)  # 16+: gzip framing
    zeros = bytes(_CHUNK)
    parts = []
    for start in range(0, size, _CHUNK):
        parts.append(packer.compress(zeros[: min(_CHUNK, size - start)]))
    parts.append(packer.flush())
    return b"".join(parts)
