"""The Canvas client against the real simulator: concurrency, throttling, faults, pooling."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from app.canvas.client import (
    BadResponse,
    CanvasAPIService,
    CanvasTimeout,
    ClientOptions,
    InvalidToken,
    NotFound,
)
from app.canvas.ratelimit import ThrottleLimiter
from app.outbound import OutboundPolicy, forget_shared_connections


@pytest.fixture
def make_client(simulator: Any) -> Iterator[Callable[..., CanvasAPIService]]:
    """Clients on the simulator, closed after the test; short back-off keeps tests quick."""
    clients: list[CanvasAPIService] = []

    def make(token: str, *, limiter: ThrottleLimiter | None = None,
             **changes: Any) -> CanvasAPIService:
        changes.setdefault("backoff_factor", 0.05)
        api = CanvasAPIService(
            simulator.base_url, token, options=ClientOptions().replace(**changes),
            limiter=limiter, policy=OutboundPolicy(allow_private=True),  # the loopback simulator
        )
        clients.append(api)
        return api

    yield make
    for api in clients:
        api.close()


def biggest_course(student: Any) -> int:
    expected = student.expected()
    return max(expected, key=lambda course_id: len(expected[course_id]["assignments"]))


def max_overlap(records: list[Any]) -> int:
    """The most requests the server was working on at the same moment."""
    events = sorted([(r.start, 1) for r in records] + [(r.end, -1) for r in records])
    depth = best = 0
    for _, step in events:
        depth += step
        best = max(best, depth)
    return best


def student_course_ids(api: CanvasAPIService) -> list[int]:
    """Every readable course of the student, from the three lists a full sync reads
    (app.sync.lists): the default one, the teacher-concluded courses, and the enrollments
    (a registrar-completed enrollment is in no course list)."""
    courses = [*api.get_courses(), *api.get_completed_courses()]
    listed = {c["id"] for c in courses}
    readable = {c["id"] for c in courses if not c.get("access_restricted_by_date")}
    readable |= {e["course_id"] for e in api.get_student_enrollments()} - listed
    return sorted(readable)


def fetch_gradebook(
    api: CanvasAPIService, workers: int = 8, course_ids: list[int] | None = None
) -> dict[int, set[int]]:
    """What a sync fetches: the course lists, then every visible course's groups in parallel."""
    if course_ids is None:
        course_ids = student_course_ids(api)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        groups = list(pool.map(api.get_assignment_groups, course_ids))
    return {
        course_id: {a["id"] for group in course_groups for a in group["assignments"]}
        for course_id, course_groups in zip(course_ids, groups, strict=True)
    }


def expected_gradebook(student: Any) -> dict[int, set[int]]:
    return {cid: set(course["assignments"]) for cid, course in student.expected().items()}


def test_numbered_pages_are_fetched_concurrently_and_in_order(
    simulator: Any, make_client: Callable[..., CanvasAPIService]
) -> None:
    simulator.config.latency = 0.05
    student = simulator.add_student("tok-pages", preset="heavy")
    course_id = biggest_course(student)
    # 25 per page turns the 250-assignment course into ~10 numbered pages.
    sequential = make_client("tok-pages", per_page=25, page_workers=1)
    in_order = sequential.get_assignments(course_id)
    simulator.reset_stats()

    api = make_client("tok-pages", per_page=25)
    assignments = api.get_assignments(course_id)

    assert [a["id"] for a in assignments] == [a["id"] for a in in_order]
    assert {a["id"] for a in assignments} == set(student.expected()[course_id]["assignments"])
    records = simulator.stats.by_path(rf"/courses/{course_id}/assignments$")
    assert len(records) == math.ceil(len(assignments) / 25) >= 8
    assert sorted(r.query["page"][0] for r in records[1:]) == sorted(
        str(n) for n in range(2, len(records) + 1)
    )
    assert max_overlap(records) >= 3, "pages 2..last must really be in flight together"
    assert api.stats.max_in_flight >= 3


def test_bookmark_pages_are_walked_in_order_and_complete(
    simulator: Any, make_client: Callable[..., CanvasAPIService]
) -> None:
    student = simulator.add_student("tok-bookmarks", preset="senior")
    api = make_client("tok-bookmarks", per_page=5)

    enrollments = api.get_student_enrollments()

    enrollment_ids = [e["id"] for e in enrollments]
    assert len(enrollment_ids) == len(set(enrollment_ids)), "no page read twice"
    assert {e["course_id"] for e in enrollments} >= set(student.expected())
    records = simulator.stats.by_path(r"/users/self/enrollments$")
    assert len(records) > 3
    assert "page" not in records[0].query
    assert all(r.query["page"][0].startswith("bookmark:") for r in records[1:])
    for before, after in zip(records, records[1:], strict=False):
        assert after.start >= before.end, "each bookmark comes from the page before"


@pytest.mark.parametrize("throttle_status", [403, 429])
def test_tight_bucket_ends_with_complete_data_and_no_errors(
    simulator: Any, make_client: Callable[..., CanvasAPIService], throttle_status: int
) -> None:
    simulator.config.hwm = 200.0
    simulator.config.throttle_status = throttle_status
    simulator.config.latency = 0.05
    student = simulator.add_student("tok-tight", preset="senior")
    # A limiter that dares 12 at once before it has seen a single response (and 12 callers
    # start together): Canvas must throttle the burst, and the client must recover.
    api = make_client("tok-tight", limiter=ThrottleLimiter(initial_in_flight=12))

    gradebook = fetch_gradebook(api, workers=12, course_ids=list(student.expected()))
    visible = student_course_ids(api)

    assert gradebook == expected_gradebook(student)
    assert sorted(visible) == sorted(gradebook)
    assert simulator.stats.throttled > 0, "the bucket really was too small"
    assert api.stats.throttled == simulator.stats.throttled
    assert api.stats.retries >= api.stats.throttled
    assert api.limiter.snapshot()["allowed_in_flight"] <= 3  # it learnt the bucket's size


def test_full_bucket_sees_no_throttling_with_36_concurrent_callers(
    simulator: Any, make_client: Callable[..., CanvasAPIService]
) -> None:
    simulator.config.latency = 0.05
    student = simulator.add_student("tok-busy", preset="senior")
    course_ids = list(student.expected())
    assert len(course_ids) >= 30
    # Three clients on one token (as three thread pools of a sync would be) share a limiter.
    clients = [make_client("tok-busy") for _ in range(3)]
    assert clients[0].limiter is clients[1].limiter is clients[2].limiter

    jobs = [(clients[i % 3], course_id) for i, course_id in enumerate(course_ids)]
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        results = list(pool.map(lambda job: job[0].get_assignment_groups(job[1]), jobs))

    assert [len(r) > 0 for r in results] == [True] * len(jobs)
    assert simulator.stats.throttled == 0
    limiter = clients[0].limiter.snapshot()
    assert limiter["throttled"] == 0
    assert 6 <= limiter["max_in_flight"] <= 11, "as many in flight as an hwm of 600 allows"


def test_server_errors_and_dropped_connections_end_with_complete_data(
    simulator: Any, make_client: Callable[..., CanvasAPIService]
) -> None:
    student = simulator.add_student("tok-flaky", preset="senior", seed=1)
    simulator.config.fault_5xx_rate = 0.08
    simulator.config.fault_drop_rate = 0.03
    simulator.config.seed = 7
    api = make_client("tok-flaky", per_page=5)  # small pages: a couple of hundred requests

    gradebook = fetch_gradebook(api)
    with ThreadPoolExecutor(max_workers=4) as pool:
        assignments = dict(zip(gradebook, pool.map(api.get_assignments, gradebook), strict=True))

    assert gradebook == expected_gradebook(student)
    for cid, rows in assignments.items():
        assert {a["id"] for a in rows} == gradebook[cid]
    faults = simulator.stats.errors_5xx + simulator.stats.dropped
    assert simulator.stats.errors_5xx > 0 and simulator.stats.dropped > 0
    assert api.stats.retries >= faults


def test_slow_answers_end_in_canvas_timeout_after_one_retry(
    simulator: Any, make_client: Callable[..., CanvasAPIService]
) -> None:
    simulator.add_student("tok-slow", preset="freshman")
    simulator.config.slow_rate = 1.0
    simulator.config.slow_seconds = 0.5
    api = make_client("tok-slow", timeout=(2.0, 0.15))

    with pytest.raises(CanvasTimeout) as caught:
        api.get_current_user()

    assert "did not answer /api/v1/users/self within 0.15 s" in str(caught.value)
    assert api.stats.requests == 2 and api.stats.retries == 1


@pytest.mark.parametrize(
    ("action", "words"), [("revoke_token", "was revoked"), ("expire_token", "has expired")]
)
def test_dead_token_raises_invalid_token_at_once(
    simulator: Any, make_client: Callable[..., CanvasAPIService], action: str, words: str
) -> None:
    simulator.add_student("tok-dead", preset="freshman")
    getattr(simulator, action)("tok-dead")
    simulator.reset_stats()
    api = make_client("tok-dead")

    with pytest.raises(InvalidToken) as caught:
        api.get_courses()

    assert words in str(caught.value)
    assert simulator.stats.requests == 1, "a dead token is never retried"
    assert api.stats.retries == 0


def test_unknown_course_is_not_found(
    simulator: Any, make_client: Callable[..., CanvasAPIService]
) -> None:
    simulator.add_student("tok-404", preset="freshman")
    with pytest.raises(NotFound):
        make_client("tok-404").get_assignments(999_999_999)
    assert simulator.stats.requests == 1


@pytest.mark.parametrize("kind", ["bad_json", "not_a_list"])
def test_malformed_pages_are_bad_responses(
    simulator: Any, make_client: Callable[..., CanvasAPIService], kind: str
) -> None:
    student = simulator.add_student("tok-bad", preset="freshman")
    course_id = next(iter(student.expected()))
    simulator.malform(r"/assignment_groups$", kind)

    with pytest.raises(BadResponse) as caught:
        make_client("tok-bad").get_assignment_groups(course_id)

    assert f"/api/v1/courses/{course_id}/assignment_groups" in str(caught.value)


def test_connections_are_pooled(
    simulator: Any, make_client: Callable[..., CanvasAPIService]
) -> None:
    simulator.config.connect_cost = 0.01
    simulator.add_student("tok-pool", preset="senior")
    api = make_client("tok-pool")

    fetch_gradebook(api)

    assert simulator.stats.requests >= 30
    assert simulator.stats.connections_opened <= 12
    assert simulator.stats.connections_opened * 3 < simulator.stats.requests


def test_the_next_client_reuses_the_last_ones_connections(
    simulator: Any, make_client: Callable[..., CanvasAPIService]
) -> None:
    """A worker's next sync, for another student, opens no new connection to the same Canvas:
    closing a client keeps the process's keep-alive connections (no TCP or TLS handshake
    again); each request still carries its own student's token."""
    forget_shared_connections()
    for token in ("tok-first", "tok-next"):
        simulator.add_student(token, preset="freshman")
    first = make_client("tok-first")
    fetch_gradebook(first)
    first.close()
    opened = simulator.stats.connections_opened
    assert opened >= 1

    # One request at a time: each takes a kept connection (a busier moment may open more).
    following = make_client("tok-next")
    assert following.get_courses() and following.get_student_enrollments()
    assert simulator.stats.connections_opened == opened
    assert {r.token for r in simulator.stats.records} == {"tok-first", "tok-next"}

    forget_shared_connections()  # what a new process starts with
    assert make_client("tok-next").get_courses()
    assert simulator.stats.connections_opened == opened + 1


def test_restricted_courses_come_back_as_two_keys(
    simulator: Any, make_client: Callable[..., CanvasAPIService]
) -> None:
    student = simulator.add_student("tok-restricted", preset="freshman")
    courses = make_client("tok-restricted").get_courses()

    restricted = [c for c in courses if c.get("access_restricted_by_date")]
    assert restricted and all(set(c) == {"id", "access_restricted_by_date"} for c in restricted)
    assert {c["id"] for c in courses} - {c["id"] for c in restricted} == set(student.expected())


def test_token_stays_out_of_real_wire_logs(
    simulator: Any,
    make_client: Callable[..., CanvasAPIService],
    caplog: pytest.LogCaptureFixture,
) -> None:
    token = "tok-wire-log-SECRET-0123456789"
    simulator.add_student(token, preset="freshman")
    simulator.config.fault_5xx_rate = 0.3
    caplog.set_level(logging.DEBUG)  # urllib3's connection and request lines included
    api = make_client(token)

    api.get_courses()
    simulator.revoke_token(token)
    with pytest.raises(InvalidToken) as caught:
        api.get_current_user()

    assert any(r.name.startswith("urllib3") for r in caplog.records)
    assert all(token not in r.getMessage() for r in caplog.records)
    assert token not in str(caught.value) and token not in repr(api)
