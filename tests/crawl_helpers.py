"""Run one crawl in a child process (tests/test_crawler.py's recording sink) with settings of a test's own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import test_crawler


def crawl_with(sources: list[dict[str, Any]], work: Path, crawl_id: str, **settings: Any) -> dict[str, Any]:
    """``test_crawler.crawl`` with ``settings`` over its TEST_SETTINGS; what the sink recorded."""
    job = {
        "sources": sources,
        "settings": {**test_crawler.TEST_SETTINGS, **settings},
        "crawl_id": crawl_id,
        "state": str(work / f"{crawl_id}-state.json"),
        "out": str(work / f"{crawl_id}.json"),
    }
    job_path = work / f"{crawl_id}-job.json"
    job_path.write_text(json.dumps(job))
    done = subprocess.run(
        [sys.executable, test_crawler.__file__, str(job_path)],
        cwd=Path(__file__).parents[1],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(Path(job["out"]).read_text())
