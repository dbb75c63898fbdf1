"""A separate process that runs (or tries to start) one sync, for crash and race tests.

Run from the repository root::

    SECRET_KEY=... python tests/crash_worker.py sync --database-url URL --user-id 1
    python tests/crash_worker.py race --database-url URL --user-id 1 --go-file /tmp/go
    python tests/crash_worker.py startup --database-url URL

``sync`` creates a queued run (unless ``--run-id`` names one) and runs it with
``app.jobs.run_sync``, printing one line per progress report, so the test can kill it with
``SIGKILL`` at a known point, or cut its database connections. ``race`` prints ``READY``,
waits for ``--go-file`` to appear, then does what a click does (``create_sync_run``, then the
sync if it won). ``startup`` is what a freshly started server does first: it builds the app and its
sync runner, which marks runs left behind by dead processes as interrupted.

Output lines (flushed at once): ``RUN <id>``, ``REFUSED <active run id>``,
``PROGRESS <phase> <courses_done> <courses_total>``, ``RESULT <status> <json error>``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GRADESYNC_INSTANCE_DIR", str(ROOT / "tests" / ".instance"))


def say(*words: Any) -> None:
    """One line on stdout, flushed, for the parent test to read (this is the protocol)."""
    sys.stdout.write(" ".join(str(w) for w in words) + "\n")
    sys.stdout.flush()


def build_app(database_url: str) -> Any:
    from app import create_app

    return create_app({
        "SECRET_KEY": os.environ["SECRET_KEY"],
        "SQLALCHEMY_DATABASE_URI": database_url,
        "CANVAS_ALLOW_PRIVATE_HOSTS": True,
        "CELERY_BROKER_URL": None,
    })


def use_workers(workers: int) -> None:
    """Fetch with ``workers`` threads: one at a time makes the courses finish in turn."""
    from app.connections import syncing as module

    module.create_canvas_sync_service = partial(module.create_canvas_sync_service,
                                                workers=workers)


def run(user_id: int, run_id: int, incremental: bool) -> None:
    from app import jobs

    def progress(p: Any) -> None:
        say("PROGRESS", p.phase, p.courses_done, p.courses_total)

    results = jobs.run_sync(user_id, run_id, incremental, progress=progress)
    say("RESULT", results.get("status"), json.dumps(results.get("error")))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("sync", "race", "startup"))
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--user-id", type=int)
    parser.add_argument("--run-id", type=int)
    parser.add_argument("--incremental", action="store_true")
    parser.add_argument("--workers", type=int, default=0, help="fetch threads (0: default)")
    parser.add_argument("--go-file", type=Path)
    args = parser.parse_args()

    app = build_app(args.database_url)
    if args.workers:
        use_workers(args.workers)
    with app.app_context():
        from app import jobs

        if args.mode == "startup":
            jobs.recover_on_start(app)  # what a starting server does
            jobs.get_runner(app).shutdown(wait=True)
            say("STARTED")
            return 0
        if args.mode == "race":
            say("READY")
            deadline = time.monotonic() + 30
            while not args.go_file.exists():
                if time.monotonic() > deadline:
                    return 2
                time.sleep(0.005)
            try:
                created = jobs.create_sync_run(args.user_id, args.incremental)
            except jobs.SyncAlreadyRunning as exc:
                say("REFUSED", exc.run.id)
                return 0
            say("RUN", created.id)
            run(args.user_id, created.id, args.incremental)
            return 0
        run_id = args.run_id or jobs.create_sync_run(args.user_id, args.incremental).id
        say("RUN", run_id)
        run(args.user_id, run_id, args.incremental)
    return 0


class WorkerProcess:
    """The parent's side: start this script, read its lines as they come, always clean up."""

    def __init__(self, *args: str, env: dict[str, str], log: Path) -> None:
        import queue
        import subprocess
        import threading

        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._log = log
        self._err = log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), *args],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=self._err, text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, predicate: Any, timeout: float) -> str | None:
        """The first new line for which ``predicate(line)`` holds, or None (timeout / EOF)."""
        import queue

        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                return None
            if line is None:
                self._queue.put(None)  # stay at EOF for later calls
                return None
            self.lines.append(line)
            if predicate(line):
                return line

    def finish(self, timeout: float) -> int:
        """Wait for the exit (reading every line); kill it if it takes longer."""
        self.wait_for(lambda _line: False, timeout)
        return self.close()

    def close(self) -> int:
        """Kill if still running, reap, close the pipes; returns the exit code."""
        if self.process.poll() is None:
            self.process.kill()
        code = self.process.wait(timeout=30)
        self._reader.join(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._err.close()
        return code

    def stderr(self) -> str:
        return self._log.read_text()[-4000:]


if __name__ == "__main__":
    sys.exit(main())
