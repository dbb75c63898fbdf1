"""The fetching half of a sync: the HTTP worker pool and what one worker does for a course.

Workers only talk to Canvas and parse: no database, no session. The one-request plan's
gradebook (``assignment_groups?include[]=assignments&include[]=submission``) is parsed and
hashed on the worker that fetched it, so that CPU work overlaps other requests instead of
queueing in the single writer thread.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ThreadPoolExecutor, wait
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

from app.canvas.errors import NotFound, NotPermitted, ScopeRefused
from app.canvas.jsonbody import RawPages
from app.canvas.protocol import CanvasClient, MeasuredClient
from app.logs import with_request_id
from app.models import utcnow
from app.sync.digest import Unparsed, response_digest
from app.sync.includes import check_gradebook_includes
from app.sync.parse import CourseData, Gradebook, parse_gradebook
from app.sync.result import RunStats

if TYPE_CHECKING:
    from app.sync.writer import CourseWriter

T = TypeVar("T")

# A gradebook whose last written version held this many assignments or more is fetched as
# concurrent pages of PAGE_SIZE assignments (fetch_split): CANVAS_PERFORMANCE_TESTING.md,
# "Splitting the biggest gradebooks". Below it one request is cheaper: every request costs
# the throttle bucket its up-front units. PAGE_SIZE is Canvas's largest per_page: smaller
# pages shorten the longest response further but cost a wave of the bucket (measured there).
SPLIT_AT = 120
PAGE_SIZE = 100


class FetchPool(ThreadPoolExecutor):
    """The HTTP worker threads of one sync.

    On the way out after a failure it does not sit through the other requests' retries and
    back-offs: queued requests are cancelled and those in flight end on their own.
    """

    def __init__(self, workers: int) -> None:
        super().__init__(max_workers=max(1, workers), thread_name_prefix="canvas-fetch")
        self.succeeded = False

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown(wait=self.succeeded, cancel_futures=True)

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        """Run ``fn`` on a worker thread that logs under the caller's request id."""
        return super().submit(with_request_id(fn), *args, **kwargs)


def fetch_gradebook(
    client: CanvasClient, canvas_course_id: int, known: str | None = None,
    size: int | None = None,
) -> Gradebook | Unparsed:
    """One course's gradebook in ONE request, parsed and hashed (runs on a worker thread).

    Only the student's own assignments are kept (those with their submission). A gradebook
    without the included assignments or submissions (a developer key that strips
    ``include[]``) raises ``BadResponse``: the course keeps its stored rows. ``known``: the
    digest of the raw bytes stored with the course; the same bytes come back
    :class:`~app.sync.digest.Unparsed` (:mod:`app.sync.digest`). ``size``: the assignments
    of the course's last written gradebook; from ``SPLIT_AT`` on, :func:`fetch_split`.
    """
    if size is not None and size >= SPLIT_AT and isinstance(client, SplitGradebookClient):
        split = fetch_split(client, canvas_course_id, known, size)
        if split is not None:
            return split
    if isinstance(client, RawGradebookClient):
        pages = client.get_assignment_groups_pages(canvas_course_id)
        digest = response_digest(pages)

        def parse() -> Gradebook:
            return _parsed(client, canvas_course_id,
                           client.decode_pages(canvas_course_id, pages), digest)

        if digest == known:
            _forget(pages)
            return Unparsed(digest, parse)
        return parse()
    groups = client.get_assignment_groups(
        canvas_course_id, include_assignments=True, include_submission=True
    )
    return _parsed(client, canvas_course_id, groups, None)


def _parsed(client: object, canvas_course_id: int, groups: Any,
            digest: str | None) -> Gradebook:
    check_gradebook_includes(canvas_course_id, groups, host=_host(client))
    gradebook = replace(parse_gradebook(canvas_course_id, groups, own_only=True),
                        response_digest=digest)
    gradebook.content_hash  # noqa: B018 - computed (and cached) on this thread
    return gradebook


def fetch_split(client: SplitGradebookClient, canvas_course_id: int, known: str | None,
                size: int) -> Gradebook | Unparsed | None:
    """A big gradebook as concurrent pages: the groups alone (``assignment_groups`` without
    ``include[]=assignments``) beside ``/courses/:id/assignments?include[]=submission`` in
    pages of about ``PAGE_SIZE``, all asked for at once (their number from ``size``; a list
    that grew is read again from page 1's ``rel="last"``). No one response is long, and the
    pages are one round trip, so the biggest course no longer sets the sync's critical path.

    The assignments are put back into their groups (by ``assignment_group_id``, in the list's
    order: group position, position, id, the order the groups embed them in), so the parser
    sees what the one-request plan gives and stores the same rows. None when the pages carry
    assignments but not one ``submission`` (a developer key that strips ``include[]``): the
    caller falls back to the one request, whose include check reports it.
    """
    # Always PAGE_SIZE a page: the same assignments give the same pages (and digest) whatever
    # size the plan was made from.
    pages = math.ceil(size / PAGE_SIZE)
    with ThreadPoolExecutor(1, thread_name_prefix="canvas-groups") as side:
        groups_future = side.submit(with_request_id(client.get_group_pages), canvas_course_id)
        assignment_pages = client.get_assignment_pages(canvas_course_id, PAGE_SIZE, pages)
        group_pages = groups_future.result()
    # A marker page between the two lists: these bytes never share a digest with the
    # one-request plan's, nor with the same bodies cut between the lists elsewhere.
    digest = response_digest([*group_pages, b"\0split\0", *assignment_pages])
    assignments = client.decode_pages(canvas_course_id, assignment_pages, "assignments")
    if assignments and not any(isinstance(a, Mapping) and "submission" in a
                               for a in assignments):
        return None
    if digest == known:
        _forget(group_pages)
        return Unparsed(digest, lambda: _split_parsed(client, canvas_course_id, group_pages,
                                                      assignments, digest))
    return _split_parsed(client, canvas_course_id, group_pages, assignments, digest)


def _split_parsed(client: SplitGradebookClient, canvas_course_id: int,
                  group_pages: Sequence[bytes], assignments: list[Any], digest: str
                  ) -> Gradebook:
    groups = client.decode_pages(canvas_course_id, group_pages)
    by_group: dict[str, list[Any]] = {}
    for assignment in assignments:
        if isinstance(assignment, Mapping):
            by_group.setdefault(str(assignment.get("assignment_group_id")), []).append(assignment)
    joined = [{**group, "assignments": by_group.get(str(group.get("id")), [])}
              if isinstance(group, Mapping) else group for group in groups]
    return _parsed(client, canvas_course_id, joined, digest)


@runtime_checkable
class RawGradebookClient(Protocol):
    """A client that hands over the gradebook's raw pages (the real one does)."""

    def get_assignment_groups_pages(self, course_id: int) -> list[bytes]: ...

    def decode_pages(self, course_id: int, pages: Sequence[bytes],
                     endpoint_name: str = ...) -> list[Any]: ...


@runtime_checkable
class SplitGradebookClient(RawGradebookClient, Protocol):
    """A client that also fetches the split plan's two lists as raw pages (the real one)."""

    def get_group_pages(self, course_id: int) -> list[bytes]: ...

    def get_assignment_pages(self, course_id: int, per_page: int,
                             pages: int = ...) -> list[bytes]: ...


def _forget(pages: Sequence[bytes]) -> None:
    """Let go of the pages the client decoded to count their items (kept for the parse):
    unchanged bytes are not parsed, and the course may wait a while for the writer."""
    if isinstance(pages, RawPages):
        pages.forget()


def _host(client: object) -> str:
    base = str(getattr(client, "base_url", "") or "Canvas")
    return base.split("://", 1)[-1]


def warm_start_limiter(client: CanvasClient, writer: CourseWriter) -> None:
    """Let the first burst use the whole bucket when the database says it has drained.

    The last activity on the token is the later of the connection's last successful sync's
    start and the end of the user's last recorded run. Only one sync per user runs at a time,
    so a token idle for longer than the bucket's drain time has an empty bucket. Both come
    from ``writer.load_existing`` (read with the courses: no statement of its own).
    """
    if not isinstance(client, MeasuredClient):
        return
    limiter = client.limiter
    if writer.last_synced_at is not None or writer.canvas_user_known:
        # Canvas accepted this token before (a sync, or the profile check when connecting):
        # fan out the course lists at once (app.sync.lists.ListReader).
        limiter.note_accepted()
    seen = [t for t in (writer.last_synced_at, writer.last_run_end) if t is not None]
    if not seen or (utcnow() - max(seen)).total_seconds() > 2 * limiter.drain_seconds:
        limiter.assume_drained()


def arrivals(
    pool: FetchPool,
    client: CanvasClient,
    courses: list[CourseData],
    prefetched: Mapping[int, Future[Gradebook | Unparsed]],
    stats: RunStats,
    stored: Mapping[int, Mapping[str, Any]],
    extras: Callable[[int], Sequence[Future[Any]]] = lambda canvas_course_id: (),
    on_wait: Callable[[], None] = lambda: None,
) -> Iterator[tuple[CourseData, Gradebook | Unparsed | NotFound | NotPermitted]]:
    """Each course's gradebook as soon as the course is ready: its gradebook arrived and so
    did the requests ``extras`` names for it (its grading scheme and periods, which the
    write needs). A course still waiting for those does not hold up the courses behind it:
    the single writer thread writes whichever courses are ready (requests already
    prefetched are reused).

    Of the courses that become ready together, successes come first, in request order: every
    course whose data arrived is written before a failure that arrived with it stops the
    sync. A failed gradebook is reported without waiting for its extras. A course that is
    gone or closed since the course list was read comes back as its ``NotFound`` /
    ``NotPermitted``; any other failure is raised. ``on_wait`` runs before each wait.
    """
    futures: dict[Future[Gradebook | Unparsed], CourseData] = {}
    for course in courses:
        future = prefetched.get(course.canvas_course_id)
        if future is None:
            future = submit_gradebook(pool, client, course.canvas_course_id,
                                      stored.get(course.canvas_course_id))
        futures[future] = course
    order = {future: index for index, future in enumerate(futures)}
    waiting_on = {future: extras(course.canvas_course_id) for future, course in futures.items()}
    remaining = set(futures)

    def ready(future: Future[Gradebook | Unparsed]) -> bool:
        return future.done() and (future.exception() is not None
                                  or all(extra.done() for extra in waiting_on[future]))

    while remaining:
        done = [future for future in remaining if ready(future)]
        if not done:
            on_wait()  # e.g. the progress the writer held back (Reporter.idle)
            t_wait = time.monotonic()
            outstanding = {f for future in remaining
                           for f in (future, *waiting_on[future]) if not f.done()}
            wait(outstanding, return_when=FIRST_COMPLETED)
            stats.add_time("wait_s", time.monotonic() - t_wait)
            continue
        remaining.difference_update(done)
        for future in sorted(done, key=lambda f: (f.exception() is not None, order[f])):
            try:
                yield futures[future], future.result()
            except ScopeRefused:
                raise  # the key's scopes, not this course: every course would say the same
            except (NotFound, NotPermitted) as exc:
                yield futures[future], exc


def submit_gradebook(pool: Executor, client: CanvasClient, canvas_course_id: int,
                     known: Mapping[str, Any] | None) -> Future[Gradebook | Unparsed]:
    """The course's gradebook request on the pool (``known``: its stored row, for the raw
    digest and the size that may split it; None: parse whatever comes)."""
    return pool.submit(fetch_gradebook, client, canvas_course_id, known_digest(known),
                       known_size(known))


def prefetch(
    pool: FetchPool,
    client: CanvasClient,
    stored: Mapping[int, Mapping[str, Any]],
    skip_concluded: bool,
    incremental: bool = True,
) -> dict[int, Future[Gradebook | Unparsed]]:
    """Request the gradebooks of the stored courses the sync will most likely need (with
    ``skip_concluded``, an incremental sync that is not the day's sweep, not those of the
    concluded ones).

    Only data of courses that the course list then confirms is ever written; a course dropped
    meanwhile costs one wasted request, and its error is ignored. A full sync
    (``incremental`` False) parses every gradebook on the worker, unchanged bytes or not.
    """
    wanted = [
        (canvas_course_id, course) for canvas_course_id, course in stored.items()
        # Probably still concluded (or still in no list): no request unless a list says so.
        if not (skip_concluded and (course["concluded"] and course["content_hash"]
                                    or course["missing_since"] is not None))
    ]
    # The split gradebooks first (their pages start in the first wave), then the others in
    # the order they were first stored.
    wanted.sort(key=lambda item: (known_size(item[1]) or 0) < SPLIT_AT)
    return {
        canvas_course_id: pool.submit(fetch_gradebook, client, canvas_course_id,
                                      known_digest(course) if incremental else None,
                                      known_size(course))
        for canvas_course_id, course in wanted
    }


def known_digest(stored: Mapping[str, Any] | None) -> str | None:
    """The raw-bytes digest stored with a course's last written gradebook, if any."""
    return stored.get("response_digest") if stored is not None else None


def known_size(stored: Mapping[str, Any] | None) -> int | None:
    """How many assignments the course's last written gradebook held, if known."""
    return stored.get("gradebook_size") if stored is not None else None
