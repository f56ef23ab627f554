"""Starting the extraction forkserver early: only for settings that extract in a pool, and the
pool then forks from that same server."""

from __future__ import annotations

import subprocess
import sys

import pytest

SCRIPT = """
import os
from multiprocessing import forkserver

from newsdedup.config import Settings
from newsdedup.pipeline.forkserver import start_forkserver_early

settings = Settings(database_url="sqlite:///unused.db", {arguments})
start_forkserver_early(settings)
early = forkserver._forkserver._forkserver_pid
print("early", early)
if early is not None:
    from newsdedup.dedup import DedupParams
    from newsdedup.pipeline.extraction_pool import ExtractionPool

    pool = ExtractionPool(2, 20, DedupParams())
    pool.start()
    # A process of the pool is a child of the forkserver started early.
    print("parent", pool._started().schedule(os.getppid).result(timeout=60))
    pool.close()
"""


def run(arguments: str, tmp_path) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT.replace("{arguments}", arguments)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


@pytest.mark.parametrize(
    "arguments",
    ["extract_processes=1", 'extract_processes=2, redis_url="redis://127.0.0.1:6379/15"'],
    ids=["no pool", "distributed"],
)
def test_no_forkserver_is_started_where_no_pool_extracts(arguments, tmp_path) -> None:
    assert run(arguments, tmp_path)[:2] == ["early", "None"]


def test_the_pool_forks_from_the_forkserver_started_early(tmp_path) -> None:
    words = run("extract_processes=2", tmp_path)
    early = words[1]
    assert early != "None"
    assert words[words.index("parent") + 1] == early
