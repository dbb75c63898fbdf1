"""The demo's simulated Canvas: one stable address across restarts, and a Canvas that lives.

``run.py --demo`` starts a :class:`simulator.CanvasSimulator` next to the app. Two things make
that demo behave like a real school's Canvas:

* **One address.** The simulator's port is kept in ``INSTANCE_DIR/demo-canvas.json`` and reused
  on the next start; if that port is taken, a free one is used and every account's connection
  to an earlier demo address is moved to the new one *in place* (same connection, same rows),
  so a restart never adds a connection, a duplicated course or a dead address.
* **Changes now and then.** Every minute or two (and on Settings' "Simulate a week of Canvas")
  a teacher grades something, adds an assignment or moves a due date, through the simulator's
  own mutation helpers (``simulator/student.py``). Each change is drawn from a random generator
  seeded by its number, and when each was made is saved, so a restarted demo replays them (with
  the clock held at each one's moment) and its Canvas is the one the student last synced.

Time comes from :func:`clock.now` (the simulator stamps every change with it).

The demo's secret key is generated here too (:func:`load_or_create_secret_key`): only the demo
may start without ``SECRET_KEY``.
"""

from __future__ import annotations

import json
import logging
import random
import secrets
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import clock
from app.security import key_file
from app.settings import ConfigError, secret_weakness

logger = logging.getLogger("gradesync.demo")

# A week of a course's life: a few grades, a new assignment, a moved due date.
WEEK_OF_CHANGES = 6


GENERATED_SECRET_BYTES = 48


def _checked_file_key(path: Path, text: str) -> str:
    key = text.strip()
    reason = secret_weakness(key)
    if reason:
        raise ConfigError(
            f"{path} holds an unusable secret key ({reason}): delete the file to have a new "
            "one generated, or set SECRET_KEY"
        )
    return key


def load_or_create_secret_key(instance_dir: Path) -> str:
    """The demo's key: ``instance_dir/secret_key``, created with 0600 permissions on first run.

    Only the demo generates a key (every other start needs ``SECRET_KEY``). Processes that
    start together must all end up with the same complete key, so the key is written to a
    private temporary file first and then published with ``os.link``, which fails if the name
    exists: exactly one process wins, and nobody can read the name before the key is in it.
    """
    return key_file(instance_dir / "secret_key",
                    lambda: secrets.token_urlsafe(GENERATED_SECRET_BYTES), _checked_file_key)


def _load_state(path: Path) -> dict[str, Any]:
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def _save_state(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(state, sort_keys=True), encoding="utf-8")


class DemoCanvas:
    """The simulator of one demo instance, its saved port and its count of changes."""

    def __init__(self, state_file: Path, token: str, preset: str, latency: float) -> None:
        self.state_file = state_file
        self.token = token
        self.preset = preset
        self.latency = latency
        self.simulator: Any = None
        self.previous_url: str | None = None
        self.changes = 0
        self.moments: list[str] = []  # when each change was made (replayed at that moment)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the address ----------------------------------------------------------------------
    def start(self) -> str:
        """Start the simulator on the saved port (a free one if that is taken); replay the
        saved changes; return its address."""
        from simulator import CanvasSimulator, SimulatorConfig

        state = _load_state(self.state_file)
        self.previous_url = state.get("url") if isinstance(state.get("url"), str) else None
        saved_port = state.get("port") if isinstance(state.get("port"), int) else 0
        config = SimulatorConfig(latency=self.latency)
        try:
            simulator = CanvasSimulator(config, host="127.0.0.1", port=saved_port).start()
        except OSError:
            logger.warning("port %s is taken: the simulated Canvas moves to a free one",
                           saved_port)
            simulator = CanvasSimulator(config, host="127.0.0.1", port=0).start()
        simulator.add_student(self.token, preset=self.preset, seed=0, name="Demo Student")
        self.simulator = simulator
        moments = state.get("moments") if state.get("preset") == self.preset else []
        self.moments = [m for m in moments if isinstance(m, str)] if isinstance(moments, list) \
            else []
        for number, moment in enumerate(self.moments):
            # Replayed at the moment it first happened: the same due dates and grading times,
            # so the next sync finds nothing new.
            saved = clock.state()
            clock.freeze(datetime.fromisoformat(moment))
            try:
                self._change(number)
            finally:
                clock.restore(saved)
        self.changes = len(self.moments)
        self._save()
        return str(simulator.base_url)

    @property
    def base_url(self) -> str:
        return str(self.simulator.base_url)

    def _save(self) -> None:
        _save_state(self.state_file, {
            "port": self.simulator.port, "url": self.simulator.base_url,
            "preset": self.preset, "changes": self.changes, "moments": self.moments,
        })

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.simulator is not None:
            self.simulator.stop()

    # -- changes --------------------------------------------------------------------------
    def change(self, count: int = 1) -> list[str]:
        """Make ``count`` more changes in the simulated Canvas; returns what each was."""
        done: list[str] = []
        with self._lock:
            for _ in range(count):
                self.moments.append(clock.now().isoformat())
                described = self._change(self.changes)
                self.changes += 1
                if described:
                    done.append(described)
            self._save()
        for line in done:
            logger.info("Simulated Canvas: %s", line)
        return done

    def simulate_week(self) -> list[str]:
        return self.change(WEEK_OF_CHANGES)

    def _change(self, number: int) -> str | None:
        """Change number ``number``: the same one on every replay (seeded by its number)."""
        student = self.simulator.student(self.token)
        rng = random.Random(f"demo-change-{number}")  # noqa: S311 - a demo, not security
        with student.lock:
            courses = [c for c in student.courses.values()
                       if c.visible and c.is_student and c.workflow_state == "available"
                       and c.enrollment_state == "active"]
            courses = [c for c in courses if _current(c)] or courses
            if not courses:
                return None
            course = courses[rng.randrange(len(courses))]
            ungraded = [a for a in course.visible_assignments()
                        if a.points_possible and a.grading_type == "points"
                        and a.submission.score is None and not a.submission.excused]
            kind = ("grade", "grade", "assignment", "due_date")[rng.randrange(4)]
            if kind == "grade" and ungraded:
                target = ungraded[rng.randrange(len(ungraded))]
                score = round(target.points_possible * rng.uniform(0.6, 1.0), 1)
                student.grade(course.id, target.id, score)
                return f"{course.name}: {target.name} graded {score:g}/{target.points_possible:g}"
            if kind == "due_date" and ungraded:
                target = ungraded[rng.randrange(len(ungraded))]
                due = clock.now() + timedelta(days=rng.randrange(2, 9))
                student.edit_assignment(course.id, target.id,
                                        due_at=due.replace(minute=59, second=0, microsecond=0))
                return f"{course.name}: {target.name} is now due {due:%b %d}"
            groups = [g for g in course.groups.values()]
            if not groups:
                return None
            group = groups[rng.randrange(len(groups))]
            due = clock.now() + timedelta(days=rng.randrange(3, 12))
            name = f"Practice set {number + 1}"
            student.add_assignment(course.id, group.id, name, points_possible=10.0,
                                   due_at=due.replace(minute=59, second=0, microsecond=0))
            return f"{course.name}: new assignment {name}"

    def live(self, every: tuple[float, float] = (60.0, 120.0),
             after: Callable[[], None] | None = None) -> None:
        """Make one change every ``every`` seconds (a random span) in a background thread."""
        def run() -> None:
            rng = random.Random()  # noqa: S311 - only the pace of the demo
            while not self._stop.wait(rng.uniform(*every)):
                try:
                    self.change()
                    if after is not None:
                        after()
                except Exception:  # the demo's Canvas must never take the app down
                    logger.exception("the simulated Canvas could not change")

        self._thread = threading.Thread(target=run, name="demo-canvas-life", daemon=True)
        self._thread.start()


def _current(course: Any) -> bool:
    """The course's term is under way today (no dates: counts as current)."""
    now = clock.now()
    start = course.start_at or course.term.start_at
    end = course.end_at or course.term.end_at
    return (start is None or start <= now) and (end is None or now <= end)


def adopt_address(app: Any, url: str, previous: str | None) -> int:
    """Move every connection to an earlier demo address (``previous``, or any loopback
    ``http://127.0.0.1:`` one of this demo database) to ``url``, in place; returns how many.

    A user who already has a connection at ``url`` keeps it; an older one of theirs (left by a
    demo that added a connection on every start) is marked disconnected, so syncs stop trying a
    dead port; its synced rows stay (nothing is deleted)."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models import CanvasConnection

    moved = 0
    with app.app_context():
        stale = db.session.scalars(
            select(CanvasConnection).where(
                CanvasConnection.base_url.like("http://127.0.0.1:%"),
                CanvasConnection.base_url != url,
            ).order_by(CanvasConnection.id)
        ).all()
        taken = set(db.session.scalars(
            select(CanvasConnection.user_id).where(CanvasConnection.base_url == url)))
        # The previous demo address first: that is the one the accounts last used.
        stale = sorted(stale, key=lambda c: (c.base_url != previous, c.id))
        for connection in stale:
            if connection.user_id in taken:
                connection.access_token_encrypted = None
                connection.refresh_token_encrypted = None
                connection.status = "disconnected"
                continue
            connection.base_url = url
            taken.add(connection.user_id)
            moved += 1
        db.session.commit()
    return moved


def sync_demo_accounts(app: Any, url: str) -> int:
    """Start a quick sync for every account connected to the demo Canvas that has synced
    before (a first sync stays the student's click); returns how many started."""
    from sqlalchemy import select

    from app import jobs
    from app.extensions import db
    from app.models import CanvasConnection
    from app.pages.sync.run_view import has_synced

    started = 0
    with app.app_context():
        user_ids = sorted(set(db.session.scalars(
            select(CanvasConnection.user_id).where(
                CanvasConnection.base_url == url,
                CanvasConnection.access_token_encrypted.is_not(None)))))
        for user_id in user_ids:
            if has_synced(user_id):
                jobs.start_sync(user_id, incremental=True)
                started += 1
    return started
