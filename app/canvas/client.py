"""The Canvas REST client every sync goes through: pooled, retrying, throttle-aware, paginating.

Usage::

    with CanvasAPIService("https://canvas.example.edu", token) as client:
        courses = client.get_courses()            # the default list
        groups = client.get_assignment_groups(courses[0]["id"])
        print(client.stats.snapshot())

Transport (:mod:`app.canvas.transport`, :mod:`app.canvas.session`): one
``requests.Session`` per client with a connection pool (10 pools × 20 connections), a
``(connect, read)`` timeout on every request (read 60 s: Canvas's load balancers give up
then), ``User-Agent: GradeSync/0.1`` (hosted Canvas refuses requests without one) and the token
only in the ``Authorization`` header, sent only to the Canvas origin and masked in every log
line.

Retries (GET only): throttles (403 "Rate Limit Exceeded", 429), 500/502/503/504, dropped
connections and read timeouts share one loop: exponential back-off with jitter that honours
``Retry-After``, then the request queues again behind the token's limiter. Failures to connect
are retried by urllib3 underneath. A 401 with ``WWW-Authenticate`` (bad, expired or revoked
token) is never retried, nor is any other 4xx.

Concurrency (:mod:`app.canvas.ratelimit`): every request takes a slot from the token's
process-wide :class:`~app.canvas.ratelimit.ThrottleLimiter`, which keeps as many requests in
flight as Canvas's leaky bucket allows and no more.

Pagination: ``per_page=100`` on every list. When the first page's ``link`` header has a
numbered ``rel="last"``, pages 2..last are fetched concurrently (``page_workers`` threads, all
through the limiter, at most ``2 × page_workers`` pages planned ahead) and joined in order;
otherwise ``rel="next"`` is followed one page at a time (bookmark pages), past short and empty
pages, until there is no ``next``. Either way a list has at most ``MAX_PAGES`` pages: a
``last`` beyond that fails at once with :class:`ResponseTooLarge`, before any page is planned.

Safety (:mod:`app.outbound`): the base URL is checked against the outbound policy when the
client is built, and every connection resolves the host once, refuses non-public addresses
(unless the policy allows them) and connects to the address it checked.

Errors (:mod:`app.canvas.errors`, re-exported here)::

    CanvasError
    ├── InvalidToken        401 with WWW-Authenticate: bad / expired / revoked / missing token
    ├── NotPermitted        401 without WWW-Authenticate, or 403 that is not a throttle
    ├── NotFound            404
    ├── RateLimited         still throttled after the retries
    ├── CanvasUnavailable   5xx or connection failures after the retries
    ├── CanvasTimeout       no answer within the timeout
    ├── UnsafeAddress       the host resolved to an address the outbound policy refuses
    └── BadResponse         unreadable body (bad JSON, a list endpoint that returns no list)
        └── ResponseTooLarge  a body or a page count over GradeSync's limits
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Generator, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from datetime import datetime
from typing import Any, Self
from urllib.parse import urlsplit

import requests

from app.canvas.errors import (
    BadResponse,
    CanvasError,
    CanvasTimeout,
    CanvasUnavailable,
    InvalidToken,
    NotFound,
    NotPermitted,
    RateLimited,
    ResponseTooLarge,
    UnsafeAddress,
)
from app.canvas.grading import GradingEndpoints
from app.canvas.paging import (
    COURSE_INCLUDES,
    _page_number,
    _with_page,
    canvas_time,
)
from app.canvas.ratelimit import ThrottleLimiter
from app.canvas.session import USER_AGENT, ClientStats
from app.canvas.transport import CanvasTransport, Params
from app.outbound import STRICT, OutboundPolicy

__all__ = [
    "BadResponse",
    "CanvasAPIService",
    "CanvasError",
    "CanvasTimeout",
    "CanvasUnavailable",
    "ClientStats",
    "InvalidToken",
    "NotFound",
    "NotPermitted",
    "RateLimited",
    "ResponseTooLarge",
    "UnsafeAddress",
    "canvas_time",
]

logger = logging.getLogger(__name__)

# At most this many pages in one list (planned from `last` or followed through `next`).
MAX_PAGES = 10_000


class CanvasAPIService(GradingEndpoints):
    """A Canvas REST client for one token on one Canvas host.

    :param base_url: the Canvas address, e.g. ``https://canvas.example.edu`` (a trailing
        ``/api/v1`` is accepted).
    :param token: the access token; it is only ever sent in the ``Authorization`` header.
    :param timeout: ``(connect, read)`` seconds for every request.
    :param max_retries: retries of a 5xx, a dropped connection or a throttle before giving up.
    :param page_workers: threads fetching the pages of one numbered list.
    :param limiter: the throttle limiter; by default the process-wide one of this token.
    :param backoff_factor: first back-off step in seconds (doubles per retry).
    :param timeout_retries: retries of a read timeout (each may take ``timeout[1]`` seconds).
    :param per_page: page size asked for on every list (Canvas caps it at 100).
    :param record_requests: keep a record of every attempt in ``stats.records``.
    :param policy: where connections may go (the base URL is checked now, each connection too).
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: tuple[float, float] = (5.0, 60.0),
        max_retries: int = 5,
        page_workers: int = 5,
        limiter: ThrottleLimiter | None = None,
        backoff_factor: float = 0.5,
        max_backoff: float = 30.0,
        timeout_retries: int = 1,
        per_page: int = 100,
        user_agent: str = USER_AGENT,
        record_requests: bool = False,
        policy: OutboundPolicy = STRICT,
        refresher: Callable[[], str | None] | None = None,
    ) -> None:
        self.transport = CanvasTransport(
            base_url,
            token,
            timeout=timeout,
            max_retries=max_retries,
            limiter=limiter,
            backoff_factor=backoff_factor,
            max_backoff=max_backoff,
            timeout_retries=timeout_retries,
            user_agent=user_agent,
            record_requests=record_requests,
            policy=policy,
            refresher=refresher,
        )
        self.page_workers = max(1, page_workers)
        self.per_page = per_page
        self._get = self.transport.get

    def __repr__(self) -> str:
        return repr(self.transport).replace("CanvasTransport", "CanvasAPIService", 1)

    @property
    def base_url(self) -> str:
        return self.transport.base_url

    @property
    def host(self) -> str:
        return self.transport.host

    @property
    def stats(self) -> ClientStats:
        """Counters of every request this client sent (see :class:`ClientStats`)."""
        return self.transport.stats

    @property
    def limiter(self) -> ThrottleLimiter:
        """The token's limiter, shared with every other client on the same token."""
        return self.transport.limiter

    @property
    def max_retries(self) -> int:
        return self.transport.max_retries

    @property
    def timeout_retries(self) -> int:
        return self.transport.timeout_retries

    # --- lifecycle ------------------------------------------------------------------------

    def close(self) -> None:
        """Close the pooled connections."""
        self.transport.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- endpoints ------------------------------------------------------------------------

    def get_current_user(self) -> dict[str, Any]:
        """``GET /users/self``: the token's owner (also the cheapest token check)."""
        return self._get_object("/users/self")

    def get_profile(self) -> dict[str, Any]:
        """``GET /users/self/profile``: the owner's profile, with ``time_zone`` (an IANA name)."""
        return self._get_object("/users/self/profile")

    def get_courses(
        self,
        *,
        enrollment_state: str | None = None,
        enrollment_type: str | None = "student",
        states: Sequence[str] = (),
    ) -> list[dict[str, Any]]:
        """One ``GET /courses`` list (every page) with the term, the student's total scores
        and ``concluded``; student enrollments only unless ``enrollment_type`` says otherwise
        (TA, teacher and observer enrollments carry no scores of the student's own).

        Which courses a list holds (CL ``courses_controller.rb#courses_for_user``,
        CANVAS_API.md "Read first"): with no arguments, the *currentish* ones (active or
        invited in an available course, courses over by date included); ``states``
        (``state[]``) by the course's state, ``completed`` being the courses a teacher
        concluded (:meth:`get_completed_courses`); ``enrollment_state`` filters by date
        (alone, ``completed`` is only the default list's courses over by date). A completed
        enrollment in an available course (the registrar's) is in none of them: see
        :meth:`get_student_enrollments`.

        Canvas REST has no ``updated_since`` (and courses have no ``updated_at``): the sync
        decides itself what changed. Date-restricted courses come back as
        ``{"id": N, "access_restricted_by_date": true}``.
        """
        params: Params = list(COURSE_INCLUDES)
        if enrollment_state:
            params.append(("enrollment_state", enrollment_state))
        if enrollment_type:
            params.append(("enrollment_type", enrollment_type))
        params.extend(("state[]", state) for state in states)
        return self._get_list("/courses", params)

    def get_completed_courses(self) -> list[dict[str, Any]]:
        """``GET /courses?state[]=completed``: the courses a teacher concluded (completed
        enrollments in completed courses), which the default list leaves out."""
        return self.get_courses(states=("completed",))

    def get_course(self, course_id: int | str) -> dict[str, Any]:
        """``GET /courses/:id`` with the term, total scores and ``concluded``.

        401/404 here is Canvas's proof that the student is no longer enrolled.
        """
        params: Params = list(COURSE_INCLUDES)
        return self._get_object(f"/courses/{course_id}", params)

    def get_assignment_groups(
        self,
        course_id: int | str,
        *,
        include_assignments: bool = True,
        include_submission: bool = True,
    ) -> list[dict[str, Any]]:
        """``GET /courses/:id/assignment_groups``: groups, weights, rules and, in the same
        request, every assignment with the student's own submission."""
        params: Params = [("exclude_response_fields[]", "description")]
        if include_assignments:
            params.append(("include[]", "assignments"))
            if include_submission:
                params.append(("include[]", "submission"))
        return self._get_list(f"/courses/{course_id}/assignment_groups", params)

    def get_assignments(
        self, course_id: int | str, include_submission: bool = False
    ) -> list[dict[str, Any]]:
        """``GET /courses/:id/assignments`` (published, visible assignments)."""
        params: Params = [("include[]", "submission")] if include_submission else []
        return self._get_list(f"/courses/{course_id}/assignments", params)

    def get_submissions(
        self,
        course_id: int | str,
        graded_since: datetime | str | None = None,
        submitted_since: datetime | str | None = None,
    ) -> list[dict[str, Any]]:
        """``GET /courses/:id/students/submissions``: all of the student's submissions in one
        (bookmark-paginated) list; the ``*_since`` filters are strict ``>`` on Canvas's side."""
        params: Params = []
        if graded_since is not None:
            params.append(("graded_since", canvas_time(graded_since)))
        if submitted_since is not None:
            params.append(("submitted_since", canvas_time(submitted_since)))
        return self._get_list(f"/courses/{course_id}/students/submissions", params)

    def get_enrollments(
        self, states: Sequence[str] = (), types: Sequence[str] = ()
    ) -> list[dict[str, Any]]:
        """``GET /users/self/enrollments`` (bookmark pages), with ``grades`` for a student's
        own enrollments; ``states`` and ``types`` are ``state[]`` and ``type[]``."""
        params: Params = [("state[]", state) for state in states]
        params.extend(("type[]", kind) for kind in types)
        return self._get_list("/users/self/enrollments", params)

    def get_student_enrollments(self) -> list[dict[str, Any]]:
        """Every current or concluded student enrollment of the token's owner, each with
        ``course_id`` and ``grades`` (``current_score``, ``final_score``, ``current_grade``,
        ``final_grade``; only ``html_url`` while the course hides totals).

        ``state[]=current_and_concluded`` is active enrollments in available courses and
        completed ones (CL ``enrollments_api_controller.rb#user_index_enrollments``): the
        only list that shows an enrollment the registrar completed in a course that is still
        available, and Canvas's scores for it (``GET /courses/:id`` answers
        ``"enrollments": []`` for a completed enrollment).
        """
        return self.get_enrollments(("current_and_concluded",), ("StudentEnrollment",))

    # --- JSON helpers ---------------------------------------------------------------------

    def _get_object(self, path: str, params: Params | None = None) -> dict[str, Any]:
        response = self._get(self.transport.api_url + path, params)
        endpoint = urlsplit(self.transport.api_url + path).path
        body = self._json(response, endpoint)
        if not isinstance(body, dict):
            raise self._bad(endpoint, f"expected an object, got {type(body).__name__}")
        return body

    def _json(self, response: requests.Response, endpoint: str) -> Any:
        try:
            return response.json()
        except ValueError:
            raise self._bad(endpoint, "the body is not JSON") from None

    def _bad(self, endpoint: str, detail: str) -> BadResponse:
        return BadResponse(
            f"Canvas at {self.host} sent a response GradeSync cannot read for {endpoint} "
            f"({detail}): try again later, and report it if it keeps happening.",
            host=self.host,
            endpoint=endpoint,
        )

    def _page_items(self, response: requests.Response, endpoint: str) -> list[Any]:
        body = self._json(response, endpoint)
        if not isinstance(body, list):
            raise self._bad(endpoint, f"expected a list, got {type(body).__name__}")
        return body

    # --- pagination -----------------------------------------------------------------------

    def _get_list(self, path: str, params: Params) -> list[Any]:
        """Every item of a paginated list, in Canvas's order."""
        url = self.transport.api_url + path
        first = self._get(url, [*params, ("per_page", str(self.per_page))])
        path = urlsplit(url).path  # errors name the endpoint as it is on the wire
        items = self._page_items(first, path)
        next_url = first.links.get("next", {}).get("url")
        last_url = first.links.get("last", {}).get("url")
        last = _page_number(last_url)
        if last is not None and last > MAX_PAGES:
            raise self._too_many_pages(path, f'rel="last" is page {last}')
        if next_url and last_url and last is not None and last > 1:
            final: requests.Response | None = None
            plan = (_with_page(last_url, n) for n in range(2, last + 1))
            with closing(self._fetch_pages(plan)) as pages:
                for response in pages:
                    items.extend(self._page_items(response, path))
                    final = response
            # The list may have grown while we read it: follow on from the last page.
            next_url = final.links.get("next", {}).get("url") if final is not None else None
        seen: set[str] = set()
        while next_url:
            if next_url in seen:
                raise self._bad(path, "the pagination links go round in a circle")
            if len(seen) >= MAX_PAGES:
                raise self._too_many_pages(path, "its next links never end")
            seen.add(next_url)
            response = self._get(next_url)
            items.extend(self._page_items(response, path))  # short or empty pages go on
            next_url = response.links.get("next", {}).get("url")
        return items

    def _too_many_pages(self, endpoint: str, detail: str) -> ResponseTooLarge:
        return ResponseTooLarge(
            f"Canvas at {self.host} has more than GradeSync's limit of {MAX_PAGES} pages for "
            f"{endpoint} ({detail}): GradeSync stopped; check the Canvas address, and report it "
            "if it is your school's Canvas.",
            host=self.host,
            endpoint=endpoint,
        )

    def _fetch_pages(self, urls: Iterable[str]) -> Generator[requests.Response, None, None]:
        """GET ``urls`` concurrently (through the limiter), yielding responses in order.

        At most ``2 × page_workers`` pages are planned ahead: the URLs are taken from
        ``urls`` only as the window moves on, so a huge list never exists in memory at once.
        """
        window = 2 * self.page_workers
        pool = ThreadPoolExecutor(max_workers=self.page_workers, thread_name_prefix="canvas-page")
        pending: deque[Future[requests.Response]] = deque()
        source = iter(urls)
        try:
            for url in source:
                pending.append(pool.submit(self._get, url))
                if len(pending) >= window:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()  # the list failed: do not spend bucket units on the rest
            pool.shutdown(wait=True)
