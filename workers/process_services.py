"""The services of one worker process, for the live store and for each reprocess target:
store, staging, Redis index and lock, opened on first use.

Opened per process id: a prefork parent must not open connections its children inherit, so a
child that finds services of another pid opens its own. The tasks receive this object (and the
settings) when they are registered (workers/tasks.py); they never reach them through the
Celery app.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from newsdedup.config import Settings
from newsdedup.workers.reprocess_targets import target_settings, target_url

if TYPE_CHECKING:
    from newsdedup.workers.pages import WorkerServices


class ProcessServices:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._pid: int | None = None
        # None: the live store; else a reprocess target's name (workers/reprocess_targets.py).
        self._opened: dict[str | None, WorkerServices] = {}

    def _of_this_process(self) -> dict[str | None, WorkerServices]:
        if self._pid != os.getpid():
            self._opened, self._pid = {}, os.getpid()
        return self._opened

    @property
    def live(self) -> WorkerServices:
        """The services of the live store."""
        opened = self._of_this_process()
        if None not in opened:
            # deferred: the processes that only send tasks (a crawl, the API) never load the
            # page-processing code (extraction, trafilatura), ≈ 490 ms of imports (bench/import_costs.py)
            from newsdedup.workers.pages import WorkerServices

            opened[None] = WorkerServices.open(self.settings)
        return opened[None]

    def target(self, name: str) -> WorkerServices:
        """The services of a reprocess target, whose store URL the worker finds in its own settings."""
        opened = self._of_this_process()
        if name not in opened:
            from newsdedup.workers.pages import WorkerServices  # deferred: see ``live``

            url = target_url(self.settings, name)
            opened[name] = WorkerServices.open(target_settings(self.settings, url))
        return opened[name]

    def use(self, services: WorkerServices) -> None:
        """Take services opened elsewhere as this process's live ones (tests open their own)."""
        self._of_this_process()[None] = services

    def flush_health(self) -> None:
        """Write the per-source counts the live services added up since their last write."""
        live = self._opened.get(None) if self._pid == os.getpid() else None
        if live is not None:
            live.health.flush()
