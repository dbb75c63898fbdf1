"""What watching a sync costs the server: 200 browsers following running syncs.

    python -m benchmarks.progress_watchers [--watchers 200] [--seconds 10] [--interval 1.0]
                                           [--step-every 2.0]

The app runs in this process on a temporary SQLite file (demo mode: no broker), served by a
threaded WSGI server on a loopback port. One sync run is "running" and moves on by one course
step every ``--step-every`` seconds (as the jobs layer writes it). The browsers run in a
process of their own (so their threads do not slow the server down): each polls
``/sync/<id>/status.json`` once per ``--interval``, sending the ``ETag`` it last received as
``If-None-Match`` (as app.js does), so an unchanged run costs a bodiless 304.

Printed, from the server's side over the measured seconds: requests answered per second (and
the share that were 304), database statements per second and per request, the server threads
busy with watchers (mean and maximum, sampled every 10 ms) and so the threads held per
watcher; from the browsers' side, the answer times.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import random
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from benchmarks.harness import default_database_url, use_temp_instance_dir

PASSWORD = "benchmark-password-1"  # noqa: S105 - harness._password_hash's throw-away user
TOTAL_COURSES = 10_000  # the run never ends while it is measured


class InFlight:
    """WSGI middleware: the requests the server is busy with now, and the answers it gave."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.now = 0
        self.answers: Counter[int] = Counter()
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        with self._lock:
            self.now += 1

        def started(status: str, headers: Any, *rest: Any) -> Any:
            with self._lock:
                self.answers[int(status.split(" ", 1)[0])] += 1
            return start_response(status, headers, *rest)

        try:
            yield from self.app(environ, started)
        finally:
            with self._lock:
                self.now -= 1


def watch(url: str, cookies: dict[str, str], watchers: int, interval: float, seconds: float,
          results: Any) -> None:
    """The browsers: each tab polls ``url`` with its last ETag for ``seconds``; puts the
    sorted answer times on ``results``."""
    import requests

    stop = threading.Event()
    times: list[float] = []
    lock = threading.Lock()

    def tab() -> None:
        etag: str | None = None
        # Tabs opened at different moments (not a secret: S311 does not apply).
        stop.wait(random.uniform(0, interval))  # noqa: S311
        with requests.Session() as session:
            session.cookies.update(cookies)
            while not stop.is_set():
                began = time.perf_counter()
                headers = {"Accept": "application/json"}
                if etag:
                    headers["If-None-Match"] = etag
                try:
                    answer = session.get(url, headers=headers, timeout=30)
                    etag = answer.headers.get("ETag", etag)
                except requests.RequestException:
                    pass  # the server counts what it answered; a tab goes on as the page does
                took = time.perf_counter() - began
                with lock:
                    times.append(took)
                stop.wait(max(0.0, interval - took))

    tabs = [threading.Thread(target=tab, daemon=True) for _ in range(watchers)]
    for thread in tabs:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in tabs:
        thread.join(timeout=60)
    results.put(sorted(times))


def _advance(app: Any, run_id: int, stop: threading.Event, every: float) -> None:
    """Move the run on by one course step every ``every`` seconds, as the progress writer."""
    from app.extensions import db
    from app.models import SyncRun

    done = 0
    while not stop.wait(every):
        done += 1
        step = {"connection_id": 1, "course_id": 1000 + done, "name": f"Course {done}",
                "index": done, "total": TOTAL_COURSES, "assignments": 10, "rows_written": 12,
                "run_done": done, "run_total": TOTAL_COURSES}
        with app.app_context():
            run = db.session.get_one(SyncRun, run_id)
            steps = [*((run.summary or {}).get("steps") or []), step][-40:]
            run.courses_done, run.phase, run.summary = done, "writing", {"steps": steps}
            db.session.commit()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--watchers", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between polls")
    parser.add_argument("--step-every", type=float, default=2.0,
                        help="seconds between two course steps of the run")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request

    instance = use_temp_instance_dir()
    from sqlalchemy import event
    from werkzeug.serving import make_server

    from app.extensions import db
    from app.models import SyncRun, User
    from benchmarks.harness import _password_hash, make_app, reset_schema

    app = make_app(default_database_url(instance))
    statements = Counter[str]()
    with app.app_context():
        reset_schema()
        user = User(email="watch@example.edu", password_hash=_password_hash())
        db.session.add(user)
        db.session.commit()
        run = SyncRun(user_id=user.id, kind="full", status="running", phase="fetching",
                      courses_total=TOTAL_COURSES, message="Fetching the courses…")
        db.session.add(run)
        db.session.commit()
        run_id = run.id

        @event.listens_for(db.engine, "before_cursor_execute")
        def _count(*_args: Any) -> None:
            statements[threading.current_thread().name] += 1

    inflight = InFlight(app.wsgi_app)
    app.wsgi_app = inflight
    server = make_server("127.0.0.1", 0, app, threaded=True)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    base = f"http://127.0.0.1:{server.server_port}"
    import requests

    with requests.Session() as login:
        answer = login.post(f"{base}/login", data={"email": "watch@example.edu",
                                                   "password": PASSWORD},
                            allow_redirects=False, timeout=30)
        if answer.status_code != 302:
            raise SystemExit(f"could not log in: HTTP {answer.status_code}")
        cookies = login.cookies.get_dict()

    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    warm_up = 2 * args.interval + 3.0  # the browsers' process starts and every tab polls
    browsers = context.Process(target=watch, args=(
        f"{base}/sync/{run_id}/status.json", cookies, args.watchers, args.interval,
        warm_up + args.seconds + args.interval, results))
    browsers.start()
    stop = threading.Event()
    advancer = threading.Thread(target=_advance, args=(app, run_id, stop, args.step_every),
                                daemon=True, name="advancer")
    advancer.start()
    time.sleep(warm_up)

    def served() -> tuple[Counter[int], int]:
        return (Counter(inflight.answers),
                sum(n for name, n in statements.items() if name != "advancer"))

    answers0, statements0 = served()
    samples: list[int] = []
    started = time.monotonic()
    while time.monotonic() - started < args.seconds:
        samples.append(inflight.now)
        time.sleep(0.01)
    elapsed = time.monotonic() - started
    answers1, statements1 = served()
    times: list[float] = results.get(timeout=120)
    browsers.join(timeout=60)
    stop.set()
    advancer.join(timeout=30)
    server.shutdown()

    answers = answers1 - answers0
    answered = answers.total()
    rows = [
        ("watchers", f"{args.watchers}"),
        ("poll interval / course step every", f"{args.interval:.1f} s / {args.step_every:.1f} s"),
        ("requests per second", f"{answered / elapsed:.0f}"),
        ("answers 304 (unchanged)", f"{answers[304] / max(answered, 1):.0%}"),
        ("answers other than 200/304", f"{answered - answers[200] - answers[304]}"),
        ("database statements per second", f"{(statements1 - statements0) / elapsed:.0f}"),
        ("database statements per request",
         f"{(statements1 - statements0) / max(answered, 1):.1f}"),
        ("server threads busy, mean / max", f"{statistics.fmean(samples):.1f} / {max(samples)}"),
        ("threads held per watcher", f"{statistics.fmean(samples) / args.watchers:.3f}"),
        ("answer time p50 / p95", f"{times[len(times) // 2] * 1000:.0f} ms / "
                                  f"{times[int(len(times) * 0.95)] * 1000:.0f} ms"),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
