"""The architecture's rule is written once, as the import-linter contracts of pyproject.toml
([tool.importlinter]): these tests run the contracts, check that they cover every layer and
every module above the layers, and hold the README's layer table to them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from helpers import PACKAGE_FOLDERS, REPO

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
CONTRACTS = PYPROJECT["tool"]["importlinter"]["contracts"]
LAYERS = sorted(name.split(".")[1] for name in PACKAGE_FOLDERS if name != "newsdedup")


def layer_contracts() -> dict[str, dict]:
    """Layer -> its forbidden contract (one whose source is that layer alone)."""
    return {
        contract["source_modules"][0].split(".")[1]: contract
        for contract in CONTRACTS
        if contract["type"] == "forbidden" and len(contract["source_modules"]) == 1
    }


def may_import(layer: str) -> tuple[set[str], set[str]]:
    """The layers ``layer`` may import, and the outside packages it must not."""
    forbidden = set(layer_contracts().get(layer, {}).get("forbidden_modules", ()))
    ours = {name.split(".")[1] for name in forbidden if name.startswith("newsdedup.")}
    return set(LAYERS) - ours - {layer}, {name for name in forbidden if not name.startswith("newsdedup.")}


def modules_above_the_layers() -> set[str]:
    """The modules and subpackages of newsdedup/ itself (the command, the API, the demo)."""
    folder = REPO / "newsdedup"
    found = {f"newsdedup.{path.stem}" for path in folder.glob("*.py") if path.stem != "__init__"}
    found |= {f"newsdedup.{path.parent.name}" for path in folder.glob("*/__init__.py")}
    return found


def readme_layer_table() -> dict[str, str]:
    """Folder name -> its "may import" cell, from the README's architecture table."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Architecture\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, str] = {}
    for line in section.splitlines():
        match = re.match(r"\| `(\w+)/` \|.*\| ([^|]+) \|$", line)
        if match:
            assert match[1] not in rows, f"the README's layer table lists {match[1]}/ twice"
            rows[match[1]] = match[2].strip()
    return rows


def cell_says(cell: str) -> tuple[set[str], str]:
    """A "may import" cell as the layers it names (before any ";") and the rest."""
    allowed, _, rest = cell.partition(";")
    if allowed.strip() == "every layer":
        return set(LAYERS), rest
    return set(re.findall(r"`(\w+)`", allowed)), rest


def test_every_layer_has_a_contract() -> None:
    assert sorted(layer_contracts()) == [layer for layer in LAYERS if layer != "workers"]


def test_no_layer_may_import_the_modules_above_the_layers() -> None:
    (top,) = [contract for contract in CONTRACTS if contract["id"] == "top"]
    assert {name.split(".")[1] for name in top["source_modules"]} == set(LAYERS)
    missing = modules_above_the_layers() - set(top["forbidden_modules"])
    assert not missing, f"add {sorted(missing)} to the 'top' contract's forbidden_modules in pyproject.toml"


def test_the_readme_layer_table_says_what_the_contracts_say() -> None:
    rows = readme_layer_table()
    assert sorted(rows) == sorted([*LAYERS, "newsdedup"])
    for layer in LAYERS:
        allowed, outside = may_import(layer)
        named, rest = cell_says(rows[layer])
        assert named - {layer} == allowed, f"README, {layer}/: may import {sorted(allowed)}"
        for package in outside:
            assert f"`{package}`" in rest, f"README, {layer}/: say it must not import {package}"
    named, rest = cell_says(rows["newsdedup"])
    assert named == set(LAYERS) and "no layer imports it" in rest
    # A layer that may import nothing of ours says so in one word.
    assert all(rows[layer].startswith("none") for layer in LAYERS if not may_import(layer)[0])


def test_the_table_check_notices_a_row_that_disagrees() -> None:
    assert cell_says("`config`, `fetched`, `archive`")[0] == {"config", "fetched", "archive"}
    assert cell_says("`fetched`")[0] != may_import("crawler")[0]


@pytest.mark.timeout(120)
def test_the_import_contracts_are_kept(tmp_path: Path) -> None:
    """What `.ci/importlint` runs in CI: import-linter over the package as it is installed."""
    tree = tmp_path / "tree"
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    result = subprocess.run(
        ["bash", str(REPO / ".ci" / "importlint")],
        env={**os.environ, "PATH": path, "PACKAGE_TREE": str(tree)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in result.stdout
