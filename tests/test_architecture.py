"""The shape of the code: arrows between modules point down, never in a circle.

How it checks: every ``.py`` file is parsed with :mod:`ast` (nothing is imported or run) and
every ``import`` in it is read, those inside functions too (an import hidden in a function is
still an arrow). ``from X import Y`` is an arrow to the module ``X.Y`` when that file exists,
else to ``X``. That gives one graph of modules; a depth-first search over it reports the first
circle it meets, and each arrow is checked against a layer list (lowest first): an arrow may
point to a lower layer, or sideways within a layer as long as that makes no circle, never up.

- ``app/``: the package layers below (``LAYERS``, the same list as ARCHITECTURE.md), without
  ``TYPE_CHECKING`` imports (annotations only), no circle between packages or modules;
- ``simulator/``: the tiers in ``SIMULATOR_LAYERS`` (plumbing, the gradebook model, the API,
  the server, the entry points), every import counted, ``TYPE_CHECKING`` ones too;
- the whole repository (``app/``, ``simulator/``, ``benchmarks/`` and the top-level scripts):
  ``REPOSITORY_LAYERS`` (``clock`` under the two products; ``config``, the scripts and
  benchmarks on top), and no circle anywhere, ``TYPE_CHECKING`` imports included: a circle
  that only type checkers see still ties two modules together.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app"

# Lowest first. A module may import from its own layer's packages only if that makes no
# circle, and from any lower layer; never from a higher one.
LAYERS: list[set[str]] = [
    {"app.settings", "app.setting_parsers", "app.models", "app.extensions", "app.safe_text",
     "app.db_events", "app.timezones", "app.logs", "app.metrics"},
    {"app.security", "app.outbound", "app.outbound_limits"},
    {"app.canvas"},
    {"app.grades", "app.sync"},
    {"app.accounts", "app.connections", "app.calendar", "app.alerts"},
    {"app.jobs", "app.ops"},
    {"app.pages", "app.cli"},
    {"app"},  # create_app: the composition root
    {"app.wsgi", "app.celery_app"},  # process entry points
]
LAYER_OF = {package: index for index, layer in enumerate(LAYERS) for package in layer}


def package_of(module: str) -> str:
    """``app.canvas.client`` -> ``app.canvas``; ``app.accounts`` -> ``app.accounts``."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else parts[0]


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_module(name: str) -> bool:
    """Whether ``name`` is a module or package of this repository."""
    path = ROOT / name.replace(".", "/")
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def imported_modules(
    path: Path, roots: tuple[str, ...] = ("app",), *, type_only_too: bool = False
) -> set[str]:
    """Every module under ``roots`` this file imports, anywhere in it (``TYPE_CHECKING``
    blocks aside unless ``type_only_too``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    type_only: set[int] = set()
    for node in ast.walk(tree):
        if (not type_only_too and isinstance(node, ast.If)
                and "TYPE_CHECKING" in ast.unparse(node.test)):
            type_only.update(id(child) for child in ast.walk(node))
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if is_module(candidate) else node.module)
    return {name for name in found if name.split(".")[0] in roots or name in roots}


def app_graph() -> dict[str, set[str]]:
    return {
        module_name(path): imported_modules(path)
        for path in sorted(APP.rglob("*.py"))
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if state.get(nxt) is None and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if state.get(node) is None and (cycle := visit(node)):
            return cycle
    return None


def test_every_package_has_a_layer() -> None:
    packages = {package_of(module) for module in app_graph()}
    assert packages - set(LAYER_OF) == set()


def test_no_arrow_points_up() -> None:
    upward = [
        f"{module} -> {target}"
        for module, targets in app_graph().items()
        for target in targets
        if LAYER_OF[package_of(target)] > LAYER_OF[package_of(module)]
    ]
    assert upward == []


def test_no_circles_between_packages_or_modules() -> None:
    graph = app_graph()
    packages: dict[str, set[str]] = {}
    for module, targets in graph.items():
        mine = package_of(module)
        packages.setdefault(mine, set()).update(
            package_of(t) for t in targets if package_of(t) != mine
        )
    assert find_cycle(packages) is None
    # Within a package too, ignoring the package's own __init__ re-exports.
    modules = {m: {t for t in ts if t not in graph or t.count(".") > 1 or t == m}
               for m, ts in graph.items()}
    assert find_cycle({m: ts - {m} for m, ts in modules.items()}) is None


def test_the_simulator_is_its_own_product() -> None:
    """The app never imports the simulator; the simulator's oracle never reads our maths."""
    assert not any(t.startswith("simulator") for ts in app_graph().values() for t in ts)
    for path in (ROOT / "simulator").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = [
            n.module if isinstance(n, ast.ImportFrom) else a.name
            for n in ast.walk(tree)
            if isinstance(n, ast.Import | ast.ImportFrom)
            for a in (n.names if isinstance(n, ast.Import) else [None])  # type: ignore[list-item]
        ]
        assert not [n for n in names if n and (n == "app" or n.startswith("app."))], path


# The simulator's tiers, lowest first (module names without ``simulator.``). Plumbing knows
# nothing of Canvas; the server is the composition root that wires the rest together.
SIMULATOR_LAYERS: list[set[str]] = [
    # plumbing and leaves: HTTP, counters, the bucket, settings, fault shapes, page links
    {"transport", "stats", "bucket", "config", "hostile", "pagination", "scopes", "catalog"},
    # the gradebook model: the teacher's truth, Canvas's totals, students and their JSON
    {"model", "scoring", "totals", "specs", "features", "builder", "datasets", "student",
     "lists", "render", "differentiated", "oauth"},
    {"api"},  # the REST routes
    {"server"},  # CanvasSimulator: wires the routes, faults and OAuth to the HTTP server
    {"__init__", "__main__"},  # entry points: the package's exports, ``python -m simulator``
]
SIMULATOR_LAYER_OF = {
    f"simulator.{name}" if name != "__init__" else "simulator": index
    for index, layer in enumerate(SIMULATOR_LAYERS)
    for name in layer
}

# The whole repository, lowest first: top-level names (a package or a root script).
SCRIPTS = {path.name.removesuffix(".py") for path in ROOT.glob("*.py")}
REPOSITORY_LAYERS: list[set[str]] = [
    {"clock"},  # "now": imports nothing of ours
    {"app", "simulator"},  # the two products: neither imports the other
    # config re-exports app.settings (every setting, declared in the package) to the scripts.
    {"config", "benchmarks", "run", "demo", "demo_mail", "add_canvas_indexes", "gunicorn.conf",
     "test_optimizations", "test_canvas_performance"},  # scripts on top of both
]
REPOSITORY_LAYER_OF = {name: index for index, layer in enumerate(REPOSITORY_LAYERS)
                       for name in layer}
TOP_LEVEL = tuple(REPOSITORY_LAYER_OF)


def top_of(module: str) -> str:
    """``app.canvas.client`` -> ``app``; a root script (``gunicorn.conf``) is its own."""
    return module if module in SCRIPTS else module.split(".")[0]


def repository_graph(*folders: str) -> dict[str, set[str]]:
    """Every module of ``folders`` (all of ours if none) -> what it imports of ours,
    ``TYPE_CHECKING`` imports included."""
    if folders:
        paths = [p for folder in folders for p in sorted((ROOT / folder).rglob("*.py"))]
    else:
        paths = [p for folder in ("app", "simulator", "benchmarks")
                 for p in sorted((ROOT / folder).rglob("*.py"))]
        paths += sorted(ROOT.glob("*.py"))
    return {
        module_name(path): imported_modules(path, TOP_LEVEL, type_only_too=True) - {
            module_name(path)}
        for path in paths
    }


def test_every_simulator_module_and_root_script_has_a_layer() -> None:
    assert set(repository_graph("simulator")) - set(SIMULATOR_LAYER_OF) == set()
    assert SCRIPTS - set(REPOSITORY_LAYER_OF) == set()


def test_the_simulator_has_no_circle_and_no_upward_arrow() -> None:
    """``transport`` hands requests to hooks the server passes in; it never imports the server."""
    graph = repository_graph("simulator")
    assert find_cycle(graph) is None
    upward = [
        f"{module} -> {target}"
        for module, targets in graph.items()
        for target in targets
        if target in SIMULATOR_LAYER_OF
        and SIMULATOR_LAYER_OF[target] > SIMULATOR_LAYER_OF[module]
    ]
    assert upward == []


def test_the_repository_has_no_circle_and_no_upward_arrow() -> None:
    graph = repository_graph()
    assert find_cycle(graph) is None
    upward = [
        f"{module} -> {target}"
        for module, targets in graph.items()
        for target in targets
        if REPOSITORY_LAYER_OF[top_of(target)] > REPOSITORY_LAYER_OF[top_of(module)]
    ]
    assert upward == []


def test_the_checks_see_a_circle_and_a_type_only_import(tmp_path: Path) -> None:
    """The checks above can fail: a made-up circle is found, and so is an import that only
    type checkers see (how the simulator's server <-> transport circle hid)."""
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    tree = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from simulator import server\n"
    path = tmp_path / "probe.py"
    path.write_text(tree, encoding="utf-8")
    assert imported_modules(path, ("simulator",)) == set()
    assert imported_modules(path, ("simulator",), type_only_too=True) == {"simulator.server"}


@pytest.mark.parametrize("broker", [None, "redis://127.0.0.1:6379/9"], ids=["alone", "broker"])
def test_a_process_without_a_secret_key_refuses_to_start(tmp_path: Path, broker: str | None
                                                         ) -> None:
    """Outside the demo and the tests nothing generates a key: a host that made its own could
    not read the tokens the others encrypted. No key file is written either."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("SECRET_KEY", "SECRET_KEY_FILE", "TOKEN_ENCRYPTION_KEY",
                       "CELERY_BROKER_URL")
    }
    env.update(GRADESYNC_INSTANCE_DIR=str(tmp_path / "instance"),
               DATABASE_URL=f"sqlite:///{tmp_path / 'x.sqlite3'}")
    if broker:
        env["CELERY_BROKER_URL"] = broker
    code = "from app import create_app; create_app()"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=60, check=False,
    )
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert "SECRET_KEY is not set: set SECRET_KEY (or SECRET_KEY_FILE" in last
    assert not (tmp_path / "instance").exists()  # create_app wrote nothing

    env["SECRET_KEY"] = "an-explicit-key-shared-by-every-host-0123456789"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "instance").exists()


@pytest.mark.parametrize("module", ["app.cli.canvas", "app.cli.users", "app.cli"])
def test_cli_groups_import_no_heavy_module(module: str) -> None:
    """``flask canvas --help`` must not pay for the sync engine, the client or Celery."""
    code = (
        f"import sys, {module}; "
        "heavy = [m for m in ('app.sync.engine', 'app.jobs', 'app.canvas.client', 'celery') "
        "if m in sys.modules]; print(','.join(heavy))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
        check=True,
    )
    assert result.stdout.strip() == ""


def test_create_app_does_not_load_alembic() -> None:
    """Every ``flask`` command pays for create_app: Alembic loads only for ``flask db``."""
    code = (
        "import sys; from app import create_app; create_app(); "
        "print(','.join(m for m in ('alembic', 'flask_migrate') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
        check=True,
    )
    assert result.stdout.strip() == ""
