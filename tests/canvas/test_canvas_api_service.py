"""Unit tests of the Canvas client with ``responses`` and the authored samples in canvas_samples/.

The integration tests against the simulator live in test_canvas_api_integration.py.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

import clock
from app.canvas.client import (
    BadResponse,
    CanvasAPIService,
    CanvasError,
    CanvasTimeout,
    CanvasUnavailable,
    ClientOptions,
    InvalidToken,
    NotFound,
    NotPermitted,
    RateLimited,
    RetryPolicy,
    canvas_time,
)
from app.canvas.errors import ScopeRefused
from app.canvas.options import USER_AGENT
from app.canvas.ratelimit import Slot, ThrottleLimiter, limiter_for
from app.canvas.retry import backoff_delay, parse_retry_after
from app.outbound import OutboundPolicy

# The authored payloads of shared/canvas_samples, kept with the tests so a clone is complete.
SAMPLES = Path(__file__).resolve().parents[1] / "canvas_samples"

BASE = "https://canvas.example.edu"
HOST = "canvas.example.edu"
TOKEN = "7~SecretCanvasToken0123456789abcdefXYZ"
LOOPBACK = OutboundPolicy(allow_private=True)  # a real server on 127.0.0.1


def sample(name: str) -> dict[str, Any]:
    return json.loads((SAMPLES / name).read_text())


ERROR_CASES = {case["case"]: case for case in sample("http_errors_and_throttling.json")["cases"]}


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


@pytest.fixture
def client() -> Iterator[CanvasAPIService]:
    """A client with its own limiter and no back-off sleeps worth waiting for."""
    # A fast-leaking bucket: the limiter's waits for the leak after a throttle stay short.
    with CanvasAPIService(
        BASE, TOKEN, limiter=ThrottleLimiter(outflow=2000.0),
        options=ClientOptions(retry=RetryPolicy(backoff_factor=0.001, max_retries=3)),
    ) as api:
        yield api


def add_case(
    rsps: responses.RequestsMock, url: str | re.Pattern[str], case: dict[str, Any], **kw: Any
) -> None:
    """Register one sample error response."""
    headers = {k: v for k, v in case.get("headers", {}).items() if k != "content-type"}
    content_type = case.get("headers", {}).get("content-type", "application/json")
    body = case["body_text"] if "body_text" in case else json.dumps(case.get("body", ""))
    rsps.add(
        responses.GET,
        url,
        status=case["status"],
        body=body,
        headers=headers,
        content_type=content_type,
        **kw,
    )


def query(call: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


# --- errors -------------------------------------------------------------------------------

ERROR_EXPECTATIONS = [
    ("invalid_or_unknown_token", InvalidToken, "Canvas rejected the access token for"),
    ("expired_token (newer canvas-lms)", InvalidToken, "has expired"),
    ("revoked_token (newer canvas-lms)", InvalidToken, "was revoked"),
    ("no_credentials_at_all", InvalidToken, "received no access token"),
    ("authenticated_but_not_permitted (legacy)", NotPermitted, "not authorized"),
    (
        "authenticated_but_not_permitted (api_auth_error_updates flag on)",
        NotPermitted,
        "not authorized",
    ),
    # ScopeRefused is NotPermitted's more precise kind: the sync stops instead of skipping
    # the course, since every course would be refused the same way.
    ("scoped_developer_key_missing_scope", ScopeRefused, "scope"),
    ("as_user_id_not_allowed", NotPermitted, "Invalid as_user_id"),
    ("assignment_ids_not_published_or_unknown", NotPermitted, "invalid assignment ids"),
    (
        "missing_user_agent (hosted, Beta since 2025-10-01, Production Jan 2026)",
        NotPermitted,
        "does not let this account",
    ),
    ("deleted_or_nonexistent_resource", NotFound, "no longer enrolled"),
    ("bad_submitted_since", CanvasError, "Invalid datetime for submitted_since"),
    ("too_many_student_ids", CanvasError, "too many students"),
    ("assignments_index_assignment_ids_mismatch", CanvasError, "Invalid assignment_ids"),
]


@pytest.mark.parametrize(
    ("case", "exc_type", "text"), ERROR_EXPECTATIONS, ids=[c for c, _, _ in ERROR_EXPECTATIONS]
)
def test_error_responses_map_to_helpful_exceptions(
    mocked: responses.RequestsMock,
    client: CanvasAPIService,
    case: str,
    exc_type: type[CanvasError],
    text: str,
) -> None:
    add_case(mocked, f"{BASE}/api/v1/courses/48213/assignments", ERROR_CASES[case])

    with pytest.raises(exc_type) as caught:
        client.get_assignments(48213)

    error = caught.value
    assert type(error) is exc_type  # not a more alarming or a vaguer sibling
    assert text in str(error)
    assert HOST in str(error)
    assert error.status == ERROR_CASES[case]["status"]
    assert error.endpoint == "/api/v1/courses/48213/assignments"
    assert len(mocked.calls) == 1, "client errors are never retried"
    assert client.stats.retries == 0


@pytest.mark.parametrize(
    "case",
    [
        "invalid_or_unknown_token",
        "expired_token (newer canvas-lms)",
        "revoked_token (newer canvas-lms)",
    ],
)
def test_bad_token_says_how_to_fix_it(
    mocked: responses.RequestsMock, client: CanvasAPIService, case: str
) -> None:
    add_case(mocked, f"{BASE}/api/v1/users/self", ERROR_CASES[case])

    with pytest.raises(InvalidToken) as caught:
        client.get_current_user()

    assert "Canvas → Account → Settings" in str(caught.value)
    assert caught.value.reason in {"invalid", "expired", "revoked"}
    assert len(mocked.calls) == 1


@pytest.mark.parametrize("case", ["throttled_legacy_403", "throttled_hosted_since_2025_10"])
def test_throttled_requests_are_retried_then_succeed(
    mocked: responses.RequestsMock, client: CanvasAPIService, case: str
) -> None:
    url = f"{BASE}/api/v1/users/self"
    add_case(mocked, url, ERROR_CASES[case])
    add_case(mocked, url, ERROR_CASES[case])
    mocked.add(responses.GET, url, json={"id": 90377, "name": "Dana"})

    assert client.get_current_user()["id"] == 90377

    assert len(mocked.calls) == 3
    assert client.stats.throttled == 2
    assert client.stats.retries == 2
    assert client.limiter.snapshot()["throttled"] == 2


def test_a_throttle_that_never_ends_is_rate_limited_not_forbidden(
    mocked: responses.RequestsMock, client: CanvasAPIService
) -> None:
    add_case(mocked, f"{BASE}/api/v1/users/self", ERROR_CASES["throttled_legacy_403"])

    with pytest.raises(RateLimited) as caught:
        client.get_current_user()

    assert "wait a minute" in str(caught.value) and HOST in str(caught.value)
    assert len(mocked.calls) == client.max_retries + 1
    assert client.stats.retries == client.max_retries


def test_a_throttle_makes_the_limiter_wait_for_the_leak(mocked: responses.RequestsMock) -> None:
    add_case(mocked, f"{BASE}/api/v1/users/self", ERROR_CASES["throttled_legacy_403"])
    limiter = ThrottleLimiter()
    api = CanvasAPIService(
        BASE, TOKEN, limiter=limiter, options=ClientOptions(retry=RetryPolicy(max_retries=0))
    )

    with pytest.raises(RateLimited):
        api.get_current_user()

    snap = limiter.snapshot()
    assert snap["throttled"] == 1
    # Only 21.73 units were left: no request may start until the bucket leaks.
    assert snap["allowed_in_flight"] == 0
    api.close()


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_retried_then_succeed(
    mocked: responses.RequestsMock, client: CanvasAPIService, status: int
) -> None:
    url = f"{BASE}/api/v1/courses/1"
    mocked.add(responses.GET, url, status=status, json={"errors": [{"message": "An error"}]})
    mocked.add(responses.GET, url, json={"id": 1, "name": "Bio"})

    assert client.get_course(1)["name"] == "Bio"
    assert client.stats.retries == 1 and client.stats.requests == 2


def test_server_errors_that_persist_are_unavailable(
    mocked: responses.RequestsMock, client: CanvasAPIService
) -> None:
    mocked.add(responses.GET, f"{BASE}/api/v1/courses/1", status=503, body="down")

    with pytest.raises(CanvasUnavailable) as caught:
        client.get_course(1)

    assert "try again in a few minutes" in str(caught.value) and HOST in str(caught.value)
    assert len(mocked.calls) == client.max_retries + 1


def test_dropped_connections_are_retried(
    mocked: responses.RequestsMock, client: CanvasAPIService
) -> None:
    url = f"{BASE}/api/v1/users/self"
    mocked.add(responses.GET, url, body=requests.ConnectionError("Connection aborted."))
    mocked.add(responses.GET, url, json={"id": 1})

    assert client.get_current_user() == {"id": 1}
    assert client.stats.retries == 1


def test_connections_dropped_every_time_are_unavailable(
    mocked: responses.RequestsMock, client: CanvasAPIService
) -> None:
    mocked.add(
        responses.GET,
        f"{BASE}/api/v1/users/self",
        body=requests.ConnectionError("Connection aborted."),
    )

    with pytest.raises(CanvasUnavailable) as caught:
        client.get_current_user()

    assert f"Cannot reach Canvas at {HOST}" in str(caught.value)
    assert len(mocked.calls) == client.max_retries + 1


def test_a_host_that_refuses_connections_fails_without_another_round_of_retries() -> None:
    """urllib3 retries the connect itself (counted); the client's loop does not multiply it."""
    with socket.socket() as probe:  # a loopback port with nobody listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    api = CanvasAPIService(
        f"http://127.0.0.1:{port}", TOKEN, limiter=ThrottleLimiter(), policy=LOOPBACK
    )

    with pytest.raises(CanvasUnavailable) as caught:
        api.get_current_user()

    assert f"Cannot reach Canvas at 127.0.0.1:{port}" in str(caught.value)
    assert api.stats.requests == 1
    assert api.stats.retries == 3  # urllib3's connect retries, seen by the counters
    api.close()


def test_other_request_failures_are_canvas_errors_not_retried(
    mocked: responses.RequestsMock, client: CanvasAPIService
) -> None:
    mocked.add(responses.GET, f"{BASE}/api/v1/users/self", body=requests.TooManyRedirects())

    with pytest.raises(CanvasError, match="TooManyRedirects") as caught:
        client.get_current_user()

    assert HOST in str(caught.value)
    assert len(mocked.calls) == 1


def test_read_timeouts_raise_canvas_timeout_after_one_retry(
    mocked: responses.RequestsMock, client: CanvasAPIService
) -> None:
    mocked.add(responses.GET, f"{BASE}/api/v1/users/self", body=requests.ReadTimeout("slow"))

    with pytest.raises(CanvasTimeout) as caught:
        client.get_current_user()

    assert "did not answer" in str(caught.value) and HOST in str(caught.value)
    assert len(mocked.calls) == client.timeout_retries + 1


def test_retry_after_is_honoured_and_backoff_grows() -> None:
    assert backoff_delay(0, factor=0.5, maximum=30, retry_after=3.0) >= 3.0
    first = [backoff_delay(0, factor=1, maximum=30) for _ in range(20)]
    fourth = [backoff_delay(3, factor=1, maximum=30) for _ in range(20)]
    assert all(0.5 <= d <= 1 for d in first)
    assert all(4 <= d <= 8 for d in fourth)
    assert backoff_delay(10, factor=1, maximum=30) <= 30
    assert parse_retry_after("7") == 7.0
    future = (clock.now() + timedelta(seconds=90)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert 60 < (parse_retry_after(future) or 0) <= 90
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


# --- what is sent -------------------------------------------------------------------------


def test_every_request_has_user_agent_timeout_and_bearer_token(
    mocked: responses.RequestsMock, client: CanvasAPIService
) -> None:
    mocked.add(responses.GET, f"{BASE}/api/v1/users/self", json={"id": 1})

    client.get_current_user()

    request = mocked.calls[0].request
    assert request.headers["User-Agent"] == USER_AGENT
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in request.url  # only ever in the header
    assert request.req_kwargs["timeout"] == (5.0, 60.0)


def test_endpoints_send_the_documented_parameters(
    mocked: responses.RequestsMock, client: CanvasAPIService
) -> None:
    mocked.add(responses.GET, re.compile(rf"{BASE}/api/v1/.*"), json=[])

    client.get_courses()
    client.get_assignment_groups(7)
    client.get_assignments(7, include_submission=True)

    # The default list, then the teacher-concluded courses and the student's enrollments.
    client.get_completed_courses()
    client.get_student_enrollments()
    courses, groups, assignments, completed, enrollments = (
        query(c) for c in mocked.calls)
    assert "enrollment_state" not in courses and "state[]" not in courses
    assert completed["state[]"] == ["completed"] and "enrollment_state" not in completed
    assert urlsplit(mocked.calls[4].request.url).path == "/api/v1/users/self/enrollments"
    assert enrollments["state[]"] == ["current_and_concluded"]
    assert enrollments["type[]"] == ["StudentEnrollment"]
    for course_list in (courses, completed):
        assert course_list["include[]"] == ["term", "total_scores", "concluded", "grading_periods",
                                     "current_grading_period_scores"]
        assert course_list["enrollment_type"] == ["student"]
        assert "updated_since" not in course_list  # Canvas REST has no such filter
    assert groups["include[]"] == ["assignments", "submission"]
    assert groups["exclude_response_fields[]"] == ["description", "rubric",
                                                   "in_closed_grading_period",
                                                   "needs_grading_count"]
    assert assignments["include[]"] == ["submission"]
    for params in (courses, completed, enrollments, groups, assignments):
        assert params["per_page"] == ["100"]


def test_canvas_time_is_utc_with_z() -> None:
    assert canvas_time(datetime(2025, 6, 30, 23, 0, tzinfo=timezone(timedelta(hours=-5)))) == (
        "2025-07-01T04:00:00Z"
    )
    assert canvas_time("2025-01-01T00:00:00Z") == "2025-01-01T00:00:00Z"


def test_token_never_appears_in_logs_or_errors(
    mocked: responses.RequestsMock, client: CanvasAPIService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    mocked.add(responses.GET, f"{BASE}/api/v1/courses/1", status=503, body="down")
    add_case(mocked, f"{BASE}/api/v1/users/self", ERROR_CASES["revoked_token (newer canvas-lms)"])
    add_case(mocked, f"{BASE}/api/v1/courses/2", ERROR_CASES["throttled_legacy_403"])
    mocked.add(responses.GET, f"{BASE}/api/v1/courses/3", json={"id": 3})

    errors: list[BaseException] = []
    client.get_course(3)
    for call in (
        lambda: client.get_course(1),
        lambda: client.get_course(2),
        client.get_current_user,
    ):
        with pytest.raises(CanvasError) as caught:
            call()
        errors.append(caught.value)
    fresh = CanvasAPIService(BASE, TOKEN, limiter=ThrottleLimiter())
    fresh.close()

    assert caplog.records, "the client logs its retries"
    assert any("retry" in r.getMessage() for r in caplog.records)
    for record in caplog.records:
        assert TOKEN not in record.getMessage()
        assert TOKEN[-12:] not in record.getMessage()
    for error in errors:
        assert TOKEN not in str(error) and TOKEN not in repr(error)
    assert TOKEN not in repr(client)


def test_a_refused_token_is_not_sent_again(
    mocked: responses.RequestsMock, client: CanvasAPIService
) -> None:
    """After Canvas says the token is revoked, the requests behind it fail without sending it."""
    add_case(mocked, f"{BASE}/api/v1/courses/1", ERROR_CASES["revoked_token (newer canvas-lms)"])
    course_2 = mocked.add(responses.GET, f"{BASE}/api/v1/courses/2", json={"id": 2})

    with pytest.raises(InvalidToken) as first:
        client.get_course(1)
    with pytest.raises(InvalidToken) as second:
        client.get_course(2)

    assert course_2.call_count == 0
    assert first.value.reason == second.value.reason == "revoked"
    assert "revoked" in str(second.value) and second.value.endpoint == "/api/v1/courses/2"


# --- pagination ---------------------------------------------------------------------------


def numbered_pages(
    rsps: responses.RequestsMock,
    path: str,
    pages: list[list[dict[str, Any]]],
    *,
    with_last: bool = True,
) -> list[int]:
    """Serve ``pages`` as Canvas's numbered pages; returns the page numbers requested."""
    requested: list[int] = []
    lock = threading.Lock()

    def link(page: int, rel: str) -> str:
        url = f"{BASE}{path}?include%5B%5D=term&page={page}&per_page=100"
        return f'<{url}>; rel="{rel}"'

    def callback(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        page = int(parse_qs(urlsplit(request.url).query).get("page", ["1"])[0])
        with lock:
            requested.append(page)
        links = [link(page, "current")]
        if page < len(pages):
            links.append(link(page + 1, "next"))
        links.append(link(1, "first"))
        if with_last:
            links.append(link(len(pages), "last"))
        body = pages[page - 1] if page <= len(pages) else []
        return 200, {"link": ",".join(links)}, json.dumps(body)

    rsps.add_callback(
        responses.GET,
        re.compile(re.escape(BASE + path)),
        callback=callback,
        content_type="application/json",
    )
    return requested


def test_numbered_pages_are_all_fetched_and_kept_in_order(
    mocked: responses.RequestsMock, client: CanvasAPIService
) -> None:
    pages = [[{"id": p * 100 + i} for i in range(3)] for p in range(1, 8)]
    requested = numbered_pages(mocked, "/api/v1/courses/5/assignments", pages)

    items = client.get_assignments(5)

    assert [a["id"] for a in items] == [a["id"] for page in pages for a in page]
    assert sorted(requested) == list(range(1, 8))  # each page exactly once
    assert requested[0] == 1


def test_numbered_pages_without_last_are_followed_one_by_one(
    mocked: responses.RequestsMock, client: CanvasAPIService
) -> None:
    pages = [[{"id": 1}], [{"id": 2}], [{"id": 3}]]
    requested = numbered_pages(mocked, "/api/v1/courses/5/assignments", pages, with_last=False)

    assert [a["id"] for a in client.get_assignments(5)] == [1, 2, 3]
    assert requested == [1, 2, 3]


def test_course_list_sample_reads_both_pages(
    mocked: responses.RequestsMock, client: CanvasAPIService
) -> None:
    first = sample("courses_list_page1.json")
    mocked.add(
        responses.GET,
        f"{BASE}/api/v1/courses",
        json=first["body"],
        headers={"link": first["headers"]["link"]},
        match=[
            responses.matchers.query_param_matcher(
                {
                    "per_page": "100",
                    "include[]": ["term", "total_scores", "concluded", "grading_periods",
                                     "current_grading_period_scores"],
                    "enrollment_type": "student",
                }
            )
        ],
    )
    mocked.add(
        responses.GET,
        f"{BASE}/api/v1/courses",
        json=[{"id": 50001, "name": "Last"}],
        match=[
            responses.matchers.query_string_matcher(
                "enrollment_state=active&include%5B%5D=term&include%5B%5D=total_scores"
                "&page=2&per_page=4"
            )
        ],
    )

    courses = client.get_courses()

    assert [c["id"] for c in courses] == [48213, 48990, 45102, 47761, 50001]
    restricted = next(c for c in courses if c.get("access_restricted_by_date"))
    assert set(restricted) == {"id", "access_restricted_by_date"}


def test_bookmark_walk_continues_past_empty_and_short_pages(
    mocked: responses.RequestsMock, client: CanvasAPIService
) -> None:
    url = f"{BASE}/api/v1/users/self/enrollments"
    bodies = [[{"id": 1}, {"id": 2}], [], [{"id": 3}], []]
    for index, body in enumerate(bodies):
        headers = {}
        if index + 1 < len(bodies):
            headers["link"] = f'<{url}?page=bookmark:b{index + 1}&per_page=100>; rel="next"'
        mocked.add(responses.GET, url, json=body, headers=headers)

    assert [e["id"] for e in client.get_student_enrollments()] == [1, 2, 3]
    assert len(mocked.calls) == 4


def test_pagination_loop_is_an_error_not_a_hang(
    mocked: responses.RequestsMock, client: CanvasAPIService
) -> None:
    url = f"{BASE}/api/v1/users/self/enrollments"
    mocked.add(
        responses.GET,
        url,
        json=[{"id": 1}],
        headers={"link": f'<{url}?page=first&per_page=100>; rel="next"'},
    )

    with pytest.raises(BadResponse, match="circle"):
        client.get_student_enrollments()


def test_links_to_another_host_are_refused_and_get_no_token(
    mocked: responses.RequestsMock, client: CanvasAPIService
) -> None:
    mocked.add(
        responses.GET,
        f"{BASE}/api/v1/users/self/enrollments",
        json=[{"id": 1}],
        headers={"link": '<https://evil.example.com/steal?page=2>; rel="next"'},
    )
    evil = mocked.add(responses.GET, "https://evil.example.com/steal", json=[])

    with pytest.raises(BadResponse, match="link to another host"):
        client.get_student_enrollments()
    assert evil.call_count == 0


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ("{not json", "not JSON"),
        (json.dumps({"errors": []}), "expected a list"),
    ],
)
def test_unreadable_list_pages_are_bad_responses_naming_the_endpoint(
    mocked: responses.RequestsMock, client: CanvasAPIService, body: str, detail: str
) -> None:
    mocked.add(
        responses.GET,
        f"{BASE}/api/v1/courses/9/assignment_groups",
        body=body,
        content_type="application/json",
    )

    with pytest.raises(BadResponse) as caught:
        client.get_assignment_groups(9)

    assert "/api/v1/courses/9/assignment_groups" in str(caught.value)
    assert detail in str(caught.value) and HOST in str(caught.value)


def test_a_bad_later_page_fails_the_whole_list(
    mocked: responses.RequestsMock, client: CanvasAPIService
) -> None:
    url = f"{BASE}/api/v1/users/self/enrollments"
    mocked.add(
        responses.GET,
        url,
        json=[{"id": 1}],
        headers={"link": f'<{url}?page=bookmark:x&per_page=100>; rel="next"'},
    )
    mocked.add(responses.GET, url, body="<html>oops</html>", content_type="text/html")

    with pytest.raises(BadResponse, match="users/self/enrollments"):
        client.get_student_enrollments()


def test_an_object_endpoint_returning_a_list_is_a_bad_response(
    mocked: responses.RequestsMock, client: CanvasAPIService
) -> None:
    mocked.add(responses.GET, f"{BASE}/api/v1/users/self", json=[1, 2])

    with pytest.raises(BadResponse, match="/api/v1/users/self"):
        client.get_current_user()


# --- counters and lifecycle ---------------------------------------------------------------


def test_stats_count_requests_bytes_and_time(
    mocked: responses.RequestsMock, client: CanvasAPIService
) -> None:
    mocked.add(
        responses.GET,
        f"{BASE}/api/v1/users/self",
        body='{"id": 1}',
        content_type="application/json",
    )

    client.get_current_user()
    client.get_current_user()
    snap = client.stats.snapshot()

    assert snap["requests"] == 2 and snap["bytes"] == 18
    assert snap["retries"] == 0 and snap["throttled"] == 0
    assert snap["max_in_flight"] == 1
    assert snap["elapsed_s"] >= 0


def test_recorded_requests_list_every_attempt(mocked: responses.RequestsMock) -> None:
    url = f"{BASE}/api/v1/users/self"
    mocked.add(responses.GET, url, status=502, body="bad gateway")
    mocked.add(responses.GET, url, json={"id": 1})

    with CanvasAPIService(
        BASE, TOKEN, limiter=ThrottleLimiter(),
        options=ClientOptions(retry=RetryPolicy(backoff_factor=0.001), record_requests=True),
    ) as api:
        api.get_current_user()
        records = api.stats.snapshot()["records"]

    assert [(r["status"], r["attempt"]) for r in records] == [(502, 0), (200, 1)]


def test_close_closes_the_pooled_connections(client: CanvasAPIService) -> None:
    closed: list[bool] = []
    client.transport._session.close = lambda: closed.append(True)  # type: ignore[method-assign]
    with client:
        pass
    assert closed == [True]


def test_clients_of_one_token_share_one_limiter() -> None:
    a = CanvasAPIService(BASE, "token-shared-1")
    b = CanvasAPIService(BASE + "/", "token-shared-1")
    c = CanvasAPIService(BASE, "token-other-2")
    try:
        assert a.limiter is b.limiter is limiter_for(BASE, "token-shared-1")
        assert c.limiter is not a.limiter
    finally:
        for api in (a, b, c):
            api.close()


# --- the limiter's model ------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fill(limiter: ThrottleLimiter, n: int) -> list[Any]:
    return [limiter.acquire() for _ in range(n)]


def ramp(limiter: ThrottleLimiter, remaining: Callable[[], float]) -> None:
    """Grow the window with successful responses reporting ``remaining``."""
    for _ in range(25):
        limiter.release(limiter.acquire(), remaining=remaining(), cost=0.0)


def test_limiter_allows_eleven_in_flight_on_an_empty_600_bucket() -> None:
    limiter = ThrottleLimiter(clock=FakeClock())
    assert limiter.snapshot()["allowed_in_flight"] == 2  # conservative start
    ramp(limiter, lambda: 599.9)
    assert limiter.snapshot()["allowed_in_flight"] == 11


def test_limiter_learns_a_larger_bucket_from_remaining() -> None:
    limiter = ThrottleLimiter(clock=FakeClock())
    ramp(limiter, lambda: 699.9)
    assert limiter.snapshot()["hwm"] == pytest.approx(700, abs=1)
    assert limiter.snapshot()["allowed_in_flight"] == 13


def test_limiter_slows_down_when_remaining_is_low_and_waits_for_the_leak() -> None:
    clock = FakeClock()
    limiter = ThrottleLimiter(clock=clock)
    ramp(limiter, lambda: 599.9)
    # Another program spent most of the budget: only 60 units remain.
    limiter.release(limiter.acquire(), remaining=60.0, cost=0.1)
    assert limiter.snapshot()["allowed_in_flight"] == 0
    clock.now += 4.0  # 40 units leak away: room for exactly one request (50 + 25 safety)
    assert limiter.snapshot()["allowed_in_flight"] == 1
    # That one request sees the bucket drained again and the limiter opens up.
    clock.now += 60.0
    limiter.release(limiter.acquire(), remaining=599.9, cost=0.1)
    assert limiter.snapshot()["allowed_in_flight"] == 11


def test_limiter_learns_a_smaller_bucket_from_a_quiet_response() -> None:
    limiter = ThrottleLimiter(clock=FakeClock())
    ramp(limiter, lambda: 199.9)
    assert limiter.snapshot()["hwm"] == pytest.approx(200, abs=1)
    assert limiter.snapshot()["allowed_in_flight"] == 3


def test_acquire_blocks_until_the_leak_makes_room() -> None:
    limiter = ThrottleLimiter()  # real clock: needs 0.2 s of leak
    limiter.release(limiter.acquire(), remaining=600 - 527.0, cost=0.0)
    slot = limiter.acquire()
    limiter.release(slot)
    assert limiter.snapshot()["waits"] == 1


def test_limiter_halves_its_window_once_per_burst_of_throttles() -> None:
    limiter = ThrottleLimiter(clock=FakeClock(), safety=0)
    ramp(limiter, lambda: 599.9)
    burst = fill(limiter, 10)
    for slot in burst[:4]:
        limiter.release(slot, remaining=10.0, throttled=True)
    snap = limiter.snapshot()
    assert snap["throttled"] == 4
    assert snap["window"] == 5  # halved once from 10, not four times
    for slot in burst[4:]:
        limiter.release(slot, remaining=300.0, cost=0.1)


def start_all_allowed(limiter: ThrottleLimiter) -> list[Slot]:
    """Every request the limiter lets start now, none in flight before: ``acquire`` does not
    wait while fewer than ``allowed_in_flight`` are out."""
    slots: list[Slot] = []
    while len(slots) < limiter.snapshot()["allowed_in_flight"]:
        slots.append(limiter.acquire())
    return slots


@pytest.mark.parametrize(("hwm", "most"), [(600.0, 11), (700.0, 13)])
def test_limiter_ramps_in_a_few_round_trips_and_never_overfills_the_bucket(
    hwm: float, most: int
) -> None:
    """Thirty requests against a faithful bucket: every response reports the server's view."""
    clock = FakeClock()
    limiter = ThrottleLimiter(clock=clock)
    level, throttled, per_round = 0.0, 0, []
    while sum(per_round) < 30:
        sent = []
        for slot in start_all_allowed(limiter):
            level += 50.0  # Canvas reserves 50 units, then checks the high-water mark
            throttled += level >= hwm
            sent.append(slot)
        for slot in sent:  # answered in order; later requests still hold their 50 units
            level += 0.1 - 50.0
            limiter.release(slot, remaining=hwm - level, cost=0.1)
        per_round.append(len(sent))
        clock.now += 0.05  # one round trip
        level = max(0.0, level - 0.5)

    assert throttled == 0
    assert max(per_round) == most
    assert len(per_round) <= 5, per_round


def test_a_response_overtaken_by_another_is_not_taken_as_exact() -> None:
    """B was answered while A still held its 50 units, but reaches us after A's answer."""
    limiter = ThrottleLimiter(clock=FakeClock())
    a, b = limiter.acquire(), limiter.acquire()
    limiter.release(a, remaining=599.8, cost=0.1)
    limiter.release(b, remaining=549.9, cost=0.1)  # nothing else in flight now, yet not exact

    assert limiter.snapshot()["hwm"] == pytest.approx(600, abs=1)


@responses.activate
def test_a_redirect_is_not_followed_and_names_the_problem() -> None:
    """A redirect could lead past the SSRF guard to an internal address: never follow it."""
    responses.get(
        "https://canvas.example.edu/api/v1/users/self",
        status=302,
        headers={"Location": "http://169.254.169.254/latest/meta-data/"},
    )
    responses.get("http://169.254.169.254/latest/meta-data/", json={"secret": "x"})
    client = CanvasAPIService("https://canvas.example.edu", "redirect-token-0000")
    with pytest.raises(CanvasError, match="redirected") as excinfo:
        client.get_current_user()
    assert "169.254.169.254" in str(excinfo.value)
    assert [c.request.url for c in responses.calls] == [
        "https://canvas.example.edu/api/v1/users/self"
    ]


def test_a_drained_bucket_opens_the_window_at_once_otherwise_slow_start() -> None:
    """A fresh limiter sends 2 at first; told the bucket drained, all 11 an empty one allows."""
    cautious = ThrottleLimiter()
    assert len(start_all_allowed(cautious)) == 2
    drained = ThrottleLimiter()
    drained.assume_drained()
    # 11 x 50 units + the 25-unit safety margin fit under hwm 600; a 12th would be throttled.
    assert len(start_all_allowed(drained)) == 11


def test_a_successful_response_opens_the_window_to_the_room_canvas_reports() -> None:
    limiter = ThrottleLimiter()
    first = limiter.acquire()
    limiter.release(first, remaining=600.0, cost=0.1)
    # Canvas said 600 units free: 11 requests fit at once, no growing one round trip at a time.
    assert len(start_all_allowed(limiter)) == 11
