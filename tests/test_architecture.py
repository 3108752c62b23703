"""The domain packages keep the boundaries docs/ARCHITECTURE.md draws, read from their source.

The import graph of `cap/`, `geo/` and `contact_points/` is built from the AST: imports at module
level and inside functions alike (a function-local import is still a dependency; it only moves
the failure to run time). Within each package there is no cycle; `cap` imports nothing of ours,
`geo` only `cap`'s value types, `contact_points` only `cap` and `geo`; none of them reaches the
service or a web, database or HTTP library. Inside `service/`, the house of "Inside service/":
a route module never imports another resource's routes, a store knows nothing of HTTP, and
the platform on top stays a few modules.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOMAIN = ("cap", "geo", "contact_points")
OURS = (*DOMAIN, "service")
# "Pure: bytes and values in, values out; no FastAPI, no database, no network."
FORBIDDEN = ("service", "fastapi", "starlette", "uvicorn", "sqlalchemy", "alembic", "httpx", "websockets")
# What each package may import of ours: whole packages, or (geo) only cap's value types.
MAY_IMPORT: dict[str, tuple[str, ...]] = {
    "cap": ("cap",),
    "geo": ("geo", "cap.model", "cap.errors"),
    "contact_points": ("contact_points", "cap", "geo"),
}

Graph = dict[str, set[str]]


def modules_of(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    """Module name -> source file, for every .py under the given packages."""
    found: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _imported(node: ast.Import | ast.ImportFrom, module: str, is_package: bool, known: set[str]) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        # Relative: `from . import x` in a.b (module) means a; in a.b (package __init__) a.b.
        base = module.split(".")
        drop = node.level - 1 if is_package else node.level
        base = base[: len(base) - drop] if drop else base
        target = ".".join([*base, node.module] if node.module else base)
    else:
        target = node.module or ""
    # `from cap import parsing` imports the module cap.parsing; `from cap import parse` only cap.
    return [f"{target}.{a.name}" if f"{target}.{a.name}" in known else target for a in node.names]


def import_graph(root: Path, packages: Iterable[str] = DOMAIN) -> Graph:
    """Every module of `packages` -> what it imports (module names, ours and third-party)."""
    sources = modules_of(root, packages)
    known = set(sources) | set(modules_of(root, [p for p in OURS if (root / p).is_dir()]))
    graph: Graph = {}
    for module, path in sources.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        edges: set[str] = set()
        for node in ast.walk(tree):  # every level: module, class, function, TYPE_CHECKING
            if isinstance(node, ast.Import | ast.ImportFrom):
                edges.update(_imported(node, module, is_package, known))
        graph[module] = edges
    return graph


def _top(name: str) -> str:
    return name.split(".", 1)[0]


def cycles(graph: Graph) -> list[list[str]]:
    """One cycle (as a path back to its start) per strongly connected group of modules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1 or v in graph[v]:
                groups.append(group)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [_path_through(graph, set(group)) for group in groups]


def _path_through(graph: Graph, group: set[str]) -> list[str]:
    """The shortest cycle from the group's first module back to it: start, ..., start."""
    start = min(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for v in frontier:
            for w in sorted(graph[v] & group):
                if w == start:
                    return [*paths[v], start]
                if w not in paths:
                    paths[w] = [*paths[v], w]
                    following.append(w)
        frontier = following
    raise AssertionError(f"{sorted(group)} is not strongly connected")


@pytest.fixture(scope="module")
def graph() -> Graph:
    return import_graph(ROOT)


@pytest.mark.parametrize("package", DOMAIN)
def test_no_import_cycle_within_the_package(graph: Graph, package: str) -> None:
    inside = {m: {t for t in ts if _top(t) == package} for m, ts in graph.items() if _top(m) == package}
    assert cycles(inside) == []


@pytest.mark.parametrize("package", DOMAIN)
def test_the_package_imports_only_what_the_architecture_allows(graph: Graph, package: str) -> None:
    allowed = MAY_IMPORT[package]
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in graph.items()
        if _top(module) == package
        for target in targets
        if _top(target) in OURS and not any(target == a or target.startswith(a + ".") for a in allowed)
    )
    assert wrong == []


@pytest.mark.parametrize("package", DOMAIN)
def test_the_package_reaches_no_service_web_database_or_http_library(graph: Graph, package: str) -> None:
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in graph.items()
        if _top(module) == package
        for target in targets
        if _top(target) in FORBIDDEN
    )
    assert wrong == []


# --- service/: the platform on top, one folder per resource ---------------------------------------

# Modules that speak HTTP: a store that imports one of these answers HTTP instead of raising.
HTTP_LIBRARIES = ("fastapi", "starlette")
MAX_PLATFORM_MODULES = 16


@pytest.fixture(scope="module")
def service_graph() -> Graph:
    return import_graph(ROOT, ["service"])


def _resource(module: str) -> str | None:
    """`alerts` for service.alerts.routes; None for a platform module (service.auth)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 else None


def test_no_route_module_imports_another_resources_routes(service_graph: Graph) -> None:
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in service_graph.items()
        for target in targets
        if target.startswith("service.")
        and target.endswith(".routes")
        and _resource(target) != _resource(module)
        and module != "service.app"  # the app's table of contents mounts every router
    )
    assert wrong == []


def test_stores_know_nothing_of_http(service_graph: Graph) -> None:
    stores = [m for m in service_graph if m.endswith(".store") or m.endswith(".lifecycle")]
    assert stores, "no store modules found: has service/ moved?"
    wrong = sorted(
        f"{module} imports {target}"
        for module in stores
        for target in service_graph[module]
        if _top(target) in HTTP_LIBRARIES
        or (target.startswith("service.") and target.rsplit(".", 1)[-1] in ("routes", "http", "runtime"))
    )
    assert wrong == []


def test_the_platform_on_top_of_service_stays_small() -> None:
    platform = sorted(p.name for p in (ROOT / "service").glob("*.py"))
    assert len(platform) <= MAX_PLATFORM_MODULES, platform


# --- the guard itself finds what it is for ------------------------------------------------------


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_a_cycle_through_a_function_local_import_is_found(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "cap/__init__.py": "",
            "cap/parsing.py": "def validate():\n    from cap.feeds import read\n",
            "cap/feeds/__init__.py": "from cap.feeds.dates import read\n",
            "cap/feeds/dates.py": "from cap.parsing import validate\nread = validate\n",
        },
    )
    graph = import_graph(tmp_path, ["cap"])
    assert cycles(graph) == [["cap.feeds", "cap.feeds.dates", "cap.parsing", "cap.feeds"]]


def test_imports_up_and_out_are_named(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "cap/__init__.py": "",
            "cap/model.py": "",
            "cap/parsing.py": "from . import model\n",
            "geo/__init__.py": "",
            "geo/areas.py": "import cap.parsing\nfrom cap.model import Alert\n"
            "def f():\n    from service.db import models\n    import sqlalchemy\n",
        },
    )
    graph = import_graph(tmp_path, ["cap", "geo"])
    assert graph["cap.parsing"] == {"cap.model"}
    assert graph["geo.areas"] == {"cap.parsing", "cap.model", "service.db", "sqlalchemy"}
