"""The lower bound a Canvas server's latency and leaky bucket put on a request plan.

A *request plan* is what a sync asked Canvas for: how many requests, and which ones had to wait
for which. No client, however clever, can finish that plan faster than

    lower_bound = max(critical_path, bucket_time, schedule_time)

**Critical path.** Some requests need the answer of another before they can be sent: the
per-course lists need the course ids from the course list; the next page of a bookmark list needs
the bookmark from the page before; a per-assignment submission request needs the assignment id.
These dependencies form a forest (:func:`plan_from_records`); each dependent round trip costs at
least the server latency ``L``::

    critical_path = depth * L + connect_cost

where a numbered list's page 1 carries the ``last`` link, so its other pages all hang under
page 1; a bookmark list's pages form a chain; every per-course list hangs under the course
list's first page; a per-assignment request hangs under the first page of its course's
assignment (or group) list.

**Bucket.** Canvas reserves ``up_front_cost`` (u) units per request in flight and refuses a
request when the bucket's count has reached ``hwm``; a finished request leaves its real cost
``c`` behind, which leaks away at ``outflow`` (o) units per second. So the plan's ``N`` requests
go out in waves of at most ``k_i`` at a time, each wave lasting at least ``L``::

    k_i      = max(1, floor((hwm - R_i + o * L) / u))   # in flight without being throttled
    R_{i+1}  = max(0, R_i + k_i * c - o * L)            # cost left behind, minus the leak
    bucket_time = L * (number of waves until N requests are done),   R_0 = 0 (a fresh token)

**Schedule.** Both at once: the fewest waves of at most ``k_0`` requests in which every request
comes after the one it waits for (:func:`schedule_waves`, Hu's algorithm, exact for a forest of
equal-length requests), times ``L``. A course list followed by 14 course requests needs 3 waves
(1, 12, 2) although its critical path is 2 round trips and its size fits in 2 waves.

With Canvas's defaults (hwm 600, u 50, c 0.1, o 10, L 40 ms) the first wave is 12, and from
then on 11: the 0.1 units each request leaves behind outrun the 0.4 units that leak in a wave,
and ``12 * 50 + residue`` no longer fits under 600. After ~70 waves the residue passes 50 units
and waves shrink to 10. The first wave of 12 is one more than Canvas's ``count >= hwm`` check
admits from an empty bucket (the 12th reservation lands exactly on 600) unless a little has
leaked meanwhile; that slack, the generous placement of dependencies, and counting server and
client work as zero keep the figure a bound that no client can beat.
"""

from __future__ import annotations

import heapq
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
    # The dependency forest: parents[i] is the request that request i had to wait for (-1: none).
    parents: tuple[int, ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class LowerBound:
    """The lower bound and its two parts, in seconds."""

    seconds: float
    critical_path_s: float
    bucket_s: float
    schedule_s: float  # dependencies and bucket width together
    waves: int
    first_wave: int  # requests the bucket lets in at once from empty
    limited_by: str  # "latency", "bucket" or "both" (the schedule)
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def bucket_concurrency(hwm: float, up_front_cost: float, residue: float = 0.0,
                       leak: float = 0.0) -> int:
    """Requests the bucket lets in at once when ``residue`` units are already in it.

    ``leak`` is what drains while they are being let in (outflow x latency), which can make
    room for one more.
    """
    if up_front_cost <= 0:
        raise ValueError("up_front_cost must be positive")
    return max(1, math.floor((hwm - residue + leak) / up_front_cost))


def bucket_time(requests: int, settings: BucketSettings) -> tuple[float, int]:
    """Time the bucket needs to let ``requests`` through, and the number of waves."""
    if requests <= 0:
        return 0.0, 0
    done, waves, residue = 0, 0, 0.0
    while done < requests:
        width = bucket_concurrency(settings.hwm, settings.up_front_cost, residue,
                                   settings.outflow * settings.latency)
        admitted = min(requests - done, width)
        done += admitted
        waves += 1
        residue = max(0.0, residue + admitted * settings.request_cost
                      - settings.outflow * settings.latency)
    return waves * settings.latency, waves


def schedule_waves(parents: tuple[int, ...], width: int) -> int:
    """Fewest waves of at most ``width`` requests that respect the dependencies.

    Each request needs its parent answered in an earlier wave. For a forest of equal-length
    tasks this is Hu's classic problem: run time backwards (the forest becomes an in-forest, leaves
    first) and fill each wave with the available requests deepest in the original forest first;
    that greedy order is optimal, so the result is the true minimum.
    """
    if not parents:
        return 0
    depth = [0] * len(parents)
    for node in range(len(parents)):  # parents always come before their children
        depth[node] = 1 if parents[node] < 0 else depth[parents[node]] + 1
    waiting = [0] * len(parents)
    for parent in parents:
        if parent >= 0:
            waiting[parent] += 1
    ready = [(-depth[n], n) for n in range(len(parents)) if waiting[n] == 0]
    heapq.heapify(ready)
    waves = 0
    while ready:
        wave = [heapq.heappop(ready)[1] for _ in range(min(width, len(ready)))]
        waves += 1
        for node in wave:
            parent = parents[node]
            if parent >= 0:
                waiting[parent] -= 1
                if waiting[parent] == 0:
                    heapq.heappush(ready, (-depth[parent], parent))
    return waves


def _is_bookmark(pages: Iterable[str]) -> bool:
    return any(p == "first" or p.startswith("bookmark:") for p in pages)


class _Forest:
    """Builds the dependency forest: parents are always added before their children."""

    def __init__(self) -> None:
        self.parents: list[int] = []

    def add(self, parent: int) -> int:
        self.parents.append(parent)
        return len(self.parents) - 1

    def add_list(self, pages: list[str], parent: int, ahead: int = 0) -> int:
        """One list's pages under ``parent``; returns the node of its first page.

        Numbered pages: page 1, then every other page at once (page 1 carries rel="last"),
        except ``ahead`` of them, planned without page 1 (their number known beforehand,
        e.g. from the last sync: app.sync.fetch.fetch_split), which hang under ``parent``
        beside it. Bookmark pages: each one after the page before (its "next" link is the
        only way there).
        """
        first = self.add(parent)
        previous = first
        bookmark = _is_bookmark(pages)
        for index in range(len(set(pages)) - 1):
            beside = not bookmark and index < ahead
            previous = self.add(parent if beside else previous if bookmark else first)
        return first


def _planned_ahead(spans: list[tuple[str, float, float]]) -> int:
    """How many of a list's other numbered pages started before its page 1 was answered."""
    firsts = [end for page, _, end in spans if page == "1"]
    if not firsts:
        return 0
    first_end = min(firsts)
    return len({page for page, start, _ in spans
                if page != "1" and page.isdigit() and start < first_end})


def plan_from_records(records: Iterable[RecordLike]) -> RequestPlan:
    """Derive the request plan, and its dependency forest, from what the server saw.

    Throttled (403/429), failed (5xx) and dropped requests are left out: they are retries of
    the plan, not part of it. Every per-course list hangs under the course list's first page
    and every per-assignment request under the first page of its course's assignment (or
    group) list: the most generous reading, which keeps the bound a bound.
    """
    lists: dict[tuple[str, str], list[str]] = defaultdict(list)
    # (start, end) of each numbered page, where the records carry them: a page asked for
    # before page 1 was answered was planned without it (Forest.add_list's ``ahead``).
    spans: dict[tuple[str, str], list[tuple[str, float, float]]] = defaultdict(list)
    per_assignment: dict[str, int] = defaultdict(int)
    total = 0
    for record in records:
        if record.status in (0, 403, 429) or record.status >= 500:
            continue
        total += 1
        page = (record.query.get("page") or ["1"])[0]
        start, end = getattr(record, "start", None), getattr(record, "end", None)
        match = PER_ASSIGNMENT.match(record.path)
        if match and match.group(3):  # .../assignments/:aid/submissions/self and the like
            per_assignment[match.group(1)] += 1
            continue
        match = PER_COURSE.match(record.path)
        if match and not COURSE_LIST.match(record.path):
            key = (match.group(1), match.group(2) or "")
        else:
            key = ("", record.path.rstrip("/"))
        lists[key].append(page)
        if isinstance(start, float) and isinstance(end, float):
            spans[key].append((page, start, end))

    forest = _Forest()
    course_list = -1
    for (course, path), pages in lists.items():
        if not course:
            first = forest.add_list(pages, -1)
            if COURSE_LIST.match(path or "/"):
                course_list = first
    id_lists: dict[str, int] = {}
    for (course, path), pages in lists.items():
        if course:
            first = forest.add_list(pages, course_list, _planned_ahead(spans[(course, path)]))
            if path in ID_LISTS:
                id_lists.setdefault(course, first)
    for course, count in per_assignment.items():
        for _ in range(count):
            forest.add(id_lists.get(course, course_list))

    parents = tuple(forest.parents)
    depth = [0] * len(parents)
    for node, parent in enumerate(parents):
        depth[node] = 1 if parent < 0 else depth[parent] + 1
    return RequestPlan(
        requests=total,
        depth=max(depth, default=0),
        lists=len(lists),
        per_assignment=sum(per_assignment.values()),
        parents=parents,
    )


def lower_bound(plan: RequestPlan, settings: BucketSettings) -> LowerBound:
    """The fastest any client can carry out ``plan`` against a server with ``settings``."""
    connect = settings.connect_cost if plan.requests else 0.0
    critical = plan.depth * settings.latency + connect
    bucket_s, waves = bucket_time(plan.requests, settings)
    width = bucket_concurrency(settings.hwm, settings.up_front_cost,
                               leak=settings.outflow * settings.latency)
    if plan.parents:
        scheduled = schedule_waves(plan.parents, width)
    else:  # a plan given only by its size and depth
        scheduled = max(plan.depth, math.ceil(plan.requests / width)) if plan.requests else 0
    schedule_s = scheduled * settings.latency + connect
    seconds = max(critical, bucket_s, schedule_s)
    if critical >= seconds:
        limited_by = "latency"
    elif bucket_s >= seconds:
        limited_by = "bucket"
    else:
        limited_by = "both"
    return LowerBound(
        seconds=seconds,
        critical_path_s=critical,
        bucket_s=bucket_s,
        schedule_s=schedule_s,
        waves=max(waves, scheduled),
        first_wave=width,
        limited_by=limited_by,
        detail={"requests": plan.requests, "depth": plan.depth, "lists": plan.lists,
                "per_assignment": plan.per_assignment},
    )


def observed_bounds(records: Iterable[Any], bound: LowerBound) -> dict[str, float]:
    """The two bounds the issue asks for, from what the server measured of each request (its
    start to its last byte, so a big gradebook's rendering and transfer count):

    - ``per_course_s``: the plan's bound, or the longest observed chain if longer: one
      request, after the course list's first page when it waited for it (it started only once
      that page was answered). With one request per course, the biggest gradebook sets it.
    - ``spread_s``: the plan's bound, or every request's observed time spread evenly over the
      requests the bucket lets in flight at once (``bound.first_wave``): what a plan that
      splits the biggest gradebooks into concurrent pages could approach.
    """
    done = [r for r in records if r.status not in (0, 403, 429) and r.status < 500]
    if not done:
        return {"per_course_s": bound.seconds, "spread_s": bound.seconds}
    firsts = [r for r in done if COURSE_LIST.match(r.path)
              and (r.query.get("page") or ["1"])[0] == "1"]
    head = min(firsts, key=lambda r: r.start) if firsts else None
    chain = 0.0
    for r in done:
        span = r.end - r.start
        if head is not None and r is not head and r.start >= head.end \
                and PER_COURSE.match(r.path) and not COURSE_LIST.match(r.path):
            span += head.end - head.start
        chain = max(chain, span)
    work = sum(r.end - r.start for r in done)
    return {"per_course_s": max(bound.seconds, chain),
            "spread_s": max(bound.seconds, work / max(1, bound.first_wave))}
