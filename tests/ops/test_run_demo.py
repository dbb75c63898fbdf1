"""``python run.py --demo`` from scratch: schema, simulator, demo login, a sync that works."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def start_demo(instance: Path, log: Path, *extra: str, preset: str = "freshman",
               latency: str = "0", wait_s: float = 60
               ) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """Start ``run.py --demo`` on a free port; return the process and what its banner said."""
    env = {**os.environ, "GRADESYNC_INSTANCE_DIR": str(instance),
           "NO_PROXY": "127.0.0.1,localhost", "PYTHONUNBUFFERED": "1"}
    for name in ("DATABASE_URL", "CELERY_BROKER_URL", "SECRET_KEY", "http_proxy", "https_proxy",
                 "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
        env.pop(name, None)
    process = subprocess.Popen(
        [sys.executable, "run.py", "--demo", "--port", "0", "--preset", preset,
         "--latency", latency, *extra],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=log.open("w"), text=True,
    )
    banner: dict[str, str] = {}
    deadline = time.monotonic() + wait_s
    assert process.stdout is not None
    while "canvas" not in banner and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        if found := re.search(r"running at (http://\S+)", line):
            banner["url"] = found.group(1).rstrip("/")
        if found := re.search(r"Demo login:\s+(\S+)\s+/\s+(\S+)", line):
            banner["login"], banner["password"] = found.groups()
        if found := re.search(r"Simulated Canvas .*?(http://\S+)\s+token:\s+(\S+)", line):
            banner["canvas"], banner["token"] = found.groups()
    return process, banner


def _start_demo(tmp_path: Path, log: Path, *extra: str
                ) -> tuple[subprocess.Popen[str], dict[str, str]]:
    return start_demo(tmp_path / "instance", log, *extra)


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(timeout=20)


def test_demo_starts_logs_in_and_syncs(tmp_path: Path) -> None:
    log = tmp_path / "stderr.log"
    process, banner = _start_demo(tmp_path, log)
    try:
        assert {"url", "login", "password", "canvas", "token"} <= set(banner), banner
        assert (tmp_path / "instance" / "demo.sqlite3").exists()

        http = requests.Session()
        http.trust_env = False
        base = banner["url"]
        page = http.get(f"{base}/login", timeout=10).text
        response = http.post(f"{base}/login", timeout=10, data={
            "email": banner["login"], "password": banner["password"],
            "csrf_token": _csrf(page)})
        assert response.status_code == 200 and "Sync Canvas" in response.text

        response = http.post(f"{base}/sync", data={"csrf_token": _csrf(response.text)},
                             timeout=10)
        status_url = re.search(r'data-status-url="([^"]+)"', response.text).group(1)
        state: dict = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            state = http.get(base + status_url, timeout=10,
                             headers={"Accept": "application/json"}).json()
            if state["finished"]:
                break
            time.sleep(0.2)
        assert state["status"] == "succeeded", state
        dashboard = http.get(f"{base}/", timeout=10).text
        assert dashboard.count('href="/courses/') == 5  # the freshman's visible courses
        # Connected as a student connects: due dates in the Canvas profile's time zone.
        settings_page = http.get(f"{base}/settings", timeout=10).text
        assert re.search(r'<option selected value="America/Chicago">', settings_page)

        # Someone who registers their own account finds the simulated Canvas in Settings.
        newcomer = requests.Session()
        newcomer.trust_env = False
        form = newcomer.get(f"{base}/register", timeout=10).text
        settings = newcomer.post(f"{base}/register", timeout=10, data={
            "email": "newcomer@example.edu", "password": "correct horse battery",
            "confirm": "correct horse battery", "csrf_token": _csrf(form)}).text
        assert f'value="{banner["canvas"]}"' in settings  # the address, prefilled
        assert banner["token"] in settings
    finally:
        _stop(process)
    # The request log stays quiet, so the login stays on screen.
    assert '"GET /login' not in log.read_text()

    # The password is the instance's: the same after a restart.
    process, again = _start_demo(tmp_path, tmp_path / "stderr2.log")
    _stop(process)
    assert again["password"] == banner["password"]


def _log_in(base: str, login: str, password: str) -> tuple[requests.Session, str]:
    http = requests.Session()
    http.trust_env = False
    page = http.get(f"{base}/login", timeout=10).text
    response = http.post(f"{base}/login", timeout=10, data={
        "email": login, "password": password, "csrf_token": _csrf(page)})
    assert response.status_code == 200, response.text[:300]
    return http, response.text


def _sync(http: requests.Session, base: str, page: str) -> dict:
    response = http.post(f"{base}/sync", data={"csrf_token": _csrf(page)}, timeout=10)
    status_url = re.search(r'data-status-url="([^"]+)"', response.text).group(1)
    state: dict = {}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = http.get(base + status_url, timeout=10,
                         headers={"Accept": "application/json"}).json()
        if state["finished"]:
            break
        time.sleep(0.2)
    return state


def test_a_restarted_demo_keeps_its_canvas_address_and_syncs_without_duplicates(
    tmp_path: Path,
) -> None:
    """Start, sync, register a second account connected to the demo Canvas, restart: the
    simulated Canvas is at the same address, both accounts sync with no error, and no course
    is listed twice."""
    process, banner = _start_demo(tmp_path, tmp_path / "one.log", "--canvas-changes-every", "0")
    try:
        base = banner["url"]
        http, page = _log_in(base, banner["login"], banner["password"])
        assert _sync(http, base, page)["status"] == "succeeded"
        before = http.get(f"{base}/", timeout=10).text.count('href="/courses/')
        newcomer = requests.Session()
        newcomer.trust_env = False
        form = newcomer.get(f"{base}/register", timeout=10).text
        settings = newcomer.post(f"{base}/register", timeout=10, data={
            "email": "newcomer@example.edu", "password": "correct horse battery",
            "confirm": "correct horse battery", "csrf_token": _csrf(form)}).text
        newcomer.post(f"{base}/settings", timeout=10, data={
            "url": banner["canvas"], "token": banner["token"], "csrf_token": _csrf(settings)})
    finally:
        _stop(process)

    process, again = _start_demo(tmp_path, tmp_path / "two.log", "--canvas-changes-every", "0")
    try:
        assert again["canvas"] == banner["canvas"]  # one stable address
        base = again["url"]
        http, page = _log_in(base, again["login"], again["password"])
        state = _sync(http, base, page)
        assert state["status"] == "succeeded", state
        dashboard = http.get(f"{base}/", timeout=10).text
        assert "Cannot reach Canvas" not in dashboard
        assert dashboard.count('href="/courses/') == before == 5
        assert f"Connected to {banner['canvas']}." in dashboard

        newcomer_http, newcomer_page = _log_in(base, "newcomer@example.edu",
                                               "correct horse battery")
        assert _sync(newcomer_http, base, newcomer_page)["status"] == "succeeded"
        assert newcomer_http.get(f"{base}/", timeout=10).text.count('href="/courses/') == 5
    finally:
        _stop(process)


def test_a_living_demo_brings_changes_the_chart_and_an_alert_email(tmp_path: Path) -> None:
    """With the simulated Canvas changing every couple of seconds, a student who synced once
    sees "What changed" fill, the course chart grow a line, and an alert email arrive in the
    demo's mailbox, without another click."""
    process, banner = _start_demo(tmp_path, tmp_path / "live.log", "--canvas-changes-every", "2")
    mailbox = tmp_path / "instance" / "demo-mail.txt"
    try:
        base = banner["url"]
        http, page = _log_in(base, banner["login"], banner["password"])
        assert _sync(http, base, page)["status"] == "succeeded"
        dashboard = ""
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            dashboard = http.get(f"{base}/", timeout=10).text
            if "What changed" in dashboard and mailbox.exists():
                break
            time.sleep(1)
        assert "What changed" in dashboard
        assert mailbox.exists() and "Subject:" in mailbox.read_text()
        charts = [http.get(f"{base}{href}", timeout=10).text
                  for href in set(re.findall(r'href="(/courses/\d+)"', dashboard))]
        assert any("data-chart-line" in chart for chart in charts)
    finally:
        _stop(process)
