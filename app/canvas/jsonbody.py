"""Canvas response bodies: JSON decoding, and a gradebook's pages kept as raw bytes.

:class:`RawGradebookEndpoints` is a mixin of :class:`~app.canvas.client.CanvasAPIService`
(which supplies the pagination and the JSON helpers); its one concern is reading response bodies.

``decode`` reads with orjson (strict RFC 8259, the same values as the json module for every
body Canvas sends, and faster on a gradebook: CANVAS_PERFORMANCE_TESTING.md, "JSON"); the few
bodies orjson refuses but the json module reads (a lone surrogate escape, NaN, an integer past
64 bits) go the json module's way, as before.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson
import requests

from app.canvas.transport import CanvasTransport, Params

# Response fields of the gradebook request the sync never reads, left out by Canvas itself:
# canvas-lms AssignmentGroupsController#index passes ``exclude_response_fields[]`` on
# (``assignment_excludes``) to Api::V1::AssignmentGroup#assignment_group_json and
# Api::V1::Assignment#assignment_json, which honour "description", "rubric" (rubric,
# rubric_settings, use_rubric_for_grading, free_form_criterion_comments),
# "in_closed_grading_period" (also the group's any_assignment_in_closed_grading_period; it
# depends on the clock, so leaving it out keeps a no-change gradebook's bytes equal) and
# "needs_grading_count" (for graders only; it moves with other students' work).
GRADEBOOK_EXCLUDES = ("description", "rubric", "in_closed_grading_period", "needs_grading_count")

# What one page of a list gives (``CanvasAPIService._get_list``): its items, or its raw body.
PageReader = Callable[[requests.Response, str], list[Any]]


def decode(body: bytes) -> Any:
    """The JSON value of ``body``; ``ValueError`` when it is not JSON."""
    try:
        return orjson.loads(body)
    except ValueError:
        return json.loads(body)


def page_body(response: requests.Response, endpoint: str) -> list[Any]:
    """A page as its raw body, undecoded (one "item" per page)."""
    return [response.content]


class RawGradebookEndpoints:
    """``get_assignment_groups_pages`` and ``decode_pages`` (:mod:`app.sync.digest`)."""

    transport: CanvasTransport

    if TYPE_CHECKING:
        def _get_list(self, path: str, params: Params, page: PageReader | None = None,
                      per_page: int | None = None) -> list[Any]: ...

        def _decode(self, body: bytes, endpoint: str) -> Any: ...

        def _items(self, body: Any, endpoint: str) -> list[Any]: ...

        def _get_planned(self, path: str, params: Params, page: PageReader, per_page: int,
                         pages: int) -> list[Any]: ...

    def get_assignment_groups_pages(self, course_id: int | str) -> list[bytes]:
        """The gradebook request of ``get_assignment_groups`` (assignments and the student's
        submission included), as each page's raw body, undecoded: a sync that finds the same
        bytes as last time has nothing to parse (:mod:`app.sync.digest`)."""
        params: Params = [("exclude_response_fields[]", field) for field in GRADEBOOK_EXCLUDES]
        params += [("include[]", "assignments"), ("include[]", "submission")]
        return self._get_list(f"/courses/{course_id}/assignment_groups", params, page=page_body)

    def get_group_pages(self, course_id: int | str) -> list[bytes]:
        """The split plan's groups (:mod:`app.sync.fetch`): ``assignment_groups`` without
        their assignments (weights, rules, positions), as raw pages."""
        params: Params = [("exclude_response_fields[]", field) for field in GRADEBOOK_EXCLUDES]
        return self._get_list(f"/courses/{course_id}/assignment_groups", params, page=page_body)

    def get_assignment_pages(self, course_id: int | str, per_page: int,
                             pages: int = 1) -> list[bytes]:
        """The split plan's assignments: ``/courses/:id/assignments?include[]=submission``,
        ``per_page`` a page, as raw pages. canvas-lms AssignmentsApiController#get_assignments
        (the index): ``Assignments::ScopedToUser``, ordered by group position, position, id,
        numbered pages (``Api.paginate``), the caller's own submission per assignment
        (``Api::V1::Assignment#submissions_hash``). It does not pass
        ``exclude_response_fields`` on: each assignment carries its ``description`` and
        ``in_closed_grading_period``, which the sync does not read.

        ``pages``: how many pages the caller expects (from the last sync's size). Pages
        1..``pages`` are asked for at once, without waiting for page 1's ``rel="last"``
        (a page past the end answers ``[]``); when the last of them says there is more (the
        list grew), the list is read again the usual way: page 1, then the rest at once.
        Empty pages past the end are left out, so the same list gives the same pages however
        many were planned."""
        params: Params = [("include[]", "submission")]
        return self._get_planned(f"/courses/{course_id}/assignments", params, page_body,
                                 per_page, pages)

    def decode_pages(self, course_id: int | str, pages: Sequence[bytes],
                     endpoint_name: str = "assignment_groups") -> list[Any]:
        """The items of the raw pages from :meth:`get_assignment_groups_pages` (or, with
        ``endpoint_name``, another course list's raw pages), in order (``BadResponse`` for a
        page that is not a JSON list, as for any list)."""
        endpoint = urlsplit(f"{self.transport.api_url}/courses/{course_id}/{endpoint_name}").path
        items: list[Any] = []
        for body in pages:
            items.extend(self._items(self._decode(body, endpoint), endpoint))
        return items
