"""The date-sensitive tests pass whatever day it is: the suite again at each turn of a school year.

Each parameter runs the tests that read the date (syncs, grades, grading periods, the dashboard,
the calendar feed, alerts, the schedule) in a child pytest with ``GRADESYNC_NOW`` set, so the app
and the simulated Canvas both live on that day (``clock.py``): a term's first day (nothing
graded yet), the day a grading period closes, the day after a term ends, a holiday gap between
terms (no term in progress) and 29 Feb 2028. The dates are in ``tests/school_year.py``. The
database is the one the parent runs on (Postgres in CI).
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from tests.school_year import SCHOOL_YEAR

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent

DATE_SENSITIVE = [
    "tests/simulator/test_simulator.py",
    "tests/simulator/test_simulator_strict.py",
    "tests/sync/test_sync_fidelity.py",
    "tests/sync/test_canvas_sync_service.py",
    "tests/grades/test_grade_check.py",
    "tests/grades/test_grades.py",
    "tests/alerts/test_ledger.py",
    "tests/pages/test_dashboard.py",
    "tests/pages/test_calendar.py",
    "tests/alerts/test_alerts.py",
    "tests/jobs/test_schedule.py",
    "tests/grades/test_time_zones.py",
    "tests/ops/test_cli.py",
    "tests/pages/test_first_hour.py",
    "tests/grades/test_planner.py",
    "tests/grades/test_gpa.py",
    "tests/sync/test_response_digest.py",
    "tests/connections/test_oauth_tokens.py",
]


@pytest.mark.parametrize("moment", list(SCHOOL_YEAR.values()), ids=list(SCHOOL_YEAR))
def test_the_date_sensitive_tests_pass_on(moment: datetime, tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("GRADESYNC_NOW", "PYTEST_"))}
    env["GRADESYNC_NOW"] = moment.isoformat()
    env["GRADESYNC_INSTANCE_DIR"] = str(tmp_path / "instance")
    files = [name for name in DATE_SENSITIVE if (ROOT / name).exists()]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x",
         "-m", "not browser and not slow and not celery", *files],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1500, check=False,
    )
    tail = "\n".join(result.stdout.splitlines()[-40:])
    assert result.returncode == 0, f"on {moment:%Y-%m-%d %H:%M}Z:\n{tail}\n{result.stderr[-2000:]}"
    assert " passed" in tail
