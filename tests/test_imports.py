"""The project's modules import each other in one direction: no circle, and the pipeline below
the Celery code, which is below the commands and the API.

The graph is read from the source (``ast``), from the imports a module runs when it is
imported: those at its top level, including under ``try`` or ``if``, but not under
``if TYPE_CHECKING:`` (types only) and not inside functions (deferred, see CONTRIBUTING.md).
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import PACKAGE_FOLDERS

ROOT = Path(__file__).resolve().parent.parent


def module_name(package: str, folder: str, path: Path) -> str:
    """The import name of a module file: its folder is mapped to ``package`` (pyproject.toml)."""
    parts = [*package.split("."), *path.relative_to(ROOT / folder).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    modules = {}
    for package, folder in PACKAGE_FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "migrations" not in path.parts and (
                package != "newsdedup" or path.parent.name != "demo_sites"
            ):
                modules[module_name(package, folder, path)] = path
    return modules


def is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def import_time_statements(body: list[ast.stmt]) -> list[ast.Import | ast.ImportFrom]:
    """The import statements that run when the module is imported."""
    found: list[ast.Import | ast.ImportFrom] = []
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        elif isinstance(node, ast.If):
            if not is_type_checking(node.test):
                found += import_time_statements(node.body)
            found += import_time_statements(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                found += import_time_statements(block)
    return found


def all_import_statements(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement, deferred ones included (but not types-only ones)."""
    type_only = {
        id(child)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and is_type_checking(node.test)
        for stmt in node.body
        for child in ast.walk(stmt)
    }
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom) and id(node) not in type_only
    ]


def imported(node: ast.Import | ast.ImportFrom, importer: str, modules: dict[str, Path]) -> set[str]:
    """The project modules an import statement names."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            package = importer.split(".")
            if modules[importer].name != "__init__.py":
                package = package[:-1]
            package = package[: len(package) - (node.level - 1)]
            base = ".".join([*package, base] if base else package)
        # ``from package import module`` imports the module; ``from module import name`` the module.
        names = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
    return {name for name in names if name in modules}


def import_graph(deferred: bool = False) -> dict[str, set[str]]:
    modules = project_modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        statements = all_import_statements(tree) if deferred else import_time_statements(tree.body)
        targets = set().union(*(imported(s, name, modules) for s in statements)) - {name}
        if deferred:
            # A function that walks its own package (store.models lists the model modules)
            # runs long after the package was imported: no circle at import time.
            targets = {t for t in targets if not name.startswith(t + ".")}
        graph[name] = targets
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle, as the list of modules around it, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state and (cycle := visit(module)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_circle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_the_graph_sees_the_imports_that_run() -> None:
    graph = import_graph()
    assert "newsdedup.workers.tasks" in graph["newsdedup.workers.app"]
    assert "newsdedup.workers.app" not in graph["newsdedup.workers.tasks"]  # a type only
    assert "newsdedup.workers.pages" in import_graph(deferred=True)["newsdedup.workers.tasks"]


def test_no_import_circle_among_the_project_modules() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " → ".join(cycle or [])


def test_no_import_circle_even_through_deferred_imports() -> None:
    cycle = find_cycle(import_graph(deferred=True))
    assert cycle is None, "import circle: " + " → ".join(cycle or [])


# Layers, lowest first: a module may import its own layer and the ones below, never above.
LAYERS = (
    ("config", "fetched", "extract", "dedup", "archive", "store", "crawler"),
    ("pipeline", "delivery"),
    ("workers",),
    ("newsdedup",),
)


def layer(module: str) -> int:
    below = module.split(".")[1] if module.count(".") else ""
    top = below if any(below in packages for packages in LAYERS[:-1]) else "newsdedup"
    return next(i for i, packages in enumerate(LAYERS) if top in packages)


def test_the_pipeline_is_below_the_celery_code_which_is_below_the_commands() -> None:
    upward = {
        (importer, target)
        for importer, targets in import_graph(deferred=True).items()
        for target in targets
        if layer(target) > layer(importer)
    }
    assert upward == set()


@pytest.mark.parametrize(
    "module",
    [
        "newsdedup.workers.app",
        "newsdedup.workers.tasks",
        "newsdedup.workers.crawl_side",
        "newsdedup.workers.api_side",
        "newsdedup.workers.sweeper",
        "newsdedup.workers.pages",
        "newsdedup.cli",
        "newsdedup.crawl",
        "newsdedup.reprocess",
        "newsdedup.api.app",
        "newsdedup.pipeline.embedded",
        "newsdedup.delivery.runner",
        "newsdedup.sinks_commands",
    ],
)
def test_each_entry_module_imports_first_in_a_fresh_interpreter(module: str) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(
        [sys.executable, "-c", f"import {module}"], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("module", "not_loaded"),
    [
        # The crawl process of distributed mode, the API and beat send tasks and extract nothing.
        ("newsdedup.workers.crawl_side", ["trafilatura", "newsdedup.pipeline.page_pipeline"]),
        ("newsdedup.workers.api_side", ["trafilatura", "newsdedup.pipeline.page_pipeline", "scrapy"]),
        ("newsdedup.workers.app", ["trafilatura", "newsdedup.pipeline.page_pipeline", "scrapy"]),
        # Each command loads its own libraries: `newsdedup --help` none of them.
        ("newsdedup.cli", ["celery", "scrapy", "trafilatura", "uvicorn"]),
    ],
)
def test_deferred_imports_keep_what_a_process_does_not_use_unloaded(
    module: str, not_loaded: list[str]
) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    code = f"import sys, {module}; print(' '.join(m for m in {not_loaded!r} if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == []
