"""A hostile Canvas list is bounded (issue 21, finding 4).

A small server on 127.0.0.1 answers every list with junk pages that never end: one page of
millions of ``{}`` (which json turns into gigabytes of objects), or endless pages of id-less
entries. The client stops at its limits (values per page, items and bytes per list), the sync
fails with a one-line message that says so, and the rows stored by the last good sync stay.
Junk entries are logged once per list, with a count.
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import re
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from sqlalchemy import func, select

from app import jobs
from app.canvas.client import (
    MAX_LIST_ITEMS,
    MAX_PAGE_VALUES,
    CanvasAPIService,
    ResponseTooLarge,
)
from app.extensions import db
from app.models import Assignment, CanvasConnection, Course
from app.outbound import OutboundPolicy
from app.sync.parse import parse_course_list, parse_gradebook
from tests.conftest import connect_user
from tests.live_server import serving
from tests.sync_helpers import db_snapshot

MB = 1024 * 1024


class Junk(ThreadingHTTPServer):
    mode: str
    pages: int
    reads: collections.Counter[str]  # pages asked for, per list (path and query but the page)


class _JunkHandler(BaseHTTPRequestHandler):
    server: Junk

    def do_GET(self) -> None:  # noqa: N802
        parts = urlsplit(self.path)
        page = int((parse_qs(parts.query).get("page") or ["1"])[0])
        self.server.pages += 1
        self.server.reads[parts.path + "?" + re.sub(r"(^|&)page=\d+", "", parts.query)] += 1
        if parts.path == "/api/v1/users/self":
            body = b'{"id": 1, "name": "Junk"}'
        elif self.server.mode == "values":
            body = b"[" + b"{}," * (7 * MB // 3) + b"{}]"  # 7 MiB of empty objects
        else:
            body = b"[" + b",".join([b'{"id": null}'] * 1000) + b"]"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        query = parts.query.replace(f"page={page}", "").strip("&")
        nxt = f"http://{self.headers['Host']}{parts.path}?{query}&page={page + 1}"
        self.send_header("Link", f'<{nxt}>; rel="next"')  # never ends
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def junk_canvas(mode: str) -> Iterator[Junk]:
    server = Junk(("127.0.0.1", 0), _JunkHandler)
    server.mode, server.pages, server.reads = mode, 0, collections.Counter()
    with serving(server):
        yield server


def _counts(user_id: int) -> tuple[int, int]:
    courses = db.session.scalar(select(func.count()).select_from(Course)
                                .where(Course.user_id == user_id))
    assignments = db.session.scalar(
        select(func.count()).select_from(Assignment).join(Course)
        .where(Course.user_id == user_id))
    return int(courses or 0), int(assignments or 0)


@pytest.mark.slow
@pytest.mark.parametrize(("mode", "limit"), [("values", str(MAX_PAGE_VALUES)),
                                             ("items", str(MAX_LIST_ITEMS))])
def test_a_list_bomb_is_bounded_and_the_sync_reports_the_cut(
    app: Any, simulator: Any, mode: str, limit: str
) -> None:
    user, _ = connect_user(app, simulator, email=f"{mode}@example.edu", token=f"tok-junk-{mode}")
    first = jobs.run_sync(user.id, jobs.create_sync_run(user.id, False).id, False)
    assert first["status"] == "succeeded", first["error"]
    before = _counts(user.id)
    assert before[0] > 0 and before[1] > 0
    with junk_canvas(mode) as server:
        connection = db.session.scalars(
            select(CanvasConnection).where(CanvasConnection.user_id == user.id)).one()
        connection.base_url = f"http://127.0.0.1:{server.server_port}"
        db.session.commit()
        run = jobs.create_sync_run(user.id, False)
        tracemalloc.start()
        started = time.monotonic()
        try:
            result = jobs.run_sync(user.id, run.id, False)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        took = time.monotonic() - started
    assert result["status"] == "failed"  # never a silent success
    error = result["error"]
    assert "\n" not in error and "limit" in error and limit in error, error
    assert peak < 150 * MB, f"{peak / MB:.0f} MiB"
    assert took < 60, took
    # Each read of a list stops at its limit, not at page 10,000. How many lists the sync has
    # started when the first cut fails it (stored courses' gradebooks are asked for beside the
    # course list) depends on the machine's load, so the bound is per list. Every list stops at
    # MAX_LIST_ITEMS (1,000 junk items a page; a couple of retried pages, a loopback
    # connection refused under load, are allowed for), a gradebook kept as raw pages for its
    # digest too (app.canvas.jsonbody.RawPages), not only at its bytes (MAX_LIST_BYTES).
    per_list = (1 if mode == "values" else MAX_LIST_ITEMS // 1000 + 1) + 2
    assert max(server.reads.values()) <= per_list, server.reads.most_common(3)
    db.session.expire_all()
    assert _counts(user.id) == before  # nothing deleted because a list was cut


def test_junk_entries_are_logged_once_per_list_with_a_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="app.sync.parse"):
        courses = parse_course_list([{}] * 50_000 + [{"id": "x"}] * 10 + [{"id": 7, "name": "C"}])
        book = parse_gradebook(7, [{"id": 1, "assignments": [{}] * 30_000}, {}, "junk"])
    assert courses.invalid == 50_010 and len(courses.courses) == 1
    assert book.skipped == 30_002
    # Only this thread's parser lines: a background thread left by an earlier test may log too.
    lines = [r.getMessage() for r in caplog.records
             if r.name == "app.sync.parse" and r.thread == threading.get_ident()]
    assert lines == ["skipped 50010 course list entries without a usable id",
                     "skipped 30002 groups or assignments of course 7 without a usable id"], lines


# --- gradebooks kept as raw pages (issue 21, finding 4: the item limit) ----------------------

LOOPBACK = OutboundPolicy(allow_private=True)  # the simulator listens on 127.0.0.1
JUNK = 250  # junk items a page past the real ones (hostile_endless_gradebook)
READS: dict[str, tuple[str, Callable[[CanvasAPIService, int], list[bytes]], int]] = {
    # name: (the list, the read, items a junk page holds: a group and its assignment are two)
    "gradebook": ("assignment_groups", CanvasAPIService.get_assignment_groups_pages, 2 * JUNK),
    "split groups": ("assignment_groups", CanvasAPIService.get_group_pages, JUNK),
    "split assignments": ("assignments",
                          lambda client, course: client.get_assignment_pages(course, 100, 2),
                          JUNK),
}


@pytest.mark.parametrize("name", READS)
def test_endless_small_gradebook_pages_stop_at_the_item_limit(simulator: Any, name: str) -> None:
    """A gradebook is kept as raw pages (for its digest), yet its items count as any list's:
    endless pages of small items stop at MAX_LIST_ITEMS (a few dozen pages), not at the
    64 MiB of bytes (thousands of pages)."""
    endpoint, read, per_page = READS[name]
    student = simulator.add_student(f"tok-endless-{name}")
    course_id, _ = student.any_assignment()
    simulator.config.hostile_endless_gradebook = JUNK
    simulator.reset_stats()
    with (CanvasAPIService(simulator.base_url, f"tok-endless-{name}", policy=LOOPBACK) as client,
          pytest.raises(ResponseTooLarge) as caught):
        read(client, course_id)
    message = str(caught.value)
    assert "\n" not in message, message
    assert f"/api/v1/courses/{course_id}/{endpoint} over GradeSync's limit" in message, message
    assert f"over {MAX_LIST_ITEMS} items" in message, message
    assert simulator.stats.requests <= MAX_LIST_ITEMS // per_page + 4, simulator.stats.requests


def test_endless_gradebook_pages_fail_the_sync_and_every_course_keeps_its_rows(
    app: Any, simulator: Any
) -> None:
    user, _ = connect_user(app, simulator, email="endless@example.edu", token="tok-endless")
    first = jobs.run_sync(user.id, jobs.create_sync_run(user.id, False).id, False)
    assert first["status"] == "succeeded", first["error"]
    before = db_snapshot(user.id)
    digests = _digests(user.id)
    assert before and all(course["assignments"] for course in before.values())

    simulator.config.hostile_endless_gradebook = JUNK
    simulator.reset_stats()
    result = jobs.run_sync(user.id, jobs.create_sync_run(user.id, False).id, False)

    assert result["status"] == "failed"  # never a silent success
    error = result["error"]
    assert "\n" not in error and re.search(
        rf"/api/v1/courses/\d+/assignment_groups over GradeSync's limit \(over {MAX_LIST_ITEMS} "
        r"items\)", error), error
    # Each gradebook read stops at the item limit (about 40 pages of 500 items), where the
    # bytes alone (64 MiB) would have let it run on for thousands of pages.
    reads = collections.Counter(r.path for r in simulator.stats.by_path("/assignment_groups$"))
    assert reads and max(reads.values()) <= MAX_LIST_ITEMS // (2 * JUNK) + 3, reads
    db.session.expire_all()
    assert db_snapshot(user.id) == before  # the courses keep the rows of the last good sync
    assert _digests(user.id) == digests


def _digests(user_id: int) -> dict[int, tuple[str | None, str | None]]:
    rows = db.session.execute(select(Course.canvas_course_id, Course.response_digest,
                                     Course.gradebook_hash).where(Course.user_id == user_id))
    return {row[0]: (row[1], row[2]) for row in rows}


GROUP_PAGE = re.compile(r"https://canvas\.example\.edu/api/v1/courses/7/assignment_groups")


def _one_page(mocked: responses.RequestsMock, groups: list[dict[str, Any]]) -> bytes:
    body = json.dumps(groups, separators=(",", ":")).encode()
    mocked.add(responses.GET, GROUP_PAGE, body=body, content_type="application/json")
    return body


@pytest.mark.parametrize("assignments", [MAX_LIST_ITEMS - 1, MAX_LIST_ITEMS])
def test_a_gradebook_counts_its_groups_and_their_assignments(assignments: int) -> None:
    """One group of 19,999 assignments is 20,000 items, within the limit; one more is over."""
    group = {"id": 1, "assignments": [{"id": n} for n in range(assignments)]}
    with (responses.RequestsMock() as mocked,
          CanvasAPIService("https://canvas.example.edu", "tok-count-0000") as client):
        body = _one_page(mocked, [group])
        if assignments + 1 > MAX_LIST_ITEMS:
            with pytest.raises(ResponseTooLarge, match=f"over {MAX_LIST_ITEMS} items"):
                client.get_assignment_groups_pages(7)
            return
        pages = client.get_assignment_groups_pages(7)
        assert pages == [body]
        assert client.decode_pages(7, pages) == [group]


def test_commas_inside_names_are_not_items() -> None:
    """A page is bounded by its commas before anything is decoded; names full of commas pass
    that bound, and the exact count (5 groups, 10 assignments) keeps the list."""
    name = "," * 2_000  # 30,000 commas on the page, well under MAX_PAGE_VALUES
    groups = [{"id": g, "name": name, "assignments": [{"id": g * 10 + n, "name": name}
                                                      for n in range(2)]} for g in range(5)]
    with (responses.RequestsMock() as mocked,
          CanvasAPIService("https://canvas.example.edu", "tok-count-0000") as client):
        body = _one_page(mocked, groups)
        pages = client.get_assignment_groups_pages(7)
        assert pages == [body]
        assert client.decode_pages(7, pages) == groups
