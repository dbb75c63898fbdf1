"""The Canvas client's grading endpoints: grading standards, schemes and grading periods.

A mixin of :class:`~app.canvas.client.CanvasAPIService` (which supplies the transport and the
JSON helpers); its one concern is the grading reads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import requests

from app.canvas.transport import CanvasTransport, Params

if TYPE_CHECKING:
    from app.canvas.errors import BadResponse

# At most this many pages of grading periods (100 a page) before the links count as broken.
MAX_PERIOD_PAGES = 100


class GradingEndpoints:
    """``get_grading_standard``, ``get_course_grading_scheme``, ``get_grading_periods``."""

    per_page: int
    transport: CanvasTransport
    _get: Callable[..., requests.Response]  # the transport's GET (url, params)

    if TYPE_CHECKING:
        def _get_object(self, path: str, params: Params | None = None) -> dict[str, Any]: ...

        def _json(self, response: requests.Response, endpoint: str) -> Any: ...

        def _bad(self, endpoint: str, detail: str) -> BadResponse: ...

    def get_grading_standard(self, course_id: int | str, standard_id: int | str
                             ) -> dict[str, Any]:
        """``GET /courses/:id/grading_standards/:id``: the course's grading scheme."""
        return self._get_object(f"/courses/{course_id}/grading_standards/{standard_id}")

    def get_course_grading_scheme(self, course_id: int | str) -> dict[str, Any]:
        """``GET /courses/:id?include[]=grading_scheme``: the scheme Canvas grades the course
        with, wherever it lives (canvas-lms ``lib/api/v1/course.rb`` ``course_json``:
        ``course.grading_standard_or_default.data``), e.g. an account's, which the course's
        grading standards endpoint does not show a student."""
        return self._get_object(f"/courses/{course_id}", [("include[]", "grading_scheme")])

    def get_grading_periods(self, course_id: int | str) -> list[dict[str, Any]]:
        """``GET /courses/:id/grading_periods``: the course's periods with weights, close
        dates and ``is_closed`` (the course list carries none of these, and only the term's
        periods). Canvas answers an object, ``{"grading_periods": [...], "meta": ...}``
        (canvas-lms ``grading_periods_controller.rb#index``, ``GradingPeriod.for(course)``:
        the course's own period group, else its term's); pages go on by ``rel="next"``."""
        endpoint = f"/courses/{course_id}/grading_periods"
        url: str | None = self.transport.api_url + endpoint
        params: Params | None = [("per_page", str(self.per_page))]
        periods: list[dict[str, Any]] = []
        seen: set[str] = set()
        while url:
            response = self._get(url, params)
            body = self._json(response, endpoint)
            items = body.get("grading_periods") if isinstance(body, dict) else None
            if not isinstance(items, list):
                raise self._bad(endpoint, "expected an object with grading_periods")
            periods.extend(item for item in items if isinstance(item, dict))
            url, params = response.links.get("next", {}).get("url"), None
            if url is not None and (url in seen or len(seen) >= MAX_PERIOD_PAGES):
                raise self._bad(endpoint, "the pagination links never end")
            if url is not None:
                seen.add(url)
        return periods
