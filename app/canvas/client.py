"""The Canvas REST client every sync goes through: its endpoints, one method per Canvas read.

Usage::

    with CanvasAPIService("https://canvas.example.edu", token,
                          options=ClientOptions(retry=RetryPolicy(max_retries=2))) as client:
        courses = client.get_courses()            # the default list
        groups = client.get_assignment_groups(courses[0]["id"])
        print(client.stats.snapshot())

This module holds the endpoints (one method per Canvas read) and the public name; each other
concern has its own module:

- :mod:`app.canvas.options`: :class:`ClientOptions`, the one frozen object of how a client
  talks (``(connect, read)`` timeouts, the per-attempt deadline, the :class:`RetryPolicy`,
  ``per_page=100``, ``page_workers``, ``User-Agent: GradeSync/0.1``);
- :mod:`app.canvas.retry`: which failures are retried (throttles: 429, 403 "Rate Limit
  Exceeded"; 500/502/503/504; dropped connections; read timeouts) and the back-off
  (exponential with jitter, honouring ``Retry-After``). A 401 with ``WWW-Authenticate``
  (bad, expired or revoked token) is never retried, nor is any other 4xx;
- :mod:`app.canvas.transport`: one GET under the token's limiter, the retry loop;
  :mod:`app.canvas.failures`: what a failed attempt means; :mod:`app.canvas.credentials`: the
  token's refresh and refusal; :mod:`app.canvas.session`: the pooled session and auth header
  (the token goes only to the Canvas origin and is masked in every log line);
  :mod:`app.canvas.stats`: the counters;
- :mod:`app.canvas.throttle` and :mod:`app.canvas.ratelimit`: every request takes a slot from
  the token's process-wide :class:`~app.canvas.ratelimit.ThrottleLimiter`, which keeps as many
  requests in flight as Canvas's leaky bucket allows and no more;
- :mod:`app.canvas.lists`: every page of a list. ``per_page`` on every list; with a numbered
  ``rel="last"`` pages 2..last are fetched concurrently (``page_workers`` threads, at most
  ``2 × page_workers`` planned ahead), otherwise ``rel="next"`` is followed (bookmark pages).
  A list has at most ``MAX_PAGES`` pages, ``MAX_LIST_ITEMS`` items and ``MAX_LIST_BYTES``
  bytes, and a page at most ``MAX_PAGE_VALUES`` JSON values; over any of them the call fails
  with :class:`ResponseTooLarge` (the sync reports it and keeps every stored row).

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
from collections.abc import Sequence
from typing import Any, Self

from app.canvas.credentials import Refresher
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
from app.canvas.jsonbody import GRADEBOOK_EXCLUDES, RawGradebookEndpoints
from app.canvas.lists import (  # noqa: F401  (the limits re-exported)
    MAX_LIST_BYTES,
    MAX_LIST_ITEMS,
    MAX_PAGE_VALUES,
    MAX_PAGES,
    ListReader,
)
from app.canvas.options import ClientOptions
from app.canvas.paging import (
    COURSE_INCLUDES,
    canvas_time,
)
from app.canvas.ratelimit import ThrottleLimiter
from app.canvas.retry import RetryPolicy
from app.canvas.stats import ClientStats
from app.canvas.transport import DEFAULT_OPTIONS, CanvasTransport, Params
from app.outbound import STRICT, OutboundPolicy

__all__ = [
    "BadResponse",
    "CanvasAPIService",
    "CanvasError",
    "CanvasTimeout",
    "CanvasUnavailable",
    "ClientOptions",
    "ClientStats",
    "InvalidToken",
    "NotFound",
    "NotPermitted",
    "RateLimited",
    "ResponseTooLarge",
    "RetryPolicy",
    "UnsafeAddress",
    "canvas_time",
]

logger = logging.getLogger(__name__)


class CanvasAPIService(ListReader, GradingEndpoints, RawGradebookEndpoints):
    """A Canvas REST client for one token on one Canvas host.

    :param base_url: the Canvas address, e.g. ``https://canvas.example.edu`` (a trailing
        ``/api/v1`` is accepted).
    :param token: the access token; it is only ever sent in the ``Authorization`` header.
    :param options: how it talks (timeouts, deadline, retries and back-off, page size, page
        workers, user agent, request records): :class:`~app.canvas.options.ClientOptions`.
    :param policy: where connections may go (the base URL is checked now, each connection too).
    :param limiter: the throttle limiter; by default the process-wide one of this token.
    :param refresher: asked for a new token when Canvas says this one expired (OAuth2).
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        options: ClientOptions = DEFAULT_OPTIONS,
        policy: OutboundPolicy = STRICT,
        limiter: ThrottleLimiter | None = None,
        refresher: Refresher | None = None,
    ) -> None:
        self.transport = CanvasTransport(
            base_url, token, options=options, policy=policy, limiter=limiter, refresher=refresher
        )
        self.options = options
        self.page_workers = options.page_workers
        self.per_page = options.per_page
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
        return self.options.retry.max_retries

    @property
    def timeout_retries(self) -> int:
        return self.options.retry.timeout_retries

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
        params: Params = [("exclude_response_fields[]", field) for field in GRADEBOOK_EXCLUDES]
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
        params: Params = [("state[]", "current_and_concluded"), ("type[]", "StudentEnrollment")]
        return self._get_list("/users/self/enrollments", params)
