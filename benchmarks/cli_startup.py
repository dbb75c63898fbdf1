"""How long the CLI takes outside the sync itself: ``canvas --help`` against ``canvas sync``.

    python -m benchmarks.cli_startup [--runs 7]

For each run it times ``flask --app app canvas --help`` and ``flask --app app canvas sync EMAIL
--json`` (a no-change incremental sync against the simulator, on a temporary SQLite file), and
subtracts the sync's own ``duration_s`` from the second. It prints the medians and the
difference, which is what an operator pays per ``canvas sync`` beyond starting the CLI.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from simulator import CanvasSimulator, SimulatorConfig

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp}/cli.sqlite3",
        "GRADESYNC_INSTANCE_DIR": tmp,
        "CANVAS_ALLOW_PRIVATE_HOSTS": "1",
        "SECRET_KEY": secrets.token_urlsafe(48),
    }
    env.pop("CELERY_BROKER_URL", None)

    def flask(*argv: str) -> tuple[float, subprocess.CompletedProcess[str]]:
        start = time.perf_counter()
        done = subprocess.run(  # noqa: S603 - our own interpreter and arguments
            [sys.executable, "-m", "flask", "--app", "app", *argv],
            env=env, cwd=ROOT, capture_output=True, text=True, check=False,
        )
        return time.perf_counter() - start, done

    flask("db", "upgrade")
    with CanvasSimulator(SimulatorConfig()) as sim:
        sim.add_student("tok-cli", preset="freshman")
        flask("user", "create", "cli@example.edu", "--password", "correct horse battery")
        flask("canvas", "connect", "cli@example.edu", "--url", sim.base_url, "--token", "tok-cli")
        flask("canvas", "sync", "cli@example.edu")
        helps, outside = [], []
        for _ in range(args.runs):
            helps.append(flask("canvas", "--help")[0])
            wall, done = flask("canvas", "sync", "cli@example.edu", "--incremental", "--json")
            outside.append(wall - json.loads(done.stdout.strip().splitlines()[-1])["duration_s"])
    help_s, sync_s = statistics.median(helps), statistics.median(outside)
    print(f"flask --app app canvas --help:        median {help_s * 1000:6.0f} ms")
    print(f"canvas sync, outside the sync itself: median {sync_s * 1000:6.0f} ms")
    print(f"difference:                                  {(sync_s - help_s) * 1000:+6.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
