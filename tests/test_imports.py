"""Each entry module imports first in a fresh interpreter, and each process loads only what it
uses (the deferred imports, CONTRIBUTING.md). Which layer may import which, and the absence of
import circles, are import-linter contracts (pyproject.toml; tests/test_architecture.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


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
        # An embedded crawl's crawling process opens the pipeline and hands pages to its
        # extraction pool: it loads the extractor only for a page it extracts itself.
        ("newsdedup.pipeline.services", ["trafilatura", "justext", "htmldate"]),
        ("newsdedup.pipeline.embedded", ["trafilatura", "justext", "htmldate"]),
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
