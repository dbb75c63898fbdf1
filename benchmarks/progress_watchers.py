"""What watching a sync costs the server: 200 browsers following one running sync.

    python -m benchmarks.progress_watchers [--watchers 200] [--seconds 10] [--interval 1.0]

The app runs in this process on a temporary SQLite file (demo mode: no broker), served by a
threaded WSGI server on a loopback port. One sync run is "running" and moves on by one course
step every half second (as the jobs layer writes it). Each watcher is its own HTTP client that
polls ``/sync/<id>/status.json`` once per ``--interval``, sending the ``ETag`` it last received
as ``If-None-Match`` (as app.js does), so an unchanged run costs a bodiless 304.

Printed: requests per second the server answered (and the share that were 304), database
statements per second and per request, the server threads busy with watchers (mean and
maximum, sampled every 10 ms) and so the threads held per watcher, and the answer times.
"""

from __future__ import annotations

import argparse
import random
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from benchmarks.harness import default_database_url, use_temp_instance_dir

PASSWORD = "benchmark-password-1"  # harness._password_hash's


class InFlight:
    """WSGI middleware: how many requests the server is busy with right now."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.now = 0
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        with self._lock:
            self.now += 1
        try:
            yield from self.app(environ, start_response)
        finally:
            with self._lock:
                self.now -= 1


class Watcher(threading.Thread):
    """One browser tab polling the run's status with its last ETag."""

    def __init__(self, url: str, cookies: Any, interval: float, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        import requests

        self.session = requests.Session()
        self.session.cookies.update(cookies)
        self.url, self.interval, self.stop = url, interval, stop
        self.codes: Counter[int] = Counter()
        self.seconds: list[float] = []

    def run(self) -> None:
        etag: str | None = None
        time.sleep(random.uniform(0, self.interval))  # tabs opened at different moments
        while not self.stop.is_set():
            started = time.perf_counter()
            headers = {"Accept": "application/json"} | ({"If-None-Match": etag} if etag else {})
            try:
                response = self.session.get(self.url, headers=headers, timeout=30)
            except Exception:  # counted, and the watcher goes on as the page does
                self.codes[0] += 1
            else:
                self.codes[response.status_code] += 1
                etag = response.headers.get("ETag", etag)
            self.seconds.append(time.perf_counter() - started)
            self.stop.wait(max(0.0, self.interval - (time.perf_counter() - started)))
        self.session.close()


def _advance(app: Any, run_id: int, stop: threading.Event, total: int) -> None:
    """Move the run on by one course step every half second, as the progress writer does."""
    from app.extensions import db
    from app.models import SyncRun

    done = 0
    while not stop.wait(0.5):
        done = min(done + 1, total)
        step = {"connection_id": 1, "course_id": 1000 + done, "name": f"Course {done}",
                "index": done, "total": total, "assignments": 10, "rows_written": 12,
                "run_done": done, "run_total": total}
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
    args = parser.parse_args()

    instance = use_temp_instance_dir()
    from sqlalchemy import event
    from werkzeug.serving import make_server

    from app.extensions import db
    from app.models import SyncRun, User
    from benchmarks.harness import _password_hash, make_app, reset_schema

    app = make_app(default_database_url(instance))
    with app.app_context():
        reset_schema()
        user = User(email="watch@example.edu", password_hash=_password_hash())
        db.session.add(user)
        db.session.commit()
        run = SyncRun(user_id=user.id, kind="full", status="running", phase="fetching",
                      courses_total=10_000, message="Fetching 10000 courses…")
        db.session.add(run)
        db.session.commit()
        run_id = run.id
        statements = Counter[str]()

        @event.listens_for(db.engine, "before_cursor_execute")
        def _count(*_args: Any) -> None:
            statements[threading.current_thread().name] += 1

    inflight = InFlight(app.wsgi_app)
    app.wsgi_app = inflight  # type: ignore[method-assign]
    server = make_server("127.0.0.1", 0, app, threaded=True)
    server.daemon_threads = True
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    base = f"http://127.0.0.1:{server.server_port}"
    import requests

    login = requests.Session()
    answer = login.post(f"{base}/login", data={"email": "watch@example.edu",
                                               "password": PASSWORD}, allow_redirects=False,
                        timeout=30)
    if answer.status_code != 302:
        raise SystemExit(f"could not log in: HTTP {answer.status_code}")

    stop = threading.Event()
    advancer = threading.Thread(target=_advance, args=(app, run_id, stop, 10_000), daemon=True,
                                name="advancer")
    watchers = [Watcher(f"{base}/sync/{run_id}/status.json", login.cookies, args.interval, stop)
                for _ in range(args.watchers)]
    for watcher in watchers:
        watcher.start()
    time.sleep(args.interval)  # every watcher has started polling
    advancer.start()
    before = sum(w.codes.total() for w in watchers)
    db_before = sum(n for name, n in statements.items() if name != "advancer")
    samples: list[int] = []
    started = time.monotonic()
    while time.monotonic() - started < args.seconds:
        samples.append(inflight.now)
        time.sleep(0.01)
    elapsed = time.monotonic() - started
    answered = sum(w.codes.total() for w in watchers) - before
    db_reads = sum(n for name, n in statements.items() if name != "advancer") - db_before
    stop.set()
    for watcher in [*watchers, advancer]:
        watcher.join(timeout=60)
    server.shutdown()
    login.close()

    codes = sum((w.codes for w in watchers), Counter[int]())
    seconds = sorted(s for w in watchers for s in w.seconds)
    rows = [
        ("watchers", f"{args.watchers}"),
        ("poll interval", f"{args.interval:.1f} s"),
        ("requests per second", f"{answered / elapsed:.0f}"),
        ("answers 304 (unchanged)", f"{codes[304] / max(codes.total(), 1):.0%}"),
        ("other answers", f"{ {k: v for k, v in codes.items() if k not in (200, 304)} }"),
        ("database statements per second", f"{db_reads / elapsed:.0f}"),
        ("database statements per request", f"{db_reads / max(answered, 1):.1f}"),
        ("server threads busy, mean", f"{statistics.fmean(samples):.1f}"),
        ("server threads busy, max", f"{max(samples)}"),
        ("threads held per watcher", f"{statistics.fmean(samples) / args.watchers:.3f}"),
        ("answer time p50 / p95", f"{seconds[len(seconds) // 2] * 1000:.0f} ms / "
                                  f"{seconds[int(len(seconds) * 0.95)] * 1000:.0f} ms"),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
