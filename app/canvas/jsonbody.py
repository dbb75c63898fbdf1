"""Canvas response bodies: JSON decoding, and a gradebook's pages kept as raw bytes.

:class:`RawGradebookEndpoints` is a mixin of :class:`~app.canvas.client.CanvasAPIService`
(which supplies the pagination and the JSON helpers); its one concern is reading response bodies.

Every list counts its items as its pages arrive and stops at ``MAX_LIST_ITEMS``
(:mod:`app.canvas.lists`); a list kept as raw pages (:class:`RawPages`) too, without decoding
a page it need not: see :class:`RawPages`.

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


class Collected(list[Any]):
    """What ``_get_list`` gathers from a list's pages: their items, in order."""

    def add(self, items: list[Any], limit: int) -> int:
        """Keep one page's ``items``; how many items the list holds so far (exact when more
        than ``limit``: the caller cuts the list then)."""
        self.extend(items)
        return len(self)


class RawPages(Collected):
    """A list kept as its pages' raw bodies (:func:`page_body`), whose items count toward the
    list's item limit all the same, so endless small pages stop at ``MAX_LIST_ITEMS`` items as
    any list does, not at its bytes.

    Counting must cost little: a no-change sync never decodes these pages (its digest matches,
    :mod:`app.sync.digest`). So a page is first bounded by its commas, one ``bytes.count``
    (every element of a JSON array but the first follows a comma; a comma inside a string only
    raises the bound): the items of a top-level list are at most ``commas + 1``; with
    ``nested`` (a group's embedded ``assignments``, which also count) at most
    ``2 × commas + 2``, and then at most ``commas + brackets`` (each array's first element).
    Only when the bounds of the pages so far pass the limit are pages decoded (oldest first,
    orjson) for their exact count; the list is cut only on exact counts. An honest page has
    tens of commas an item, so only lists of several hundred items decode any page while
    they are read, and :meth:`~RawGradebookEndpoints.decode_pages` reuses those pages' items
    (no page is parsed twice); ``commas`` spares ``_decode`` its own count."""

    def __init__(self, read: Callable[[bytes, int], list[Any]], nested: str | None = None
                 ) -> None:
        super().__init__()
        self._read = read  # a page's items from its body and commas (the client's decode)
        self._nested = nested
        self.commas: list[int] = []
        self.decoded: dict[int, list[Any]] = {}
        self._bounds: list[int] = []  # per page: at least its items (exact once decoded)
        self._decoded = 0  # pages 0.._decoded-1 are decoded (oldest first)
        self._counted = 0  # the sum of _bounds

    def add(self, items: list[Any], limit: int) -> int:
        for body in items:
            commas = body.count(b",")
            if self._nested is None:
                bound = commas + 1
            else:
                bound = 2 * commas + 2
                if self._counted + bound > limit:
                    bound = commas + body.count(b"[")
            self.append(body)
            self.commas.append(commas)
            self._bounds.append(bound)
            self._counted += bound
            while self._counted > limit and self._decoded < len(self):
                page = self._decoded
                got = self._read(self[page], self.commas[page])
                self.decoded[page] = got
                exact = self._count(got)
                self._counted += exact - self._bounds[page]
                self._bounds[page] = exact
                self._decoded += 1
        return self._counted

    def _count(self, items: list[Any]) -> int:
        if self._nested is None:
            return len(items)
        key = self._nested
        return len(items) + sum(len(item[key]) for item in items
                                if isinstance(item, dict) and isinstance(item.get(key), list))

    def take(self, index: int) -> list[Any] | None:
        """The items of page ``index`` if counting decoded it (once: the memory is let go)."""
        return self.decoded.pop(index, None)

    def forget(self) -> None:
        """Let go of the pages counting decoded (a no-change gradebook needs none of them)."""
        self.decoded.clear()


class RawGradebookEndpoints:
    """``get_assignment_groups_pages`` and ``decode_pages`` (:mod:`app.sync.digest`)."""

    transport: CanvasTransport

    if TYPE_CHECKING:
        def _get_list(self, path: str, params: Params, page: PageReader | None = None,
                      per_page: int | None = None, into: Collected | None = None
                      ) -> list[Any]: ...

        def _decode(self, body: bytes, endpoint: str, commas: int | None = None) -> Any: ...

        def _items(self, body: Any, endpoint: str) -> list[Any]: ...

        def _get_planned(self, path: str, params: Params, page: PageReader, per_page: int,
                         pages: int, into: Callable[[], Collected] | None = None
                         ) -> list[Any]: ...

    def _raw_pages(self, path: str, nested: str | None = None) -> Callable[[], RawPages]:
        """A new :class:`RawPages` for ``path``, each list's own (a list read again starts over)."""
        endpoint = urlsplit(self.transport.api_url + path).path

        def read(body: bytes, commas: int) -> list[Any]:
            return self._items(self._decode(body, endpoint, commas), endpoint)

        return lambda: RawPages(read, nested)

    def get_assignment_groups_pages(self, course_id: int | str) -> list[bytes]:
        """The gradebook request of ``get_assignment_groups`` (assignments and the student's
        submission included), as each page's raw body, undecoded: a sync that finds the same
        bytes as last time has nothing to parse (:mod:`app.sync.digest`)."""
        params: Params = [("exclude_response_fields[]", field) for field in GRADEBOOK_EXCLUDES]
        params += [("include[]", "assignments"), ("include[]", "submission")]
        path = f"/courses/{course_id}/assignment_groups"
        return self._get_list(path, params, page=page_body,
                              into=self._raw_pages(path, nested="assignments")())

    def get_group_pages(self, course_id: int | str) -> list[bytes]:
        """The split plan's groups (:mod:`app.sync.fetch`): ``assignment_groups`` without
        their assignments (weights, rules, positions), as raw pages."""
        params: Params = [("exclude_response_fields[]", field) for field in GRADEBOOK_EXCLUDES]
        path = f"/courses/{course_id}/assignment_groups"
        return self._get_list(path, params, page=page_body, into=self._raw_pages(path)())

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
        path = f"/courses/{course_id}/assignments"
        return self._get_planned(path, params, page_body, per_page, pages,
                                 into=self._raw_pages(path))

    def decode_pages(self, course_id: int | str, pages: Sequence[bytes],
                     endpoint_name: str = "assignment_groups") -> list[Any]:
        """The items of the raw pages from :meth:`get_assignment_groups_pages` (or, with
        ``endpoint_name``, another course list's raw pages), in order (``BadResponse`` for a
        page that is not a JSON list, as for any list). The pages that counting decoded while
        they were read (:class:`RawPages`) are not decoded again."""
        endpoint = urlsplit(f"{self.transport.api_url}/courses/{course_id}/{endpoint_name}").path
        raw = pages if isinstance(pages, RawPages) else None
        items: list[Any] = []
        for index, body in enumerate(pages):
            got = raw.take(index) if raw is not None else None
            if got is None:
                commas = raw.commas[index] if raw is not None else None
                got = self._items(self._decode(body, endpoint, commas), endpoint)
            items.extend(got)
        return items
