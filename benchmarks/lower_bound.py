"""The lower bound a Canvas server's latency and leaky bucket put on a request plan.

A *request plan* is what a sync asked Canvas for: how many requests, and how they depend on
each other. No client, however clever, can finish that plan faster than

    lower_bound = max(critical_path, bucket_time)

**Critical path.** Some requests need the answer of another before they can be sent: the
per-course lists need the course ids from the course list; the next page of a bookmark list needs
the bookmark from the page before; a per-assignment submission request needs the assignment id.
Each dependent round trip costs at least the server latency ``L``::

    critical_path = depth * L + connect_cost
    depth = max(course_list_depth, 1 + max(per_course_depth), other_list_depth)

where a numbered list with ``k`` pages has depth ``min(k, 2)`` (page 1 carries the ``last`` link,
then every other page can be asked for at once), a bookmark list has depth ``k`` (each ``next``
is only known from the page before), a course's lists run side by side, so its depth is that of
its deepest list, and a per-assignment request adds one round trip after the shallowest list of
its course that names assignment ids. The ``1 +`` assumes the deepest course came on the first
page of the course list, which keeps the figure a lower bound.

**Bucket.** Canvas reserves ``up_front_cost`` (u) units per request in flight and refuses a
request when the bucket's count has reached ``hwm``; a finished request leaves its real cost
``c`` behind, which leaks away at ``outflow`` (o) units per second. So the plan's ``N`` requests
go out in waves of at most ``k_i`` at a time, each wave lasting at least ``L``::

    k_i      = max(1, floor((hwm - R_i) / u))        # in flight without being throttled
    R_{i+1}  = max(0, R_i + k_i * c - o * L)         # cost left behind, minus the leak
    bucket_time = L * (number of waves until N requests are done),   R_0 = 0 (a fresh token)

With Canvas's defaults (hwm 600, u 50, c 0.1, o 10) the first wave is 12, and from then on 11:
the 0.1 units each request leaves behind outrun the 0.4 units that leak in a 40 ms wave, and
``12 * 50 + residue`` no longer fits under 600. After ~70 waves the residue reaches 50 units and
waves shrink to 10. The first wave of 12 is one more than Canvas's ``count >= hwm`` check admits
from an empty bucket (the 12th reservation lands exactly on 600), unless a little has leaked
meanwhile; that slack keeps the figure a bound that no client can beat.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

COURSE_LIST = re.compile(r"^/api/v1/courses/?$")
PER_ASSIGNMENT = re.compile(r"^/api/v1/courses/(\d+)/assignments/(\d+)(/.*)?$")
PER_COURSE = re.compile(r"^/api/v1/courses/(\d+)(/.*)?$")
# Lists whose items carry assignment ids, so per-assignment requests can follow them.
ID_LISTS = ("/assignments", "/assignment_groups")


class RecordLike(Protocol):
    """What the plan needs from a request record (the simulator's ``RequestRecord``)."""

    path: str
    query: dict[str, list[str]]
    status: int


@dataclass(frozen=True)
class BucketSettings:
    """The server's latency and leaky-bucket settings (CANVAS_API.md §2)."""

    latency: float = 0.04
    hwm: float = 600.0
    up_front_cost: float = 50.0
    request_cost: float = 0.1
    outflow: float = 10.0
    connect_cost: float = 0.0


@dataclass(frozen=True)
class RequestPlan:
    """The shape of a sync's requests: how many, and the longest dependent chain."""

    requests: int
    depth: int
    lists: int = 0  # distinct lists (endpoint + course), for the report
    per_assignment: int = 0  # requests about a single assignment


@dataclass(frozen=True)
class LowerBound:
    """The lower bound and its two parts, in seconds."""

    seconds: float
    critical_path_s: float
    bucket_s: float
    waves: int
    first_wave: int  # requests the bucket lets in at once from empty
    limited_by: str  # "latency" (critical path) or "bucket"
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def bucket_concurrency(hwm: float, up_front_cost: float, residue: float = 0.0) -> int:
    """Requests the bucket lets in at once when ``residue`` units are already in it."""
    if up_front_cost <= 0:
        raise ValueError("up_front_cost must be positive")
    return max(1, math.floor((hwm - residue) / up_front_cost))


def bucket_time(requests: int, settings: BucketSettings) -> tuple[float, int]:
    """Time the bucket needs to let ``requests`` through, and the number of waves."""
    if requests <= 0:
        return 0.0, 0
    done, waves, residue = 0, 0, 0.0
    while done < requests:
        admitted = min(requests - done, bucket_concurrency(settings.hwm, settings.up_front_cost,
                                                           residue))
        done += admitted
        waves += 1
        residue = max(0.0, residue + admitted * settings.request_cost
                      - settings.outflow * settings.latency)
    return waves * settings.latency, waves


def _is_bookmark(pages: Iterable[str]) -> bool:
    return any(p == "first" or p.startswith("bookmark:") for p in pages)


def _list_depth(pages: list[str]) -> int:
    """Dependent round trips to read one list, from the ``page`` values that were asked for."""
    if _is_bookmark(pages):
        return len(set(pages))
    return min(len(set(pages)), 2)


def plan_from_records(records: Iterable[RecordLike]) -> RequestPlan:
    """Derive the request plan from what the server saw.

    Throttled (403/429), failed (5xx) and dropped requests are left out: they are retries of
    the plan, not part of it.
    """
    lists: dict[tuple[str, str], list[str]] = defaultdict(list)
    per_assignment: dict[str, int] = defaultdict(int)
    total = 0
    for record in records:
        if record.status in (0, 403, 429) or record.status >= 500:
            continue
        total += 1
        page = (record.query.get("page") or ["1"])[0]
        match = PER_ASSIGNMENT.match(record.path)
        if match and match.group(3):  # .../assignments/:aid/submissions/self and the like
            per_assignment[match.group(1)] += 1
            continue
        match = PER_COURSE.match(record.path)
        if match and not COURSE_LIST.match(record.path):
            lists[(match.group(1), match.group(2) or "")].append(page)
        else:
            lists[("", record.path.rstrip("/"))].append(page)

    course_depth: dict[str, int] = defaultdict(int)
    id_list_depth: dict[str, int] = {}
    top_depth = 0
    course_list_depth = 0
    for (course, path), pages in lists.items():
        depth = _list_depth(pages)
        if not course:
            top_depth = max(top_depth, depth)
            if COURSE_LIST.match(path or "/"):
                course_list_depth = depth
            continue
        course_depth[course] = max(course_depth[course], depth)
        if path in ID_LISTS:
            id_list_depth[course] = min(id_list_depth.get(course, depth), depth)
    for course in per_assignment:
        # Without a list of this course in the plan the ids came from elsewhere: one round trip.
        course_depth[course] = max(course_depth[course], id_list_depth.get(course, 0) + 1)

    depth = top_depth
    if course_depth:
        # The course ids come from the course list: at least one round trip before.
        depth = max(depth, course_list_depth, 1 + max(course_depth.values()))
    return RequestPlan(
        requests=total,
        depth=depth,
        lists=len(lists),
        per_assignment=sum(per_assignment.values()),
    )


def lower_bound(plan: RequestPlan, settings: BucketSettings) -> LowerBound:
    """The fastest any client can carry out ``plan`` against a server with ``settings``."""
    critical = plan.depth * settings.latency + (settings.connect_cost if plan.requests else 0.0)
    bucket_s, waves = bucket_time(plan.requests, settings)
    return LowerBound(
        seconds=max(critical, bucket_s),
        critical_path_s=critical,
        bucket_s=bucket_s,
        waves=waves,
        first_wave=bucket_concurrency(settings.hwm, settings.up_front_cost),
        limited_by="latency" if critical >= bucket_s else "bucket",
        detail={"requests": plan.requests, "depth": plan.depth, "lists": plan.lists,
                "per_assignment": plan.per_assignment},
    )
