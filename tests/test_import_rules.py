"""The import rules of the architecture, checked by reading every module's imports.

Imports inside functions count too: a lazy import still ties two modules together.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from functools import cache
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench"
HEAVY = {"tensorflow", "tf_keras", "tensorflow_model_optimization", "pymobiledevice3", "coremltools", "ray"}

# Each wing may import its own modules and those of lower layers, never a higher one: `cli` is the top
# (it may call any wing, nothing imports it), `lab` drives `run`, `run` wires the rest together.
LAYERS = {
    "__init__": 0, "errors": 0, "fileio": 0, "paths": 0, "progress": 0, "tomltypes": 0,
    "results": 1,
    "engines": 2, "datasets": 2, "config": 2,
    "devices": 3, "models": 3, "plan": 3, "reports": 3,
    "run": 4,
    "lab": 5,
    "cli": 6, "__main__": 6,
}


def _imports(path: Path, top_level_only: bool) -> set[str]:
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)  # `from pkg import module`
    return found


@cache
def _all_modules() -> dict[str, Path]:
    modules = {}
    for path in BENCH.rglob("*.py"):
        parts = path.relative_to(BENCH.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _bench_imports(path: Path) -> set[str]:
    """The bench modules `path` imports (a name imported from a module counts as that module)."""
    modules = _all_modules()
    found = set()
    for name in _imports(path, False):
        while name and name not in modules:
            name = name.rpartition(".")[0]
        if name.startswith("bench."):
            found.add(name)
    return found


def _wing(module: str) -> str:
    return module.split(".")[1]


def _modules(package: str) -> list[Path]:
    return sorted((BENCH / package).rglob("*.py")) if (BENCH / package).is_dir() else []


def test_every_wing_has_a_layer() -> None:
    assert {_wing(m) for m in _all_modules() if m != "bench"} <= set(LAYERS)


def test_no_import_points_up() -> None:
    upward = []
    for module, path in _all_modules().items():
        if module == "bench":
            continue
        for target in _bench_imports(path):
            if target != "bench" and LAYERS[_wing(target)] > LAYERS[_wing(module)]:
                upward.append(f"{module} -> {target}")
    assert not upward, upward


def test_no_import_cycles() -> None:
    graph = {m: {t for t in _bench_imports(p) if t != m and t != "bench"} for m, p in _all_modules().items()}
    cycles = [c for c in _strongly_connected(graph) if len(c) > 1]
    assert not cycles, cycles


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                found.append(component)
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert [sorted(c) for c in _strongly_connected(graph) if len(c) > 1] == [["a", "b", "c"]]


def test_results_import_nothing_else_from_bench() -> None:
    for path in _modules("results"):
        bad = {m for m in _bench_imports(path) if not m.startswith("bench.results")}
        assert not bad - {"bench.errors", "bench.fileio"}, (path, bad)


def test_engines_never_import_devices() -> None:
    for path in _modules("engines"):
        bad = {m for m in _bench_imports(path) if m.startswith("bench.devices")}
        assert not bad, (path, bad)


def test_device_backends_import_only_records_and_engines() -> None:
    # bench.fileio, bench.paths and bench.tomltypes are leaves (hashing, atomic writes, where caches live, the
    # types of TOML values: the inventory is a TOML file)
    allowed = ("bench.results", "bench.engines", "bench.devices", "bench.errors", "bench.fileio", "bench.paths",
               "bench.tomltypes")
    for path in _modules("devices"):
        bad = {m for m in _bench_imports(path) if not m.startswith(allowed)}
        assert not bad, (path, bad)


def test_reports_never_touch_a_device() -> None:
    for path in _modules("reports"):
        bad = {m for m in _bench_imports(path) if m.startswith(("bench.devices", "bench.engines"))}
        assert not bad, (path, bad)


def test_heavy_libraries_are_imported_lazily() -> None:
    for path in BENCH.rglob("*.py"):
        eager = {m.split(".")[0] for m in _imports(path, True)} & HEAVY
        assert not eager, (path, eager)


def test_importing_every_module_imports_no_tensorflow() -> None:
    modules = [".".join(p.relative_to(BENCH.parent).with_suffix("").parts) for p in BENCH.rglob("*.py")
               if p.name != "__main__.py"]
    code = "import importlib, sys\nfor m in %r:\n    importlib.import_module(m)\nprint(sorted(%r & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code % (modules, HEAVY)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
