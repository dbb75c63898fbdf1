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
import logging
import re
import threading
import time
import tracemalloc
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from app import jobs
from app.canvas.client import MAX_LIST_ITEMS, MAX_PAGE_VALUES
from app.extensions import db
from app.models import Assignment, CanvasConnection, Course
from app.sync.parse import parse_course_list, parse_gradebook
from tests.conftest import connect_user
from tests.live_server import serving

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
    # course list) depends on the machine's load, so the bound is per list. A list read item by
    # item stops at MAX_LIST_ITEMS (1,000 junk items a page; a couple of retried pages, a
    # loopback connection refused under load, are allowed for). A gradebook is kept as raw
    # pages for its digest, so its own cap is bytes (MAX_LIST_BYTES), not items: here it stops
    # because the failed sync stops every read, long before that.
    per_list = (1 if mode == "values" else MAX_LIST_ITEMS // 1000 + 1) + 2
    by_items = {key: n for key, n in server.reads.items() if "/assignment_groups" not in key}
    assert max(by_items.values()) <= per_list, sorted(by_items.items(), key=lambda kv: -kv[1])[:3]
    assert max(server.reads.values()) <= 1000, server.reads.most_common(3)
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
