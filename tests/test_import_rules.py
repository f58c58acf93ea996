"""The import rules of the architecture, checked by reading every module's imports."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench"
HEAVY = {"tensorflow", "tf_keras", "tensorflow_model_optimization", "pymobiledevice3", "coremltools", "ray"}


def _imports(path: Path, top_level_only: bool) -> set[str]:
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _modules(package: str) -> list[Path]:
    return sorted((BENCH / package).rglob("*.py")) if (BENCH / package).is_dir() else []


def test_results_import_nothing_else_from_bench() -> None:
    for path in _modules("results"):
        bad = {m for m in _imports(path, False) if m.startswith("bench.") and not m.startswith("bench.results")}
        assert not bad - {"bench.errors"}, (path, bad)


def test_device_backends_import_only_records_and_engines() -> None:
    # bench.fileio is a leaf (hashing, atomic writes) that imports nothing of bench's
    allowed = ("bench.results", "bench.engines", "bench.devices", "bench.errors", "bench.fileio")
    for path in _modules("devices"):
        bad = {m for m in _imports(path, False) if m.startswith("bench.") and not m.startswith(allowed)}
        assert not bad, (path, bad)


def test_reports_never_touch_a_device() -> None:
    for path in _modules("reports"):
        bad = {m for m in _imports(path, False) if m.startswith(("bench.devices", "bench.engines"))}
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
