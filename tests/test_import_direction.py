"""Arrows only downward: the packages below the pipeline do not import the ones above them.

The crawler owns the port it calls (``crawler.sink.PageSink``) and never imports workers/;
the store, the archive and the dedup code take plain data (``fetched``, ``dedup.types``,
``extract.document``) and never import the crawler or workers/. Read from the source (every
import statement, also those inside functions or under TYPE_CHECKING), so that an arrow
pointing up fails here before anyone draws the graph.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from helpers import PACKAGE_FOLDERS

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = {folder for folder in PACKAGE_FOLDERS.values() if folder != "newsdedup"}

# package -> the first-party packages it must not import
FORBIDDEN = {
    "fetched": {"crawler", "workers", "store", "archive", "dedup", "extract", "newsdedup", "config"},
    "dedup": {"crawler", "workers", "store", "archive", "newsdedup"},
    "store": {"crawler", "workers", "archive", "newsdedup"},
    "archive": {"crawler", "workers", "store", "newsdedup"},
    "crawler": {"workers", "store", "newsdedup"},
    # Delivery reads the store and the sinks' config; the commands and the API call it.
    "delivery": {"workers", "pipeline", "newsdedup"},
}


def imported_packages(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(layer_of(alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "newsdedup":  # from newsdedup import store
                found.update(layer_of(f"newsdedup.{alias.name}") for alias in node.names)
            else:
                found.add(layer_of(node.module))
    return found


def layer_of(module: str) -> str:
    """The layer a module is in: ``newsdedup.store.models`` -> store, ``newsdedup.cli`` -> newsdedup."""
    parts = module.split(".")
    if parts[0] != "newsdedup":
        return parts[0]
    return parts[1] if len(parts) > 1 and parts[1] in FOLDERS else "newsdedup"


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_nothing_above_it(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"no modules found in {package}/"
    upward = {
        f"{path.relative_to(ROOT)} imports {name}"
        for path in files
        for name in imported_packages(path) & FORBIDDEN[package]
    }
    assert not upward, "\n".join(sorted(upward))
