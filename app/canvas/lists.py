"""The Canvas client's JSON and list reading: objects, pages, pagination and the list limits.

A mixin of :class:`~app.canvas.client.CanvasAPIService` (which supplies the transport); its one
concern is following a list's pages within the limits. See the client's docstring for how.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests

from app.canvas.errors import BadResponse, ResponseTooLarge
from app.canvas.jsonbody import Collected, PageReader, decode
from app.canvas.paging import _page_number, _with_page
from app.canvas.transport import CanvasTransport, Params

# At most this many pages in one list (planned from `last` or followed through `next`).
MAX_PAGES = 10_000
# One list in all, whatever its pages: a student's biggest real list (submissions of a course,
# a course's assignments) holds a few thousand items and a few MiB.
MAX_LIST_ITEMS = 20_000
MAX_LIST_BYTES = 64 * 1024 * 1024
# JSON values in one page before it is parsed (a cheap upper bound: its commas). An honest page
# of 100 items with embedded assignments has tens of thousands; 16 MiB of "{}," has millions,
# which json would turn into gigabytes of objects.
MAX_PAGE_VALUES = 500_000


class ListReader:
    """``_get_object`` and ``_get_list`` (every page of a list, within the limits)."""

    per_page: int
    page_workers: int
    transport: CanvasTransport
    _get: Callable[..., requests.Response]  # the transport's GET (url, params)

    @property
    def host(self) -> str:
        return self.transport.host

    # --- JSON helpers ---------------------------------------------------------------------

    def _get_object(self, path: str, params: Params | None = None) -> dict[str, Any]:
        response = self._get(self.transport.api_url + path, params)
        endpoint = urlsplit(self.transport.api_url + path).path
        body = self._json(response, endpoint)
        if not isinstance(body, dict):
            raise self._bad(endpoint, f"expected an object, got {type(body).__name__}")
        return body

    def _json(self, response: requests.Response, endpoint: str) -> Any:
        return self._decode(response.content, endpoint)

    def _decode(self, body: bytes, endpoint: str, commas: int | None = None) -> Any:
        """A body's JSON value (orjson: :mod:`app.canvas.jsonbody`), within the page limit
        (``commas``: the body's, when the caller has counted them)."""
        if (body.count(b",") if commas is None else commas) >= MAX_PAGE_VALUES:
            raise self._list_too_large(endpoint, f"more than {MAX_PAGE_VALUES} values in a page")
        try:
            return decode(body)
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
        return self._items(self._json(response, endpoint), endpoint)

    def _items(self, body: Any, endpoint: str) -> list[Any]:  # a page's items, or BadResponse
        if not isinstance(body, list):
            raise self._bad(endpoint, f"expected a list, got {type(body).__name__}")
        return body

    # --- pagination -----------------------------------------------------------------------

    def _get_list(self, path: str, params: Params, page: PageReader | None = None,
                  per_page: int | None = None, into: Collected | None = None) -> list[Any]:
        """Every item of a paginated list, in Canvas's order (``page``: a page's items; the
        raw body is one "item" per page for :mod:`app.sync.digest`; ``per_page``: this list's
        page size instead of the client's; ``into``: what gathers the pages and counts the
        list's items, :class:`~app.canvas.jsonbody.RawPages` for raw bodies)."""
        read = page or self._page_items
        url = self.transport.api_url + path
        first = self._get(url, [*params, ("per_page", str(per_page or self.per_page))])
        path = urlsplit(url).path  # errors name the endpoint as it is on the wire
        items = Collected() if into is None else into
        size = [0]  # bytes of the list so far

        def add(response: requests.Response) -> None:
            size[0] += len(response.content)
            if size[0] > MAX_LIST_BYTES:
                raise self._list_too_large(path, f"over {MAX_LIST_BYTES // (1024 * 1024)} MiB")
            if items.add(read(response, path), MAX_LIST_ITEMS) > MAX_LIST_ITEMS:
                raise self._list_too_large(path, f"over {MAX_LIST_ITEMS} items")

        add(first)
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
                    add(response)
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
            add(response)  # short or empty pages go on
            next_url = response.links.get("next", {}).get("url")
        return items

    def _get_planned(self, path: str, params: Params, page: PageReader, per_page: int,
                     pages: int, into: Callable[[], Collected] | None = None) -> list[Any]:
        """A numbered list whose number of pages the caller expects: pages 1..``pages`` are
        asked for at once, without waiting for page 1's ``rel="last"`` (a page past the end
        answers ``[]``; those are left out, so the same list gives the same pages however many
        were planned). When the last of them says there is more (the list grew), the list is
        read again the usual way (:meth:`_get_list`). ``into`` makes what gathers the pages
        (each read its own), as for :meth:`_get_list`."""
        new = into or Collected
        if pages > 1:
            url = self.transport.api_url + path
            endpoint = urlsplit(url).path
            plan = (f"{url}?{urlencode([*params, ('page', str(n)), ('per_page', str(per_page))])}"
                    for n in range(1, min(pages, MAX_PAGES) + 1))
            items = new()
            empty: list[bool] = []  # per page: was it [] (left out of items)
            size = 0
            last: requests.Response | None = None
            with closing(self._fetch_pages(plan)) as responses:
                for last in responses:
                    size += len(last.content)
                    if size > MAX_LIST_BYTES:
                        raise self._list_too_large(
                            endpoint, f"over {MAX_LIST_BYTES // (1024 * 1024)} MiB")
                    empty.append(last.content.strip() == b"[]")
                    if not empty[-1] and (items.add(page(last, endpoint), MAX_LIST_ITEMS)
                                          > MAX_LIST_ITEMS):
                        raise self._list_too_large(endpoint, f"over {MAX_LIST_ITEMS} items")
            if last is not None and not last.links.get("next"):
                while len(empty) > 1 and empty[-1]:
                    empty.pop()  # planned past the end: the pages _get_list would give
                if not any(empty):
                    return items
        return self._get_list(path, params, page=page, per_page=per_page,
                              into=None if into is None else into())

    def _list_too_large(self, endpoint: str, detail: str) -> ResponseTooLarge:
        return ResponseTooLarge(
            f"Canvas at {self.host} sent a list for {endpoint} over GradeSync's limit ({detail}): "
            "GradeSync stopped reading it and kept your stored data; check the Canvas address, "
            "and report it if it is your school's Canvas.",
            host=self.host,
            endpoint=endpoint,
        )

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
