"""The wheel as users install it: one top-level name, ``newsdedup``, and the package data the
commands need at run time (migrations, Redis scripts, the demo's sites, the sample sources).

The wheel is built here the way a release is (``python -m build``, in an isolated environment
with the build backend pinned in pyproject.toml). .ci/package-check installs such a wheel into a
fresh virtual environment and runs it from a user's folder."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from helpers import PACKAGE_FOLDERS

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(REPO)],
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (built,) = out.glob("newsdedup-*.whl")
    with zipfile.ZipFile(built) as archive:
        yield archive


def test_the_wheel_has_one_top_level_name(wheel: zipfile.ZipFile) -> None:
    tops = {name.split("/", 1)[0] for name in wheel.namelist()}
    assert {top for top in tops if not top.endswith(".dist-info")} == {"newsdedup"}, sorted(tops)
    (top_level,) = [n for n in wheel.namelist() if n.endswith(".dist-info/top_level.txt")] or [None]
    if top_level:
        assert wheel.read(top_level).decode().split() == ["newsdedup"]


def test_every_layer_is_a_subpackage_of_newsdedup(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    for package, folder in PACKAGE_FOLDERS.items():
        assert f"{package.replace('.', '/')}/__init__.py" in names, package
        # Every module of the folder is in the wheel, under the import name.
        for path in (REPO / folder).glob("*.py"):
            assert f"{package.replace('.', '/')}/{path.name}" in names, f"{folder}/{path.name}"


def test_the_wheel_carries_the_package_data(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    migrations = sorted(p.name for p in (REPO / "store" / "migrations" / "versions").glob("*.py"))
    assert migrations
    for migration in migrations:
        assert f"newsdedup/store/migrations/versions/{migration}" in names, migration
    assert "newsdedup/store/migrations/env.py" in names
    for folder in ("dedup", "workers"):
        for script in (REPO / folder / "lua").glob("*.lua"):
            assert f"newsdedup/{folder}/lua/{script.name}" in names, script
    assert "newsdedup/config/sources.yaml" in names
    demo = [p.relative_to(REPO) for p in (REPO / "newsdedup" / "demo_sites").rglob("*") if p.is_file()]
    assert demo and all(str(path) in names for path in demo), demo
    # The console's templates and static files (a server without them answers 500 on /ui/).
    console = [
        p.relative_to(REPO)
        for folder in ("templates", "static")
        for p in (REPO / "newsdedup" / "api" / "console" / folder).iterdir()
        if p.is_file()
    ]
    assert console and all(str(path) in names for path in console), console
