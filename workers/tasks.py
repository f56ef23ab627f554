"""The Celery tasks: a few lines each over the plain functions of workers/.

Task names are stable (``newsdedup.*``) and their arguments readable in Flower: ids, URLs and
source names, never HTML. The tasks are given what they use when they are registered: the
settings, the app as the sender of further tasks, and the process's services; they never
import the app (workers/app.py), which imports them.
"""

from __future__ import annotations

import logging
import random
import time
from typing import TYPE_CHECKING, Any

from celery import Celery, Task

from newsdedup.config import Settings, logs
from newsdedup.pipeline.transient import TRANSIENT_ERRORS
from newsdedup.workers.crawl_process import run_source_crawl
from newsdedup.workers.schedule import tick

if TYPE_CHECKING:
    from newsdedup.workers.process_services import ProcessServices

log = logging.getLogger(__name__)


class NewsdedupTask(Task):
    """What every task needs: timing and context in the log, retries of transient failures
    with exponential backoff and full jitter, and a ``give_up`` hook once retries are spent."""

    # Set for each task by register_tasks (the task decorator's options become class attributes).
    settings: Settings
    services: ProcessServices
    # Celery's own autoretry rounds the backoff factor to whole seconds; ours takes floats.
    transient_errors = TRANSIENT_ERRORS

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # The crawl a task binds (config/logs.py) is in its log lines, and not in the next task's.
        with logs.task_scope():
            return self._timed_call(*args, **kwargs)

    def _timed_call(self, *args: Any, **kwargs: Any) -> Any:
        started = time.monotonic()
        retries = self.request.retries
        try:
            result = super().__call__(*args, **kwargs)
        except self.transient_errors as exc:
            settings = self.settings
            if retries >= settings.task_max_retries:
                log.error("%s%r: giving up after %d retries: %s", self.name, args, retries, exc)
                self.give_up(exc, args, kwargs)
                raise
            countdown = backoff(retries, settings.task_retry_backoff, settings.task_retry_backoff_max)
            log.warning(
                "%s%r: %s: %s; retry %d/%d in %.1fs",
                self.name,
                args,
                type(exc).__name__,
                exc,
                retries + 1,
                settings.task_max_retries,
                countdown,
            )
            raise self.retry(exc=exc, countdown=countdown, max_retries=settings.task_max_retries) from exc
        log.info("%s%r -> %s in %.3fs", self.name, args, result, time.monotonic() - started)
        return result

    def give_up(self, exc: BaseException, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Called once retries are spent; tasks with something to mark as failed override it."""


def backoff(retries: int, base: float, maximum: float) -> float:
    """Full jitter (AWS's "exponential backoff and jitter"): workers that failed together do
    not all come back at the same moment."""
    return random.uniform(0, min(maximum, base * (2**retries)))


class ProcessPageTask(NewsdedupTask):
    def give_up(self, exc: BaseException, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        # deferred (as the other page-code imports here): the processes that only send tasks
        # (a crawl, the API, beat) never load the extraction code, ≈ 490 ms of imports
        # (bench/import_costs.py)
        from newsdedup.workers.pages import give_up_page

        page_id = kwargs.get("page_id", args[0] if args else None)
        if page_id is None:
            log.error("%s: no page id to mark failed", self.name)
            return
        try:
            give_up_page(self.services.live, int(page_id), exc)
        except Exception:
            log.exception("could not mark page %s failed", page_id)


class ReprocessPageTask(NewsdedupTask):
    def give_up(self, exc: BaseException, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        from newsdedup.workers.pages import give_up_page  # deferred: see ProcessPageTask.give_up

        page_id, target = kwargs.get("page_id", args[0]), kwargs.get("target", args[2])
        try:
            give_up_page(self.services.target(target), int(page_id), exc)
        except Exception:
            log.exception("could not mark page %s of %s failed", page_id, target)


def register_tasks(app: Celery, settings: Settings, services: ProcessServices) -> None:
    """Attach the tasks to ``app`` (built by the factory: there is no module-level app). The
    tasks send further tasks through ``app``, and read ``settings`` and ``services``."""
    given: dict[str, Any] = {"settings": settings, "services": services}

    @app.task(shared=False, bind=True, base=ProcessPageTask, name="newsdedup.process_page", **given)
    def process_page(self: ProcessPageTask, page_id: int, url: str) -> str:
        """``url`` only makes the task readable in Flower and the logs; the row is the truth."""
        from newsdedup.workers.pages import process_staged_page  # deferred: see ProcessPageTask.give_up

        return process_staged_page(services.live, page_id)

    @app.task(shared=False, bind=True, base=ReprocessPageTask, name="newsdedup.reprocess_page", **given)
    def reprocess_page(self: ReprocessPageTask, page_id: int, url: str, target: str) -> str:
        """``process_page`` for a page staged in a reprocess target store (``newsdedup
        reprocess``); ``target`` names the store, whose URL the workers read from Redis."""
        from newsdedup.workers.pages import process_staged_page  # deferred: see ProcessPageTask.give_up

        return process_staged_page(services.target(target), page_id)

    @app.task(shared=False, bind=True, base=NewsdedupTask, name="newsdedup.release_held", **given)
    def release_held(self: NewsdedupTask, crawl_id: str, target: str | None = None) -> int:
        """Judge the crawl's held pages (a new source's short pages), once its other pages are done."""
        from newsdedup.workers.pages import release_held_pages  # deferred: see ProcessPageTask.give_up

        return release_held_pages(services.live if target is None else services.target(target), crawl_id)

    # A crawl is acknowledged when it starts (acks_late off): one lost with its worker is not
    # worth a second run that the visibility timeout would start an hour later; the next
    # scheduled tick starts a fresh one. The subprocess has its own time limit.
    @app.task(
        shared=False,
        bind=True,
        base=NewsdedupTask,
        name="newsdedup.crawl_source",
        acks_late=False,
        time_limit=settings.crawl_time_limit + 120,
        soft_time_limit=settings.crawl_time_limit + 90,
        **given,
    )
    def crawl_source(self: NewsdedupTask, source_name: str, crawl_id: str) -> str:
        logs.bind_crawl(crawl_id)
        return run_source_crawl(settings, source_name, crawl_id)

    @app.task(shared=False, bind=True, base=NewsdedupTask, name="newsdedup.schedule_due_crawls", **given)
    def schedule_due_crawls(self: NewsdedupTask) -> list[str]:
        return tick(settings, app)

    @app.task(shared=False, bind=True, base=NewsdedupTask, name="newsdedup.resend_stale_pages", **given)
    def resend_stale_pages(self: NewsdedupTask) -> int:
        from newsdedup.workers.sweeper import sweep  # deferred: the dedup and pipeline code, ≈ 260 ms

        return sweep(settings, app, services)
