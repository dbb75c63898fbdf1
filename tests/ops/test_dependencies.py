"""Every package the code imports is declared in the requirements list it belongs to (issue 19).

The imports are read with :mod:`ast` (those inside functions too), the standard library is left
out (``sys.stdlib_module_names``), and each import name is mapped to its distribution through
the installed packages' metadata (``markupsafe`` -> ``MarkupSafe``). A package that only comes
along with another (Werkzeug with Flask) still has to be declared when we import it ourselves:
the other may drop it, or change its version under us.

- the app, the simulator and the scripts that run it: ``requirements.in``;
- the benchmark (``benchmarks/``, ``test_canvas_performance.py``, ``test_optimizations.py``):
  those, or ``requirements-bench.in``;
- the tests: any of them, or ``requirements-dev.in``.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUNTIME_SCRIPTS = ["config.py", "clock.py", "run.py", "demo.py", "demo_mail.py",
                   "gunicorn.conf.py", "add_canvas_indexes.py"]
BENCH_SCRIPTS = ["test_canvas_performance.py", "test_optimizations.py"]
# Declared, never imported by name: the web server (a command) and the database driver that
# SQLAlchemy loads for postgresql:// addresses.
NOT_IMPORTED = {"gunicorn", "psycopg"}


def normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared(path: Path) -> set[str]:
    """The distributions ``path`` lists, following ``-r`` includes (``-c`` only constrains)."""
    names: set[str] = set()
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-c"):
            continue
        if line.startswith("-r"):
            names |= declared(path.parent / line[2:].strip())
            continue
        names.add(normal(re.split(r"[\[=<>!~; ]", line, maxsplit=1)[0]))
    return names


def is_local(name: str) -> bool:
    return any((base / f"{name}.py").exists() or (base / name).is_dir()
               for base in (ROOT, ROOT / "tests"))


def imported(files: Iterable[Path]) -> dict[str, set[str]]:
    """Top-level third-party import name -> the files that import it."""
    found: dict[str, set[str]] = {}
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and not is_local(top):
                    found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def distributions(names: dict[str, set[str]]) -> dict[str, set[str]]:
    """Import names mapped to distribution names (an unknown one is kept as it is)."""
    mapping = importlib.metadata.packages_distributions()
    result: dict[str, set[str]] = {}
    for name, files in names.items():
        for dist in mapping.get(name, [name]):
            result.setdefault(normal(dist), set()).update(files)
    return result


def python_files(*parts: str) -> list[Path]:
    files: list[Path] = []
    for part in parts:
        path = ROOT / part
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return files


RUNTIME = declared(ROOT / "requirements.in")
BENCH = declared(ROOT / "requirements-bench.in")
DEV = declared(ROOT / "requirements-dev.in")


def missing(code: dict[str, set[str]], allowed: set[str]) -> dict[str, list[str]]:
    return {dist: sorted(files)[:3] for dist, files in code.items() if dist not in allowed}


def test_the_app_and_its_scripts_import_only_runtime_requirements() -> None:
    code = distributions(imported(python_files("app", "simulator", *RUNTIME_SCRIPTS)))
    assert missing(code, RUNTIME) == {}


def test_every_runtime_requirement_is_used() -> None:
    """requirements.in is what production installs: nothing there only for the tests."""
    code = distributions(imported(python_files("app", "simulator", *RUNTIME_SCRIPTS)))
    assert sorted(RUNTIME - set(code) - NOT_IMPORTED) == []


def test_the_benchmark_imports_only_runtime_and_bench_requirements() -> None:
    code = distributions(imported(python_files("benchmarks", *BENCH_SCRIPTS)))
    assert missing(code, RUNTIME | BENCH) == {}
    # The bench list holds what only the benchmark needs.
    assert sorted(BENCH - RUNTIME - set(code)) == []


def test_the_tests_import_only_declared_packages() -> None:
    code = distributions(imported(python_files("tests")))
    assert missing(code, DEV) == {}
    assert BENCH <= DEV  # the suite runs the benchmark once (test_benchmark_parts.py)
