"""One settings object (issue 19): every setting is declared once in ``app/settings.py``, the
README's table agrees with it, nothing in the app reads the environment or an undeclared key on
its own, and no start but the demo's goes without an explicit ``SECRET_KEY``."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from app.settings import BY_NAME, FIXED, SETTINGS, ConfigError, load

ROOT = Path(__file__).resolve().parents[2]
KEY = {"SECRET_KEY": "test-secret-key-not-for-production"}

# Keys the app reads that belong to Flask or an extension, or that code (not the environment)
# sets: create_app's engine options, run.py's demo hooks, a test's switches.
NOT_SETTINGS = {
    "SQLALCHEMY_ENGINE_OPTIONS", "REMEMBER_COOKIE_SECURE", "DEMO_CANVAS_URL",
    "DEMO_CANVAS_TOKEN", "DEMO_SIMULATE_WEEK", "TESTING", "WTF_CSRF_ENABLED",
}


def readme_table() -> dict[str, str]:
    """Each variable of the README's settings table and the text of its Default cell."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    found: dict[str, str] = {}
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        cells = [cell.strip() for cell in line.strip("|").split(" | ")]
        names = [n for n in re.findall(r"`([A-Z][A-Z0-9_]+)`", cells[0])
                 if n not in ("NAME", "NAME_FILE")]
        parts = cells[1].split(" / ")
        for index, name in enumerate(names):
            cell = parts[index] if len(parts) == len(names) else cells[1]
            found[name] = cell.replace("`", "")
    return found


def test_the_readme_table_lists_every_declared_setting_and_its_default() -> None:
    table = readme_table()
    assert sorted(set(BY_NAME) - set(table)) == []  # declared but not documented
    assert sorted(set(table) - set(BY_NAME)) == []  # documented but not declared
    wrong = {name: (table[name], BY_NAME[name].shown_default) for name in table
             if not table[name].startswith(BY_NAME[name].shown_default)}
    assert wrong == {}


def config_keys_read(path: Path) -> set[str]:
    """The literal keys this module reads from a Flask config: ``config["X"]``,
    ``config.get("X")``, ``app.config.get("X", ...)``."""
    keys: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        target: ast.expr | None = None
        key: ast.expr | None = None
        if isinstance(node, ast.Subscript):
            target, key = node.value, node.slice
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr in ("get", "setdefault") and node.args):
            target, key = node.func.value, node.args[0]
        if target is None or not ast.unparse(target).endswith("config"):
            continue
        if isinstance(key, ast.Constant) and isinstance(key.value, str) and key.value.isupper():
            keys.add(key.value)
    return keys


def test_every_config_key_the_app_reads_is_declared() -> None:
    declared = {s.config_key for s in SETTINGS} | set(FIXED) | NOT_SETTINGS
    undeclared = {
        f"{path.relative_to(ROOT)}: {key}"
        for path in sorted((ROOT / "app").rglob("*.py"))
        for key in config_keys_read(path) - declared
    }
    assert undeclared == set()


def test_only_the_settings_module_reads_the_environment() -> None:
    readers = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "app").rglob("*.py"))
        if path.name != "settings.py"
        and re.search(r"os\.environ|getenv\(", path.read_text(encoding="utf-8"))
    ]
    assert readers == []


@pytest.mark.parametrize(("name", "text"), [
    ("SYNC_WORKERS", "four"), ("SYNC_WORKERS", "0"), ("SYNC_EVENTS_MAX_SECONDS", "-1"),
    ("SCHEDULER_TICK_S", "soon"), ("CELERY_VISIBILITY_TIMEOUT_S", "1h"),
    ("SYNC_INTERRUPT_ON_WORKER_START", "maybe"), ("ALERT_QUEUE_MAX", "lots"),
])
def test_a_bad_value_is_refused_in_one_line_naming_it(name: str, text: str) -> None:
    with pytest.raises(ConfigError) as info:
        load({**KEY, name: text})
    assert str(info.value).startswith(name) and "\n" not in str(info.value)


def test_settings_from_the_environment_reach_the_app() -> None:
    config = load({**KEY, "SYNC_STALE_AFTER_S": "120", "CELERY_QUEUE": "campus-a",
                   "SYNC_EVENTS_PER_USER": "5", "SYNC_INTERRUPT_ON_WORKER_START": "off"})
    assert config["SYNC_STALE_AFTER_S"] == 120.0
    assert config["CELERY_QUEUE"] == "campus-a"
    assert config["SYNC_EVENTS_PER_USER"] == 5
    assert config["SYNC_INTERRUPT_ON_WORKER_START"] is False
    # A test's or the demo's own values win over the environment.
    assert load({**KEY, "SYNC_WORKERS": "2"}, {"SYNC_WORKERS": 7})["SYNC_WORKERS"] == 7


def test_no_secret_key_is_a_one_line_error_naming_what_to_set() -> None:
    with pytest.raises(ConfigError) as info:
        load({})
    message = str(info.value)
    assert "SECRET_KEY" in message and "SECRET_KEY_FILE" in message and "\n" not in message
    assert load({}, KEY)["SECRET_KEY"] == KEY["SECRET_KEY"]  # a test's or the demo's key


def _without_key(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("SECRET_KEY", "SECRET_KEY_FILE", "CELERY_BROKER_URL")}
    env.update(GRADESYNC_INSTANCE_DIR=str(tmp_path / "instance"),
               DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    return env


@pytest.mark.parametrize("command", [
    [sys.executable, "run.py", "--port", "0"],
    [sys.executable, "-m", "flask", "--app", "app", "canvas", "oauth-client", "list"],
    [sys.executable, "-c", "import app.wsgi"],
    [sys.executable, "-c", "import app.celery_app"],
], ids=["run.py", "flask", "gunicorn's app.wsgi", "celery worker"])
def test_every_start_but_the_demo_refuses_to_go_without_a_secret_key(
        tmp_path: Path, command: list[str]) -> None:
    result = subprocess.run(command, cwd=ROOT, env=_without_key(tmp_path), capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode != 0
    assert "SECRET_KEY is not set: set SECRET_KEY (or SECRET_KEY_FILE" in \
        result.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "instance").exists()  # no key file (nor anything else) was written
    if command[1] in ("run.py", "-m"):  # our own entry points: one line, no traceback
        assert "Traceback" not in result.stderr


def test_a_key_file_is_enough(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("a-key-kept-in-a-docker-secret-0123456789\n")
    env = {**_without_key(tmp_path), "SECRET_KEY_FILE": str(key_file)}
    result = subprocess.run([sys.executable, "-c", "import app.wsgi"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
