"""The Redis scripts of the index and the story locks ship as package data (``dedup/lua``,
``workers/lua``): each is found through importlib.resources, is declared in pyproject.toml's
package data (so a wheel carries it), and compiles on the real server."""

from __future__ import annotations

import tomllib
from fnmatch import fnmatch
from importlib import resources
from pathlib import Path

import pytest
import redis

from newsdedup.dedup import index as dedup_index
from newsdedup.workers import locks

ROOT = Path(__file__).resolve().parent.parent
INDEX_SCRIPTS = sorted(dedup_index._SCRIPT_PARTS)
LOCK_SCRIPTS = ["story_locks_acquire", "story_locks_release", "story_lock_holders"]


def shipped_lua(package: str) -> list[str]:
    return sorted(p.name for p in (resources.files(package) / "lua").iterdir() if p.name.endswith(".lua"))


@pytest.mark.parametrize("package", ["newsdedup.dedup", "newsdedup.workers"])
def test_every_lua_file_is_declared_as_package_data(package: str) -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    files = shipped_lua(package)
    assert files, f"no Lua files found in {package}/lua"
    for name in files:
        assert any(fnmatch(f"lua/{name}", pattern) for pattern in declared.get(package, [])), (
            f"{package}/lua/{name} is not in [tool.setuptools.package-data] {package}"
        )


def test_every_index_script_part_is_a_shipped_file() -> None:
    parts = {part for names in dedup_index._SCRIPT_PARTS.values() for part in names}
    assert {f"{part}.lua" for part in parts} == set(shipped_lua("newsdedup.dedup"))


@pytest.mark.redis
@pytest.mark.parametrize(
    "source",
    [pytest.param(dedup_index.lua_script(n), id=f"dedup:{n}") for n in INDEX_SCRIPTS]
    + [pytest.param(locks.lua_script(n), id=f"workers:{n}") for n in LOCK_SCRIPTS],
)
def test_each_script_loads_and_compiles_on_redis(source: str, redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        sha = client.script_load(source)  # SCRIPT LOAD compiles the script: a syntax error raises
        assert client.script_exists(sha) == [True]
    finally:
        client.close()


def test_scripts_are_read_once() -> None:
    assert dedup_index.lua_script("add") is dedup_index.lua_script("add")
    assert locks.lua_script("story_locks_acquire") is locks.lua_script("story_locks_acquire")
