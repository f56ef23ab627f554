"""Starting crawls from the API.

Embedded mode runs ``python -m newsdedup crawl SRC...`` as a child process: Scrapy's reactor
cannot restart inside a long-lived process, and a crash of a crawl must not take the API
down. One crawl at a time: each embedded crawl dedups against its own in-memory index, so
two at once could both call the same wire story "new".

Distributed mode hands the crawl to ``workers.api_side.start_crawl`` (Celery does the rest).
"""

from __future__ import annotations

import logging
import os
import subprocess
import threading
import uuid
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from newsdedup.config import Settings
from newsdedup.pipeline.crawl_child import start_crawl_process

log = logging.getLogger("newsdedup.api.crawls")

# Finished crawls remembered for GET /v1/crawls/{id}.
KEEP_FINISHED = 100
# Characters of a failed crawl's stderr kept as its error.
ERROR_TAIL = 2000


class CrawlAlreadyRunning(Exception):
    def __init__(self, crawl_id: str) -> None:
        super().__init__(f"crawl {crawl_id} is still running")
        self.crawl_id = crawl_id


@dataclass
class CrawlRun:
    crawl_id: str
    sources: list[str]
    started_at: datetime
    state: str = "running"  # running | finished | failed
    exit_code: int | None = None
    summary: str | None = None
    error: str | None = None
    process: subprocess.Popen[str] | None = field(default=None, repr=False)

    def as_dict(self) -> dict[str, object]:
        return {
            "crawl_id": self.crawl_id,
            "sources": self.sources,
            "state": self.state,
            "exit_code": self.exit_code,
            "summary": self.summary,
            "error": self.error,
        }


class EmbeddedCrawls:
    """Child crawl processes of this API process, one at a time."""

    def __init__(self, settings: Settings, inherited_env: Mapping[str, str] | None = None) -> None:
        self._settings = settings
        # Copied once here: this is handing the parent's environment down, not reading settings.
        self._env = settings.crawl_environment(os.environ if inherited_env is None else inherited_env)
        self._runs: OrderedDict[str, CrawlRun] = OrderedDict()
        self._lock = threading.Lock()

    def start(self, sources: Sequence[str]) -> CrawlRun:
        with self._lock:
            running = next((r for r in self._runs.values() if r.state == "running"), None)
            if running is not None:
                raise CrawlAlreadyRunning(running.crawl_id)
            run = CrawlRun(crawl_id=uuid.uuid4().hex, sources=list(sources), started_at=datetime.now(UTC))
            run.process = start_crawl_process(self._settings, sources, run.crawl_id, self._env, capture=True)
            self._runs[run.crawl_id] = run
            self._forget_old()
        threading.Thread(
            target=self._wait, args=(run,), name=f"crawl-{run.crawl_id[:8]}", daemon=True
        ).start()
        log.info("crawl %s started (pid %s): %s", run.crawl_id, run.process.pid, " ".join(sources))
        return run

    def get(self, crawl_id: str) -> CrawlRun | None:
        with self._lock:
            return self._runs.get(crawl_id)

    def recent(self) -> list[CrawlRun]:
        """The crawls this process started and still remembers, newest first."""
        with self._lock:
            return list(reversed(self._runs.values()))

    def close(self, timeout: float = 10.0) -> None:
        """Stop running crawls (SIGTERM: Scrapy stops gracefully; what was stored stays)."""
        with self._lock:
            running = [r for r in self._runs.values() if r.state == "running" and r.process]
        for run in running:
            assert run.process is not None
            run.process.terminate()
        for run in running:
            assert run.process is not None
            try:
                run.process.wait(timeout)
            except subprocess.TimeoutExpired:
                run.process.kill()
                run.process.wait()

    def _wait(self, run: CrawlRun) -> None:
        assert run.process is not None
        # communicate() drains both pipes, so a chatty crawl never blocks on a full pipe.
        stdout, stderr = run.process.communicate()
        lines = [line for line in stdout.splitlines() if line.strip()]
        with self._lock:
            run.exit_code = run.process.returncode
            run.summary = lines[-1] if lines else None
            run.state = "finished" if run.exit_code == 0 else "failed"
            if run.exit_code != 0:
                run.error = stderr[-ERROR_TAIL:].strip() or f"exit code {run.exit_code}"
            run.process = None
        log.info("crawl %s %s (exit %s): %s", run.crawl_id, run.state, run.exit_code, run.summary)

    def _forget_old(self) -> None:
        finished = [cid for cid, r in self._runs.items() if r.state != "running"]
        for crawl_id in finished[: max(0, len(finished) - KEEP_FINISHED)]:
            del self._runs[crawl_id]


def start_distributed_crawl(settings: Settings, sources: Sequence[str]) -> str:
    # deferred: Celery is loaded only in distributed mode (≈ 60 ms of imports, bench/import_costs.py)
    from newsdedup.workers.api_side import start_crawl

    return start_crawl(settings, list(sources))
