"""The worker side of distributed mode: one staged page through ``PagePipeline.process``.

Plain functions; ``workers/tasks.py`` only calls them. Idempotent: the staging row's state
and lease make a second delivery of the same page a no-op, and the store's apply is itself
idempotent (a page stored already comes back "unchanged").
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import redis
from celery.exceptions import SoftTimeLimitExceeded

from config import Settings
from crawler.page import Page
from dedup import RedisIndex
from store import Store
from store.staging import Staging
from workers.app import page_time_limit
from workers.budget import TIMED_OUT, PageTimedOut
from workers.locks import dedup_lock_factory, redis_client
from workers.pipeline import PagePipeline
from workers.transient import TRANSIENT_ERRORS
from workers.services import dedup_params

log = logging.getLogger(__name__)

# How long past the hard time limit a lease lasts: no living worker holds a page longer.
LEASE_MARGIN_SECONDS = 5


def lease_seconds(settings: Settings) -> int:
    return settings.task_time_limit + LEASE_MARGIN_SECONDS


def max_attempts(settings: Settings) -> int:
    """Every retry is an attempt; one more for a page whose worker was lost mid-way. A page
    that kills its worker each time (or always hits the hard limit) ends failed here."""
    return settings.task_max_retries + 2


@dataclass
class WorkerServices:
    """What a worker process needs, opened once per process."""

    settings: Settings
    store: Store
    staging: Staging
    redis: redis.Redis
    pipeline: PagePipeline

    @classmethod
    def open(cls, settings: Settings) -> "WorkerServices":
        assert settings.redis_url, "distributed mode needs NEWSDEDUP_REDIS_URL"
        # No ping before each statement: a task whose connection died retries (TRANSIENT_ERRORS).
        store = Store.open(settings.database_url, ping_on_checkout=False)
        staging = Staging.open(settings.database_url, migrate=False, ping_on_checkout=False)  # Store.open migrated
        client = redis_client(settings.redis_url)
        params = dedup_params(settings)
        index = RedisIndex(client, params, settings.lsh_basename, window_days=settings.lsh_window_days)
        pipeline = PagePipeline(store, index, params, settings.min_text_words,
                                decision_lock=dedup_lock_factory(client, settings.dedup_lock_timeout),
                                page_time_limit=page_time_limit(settings), max_text_chars=settings.max_text_chars)
        return cls(settings, store, staging, client, pipeline)

    def close(self) -> None:
        self.store.close()
        self.staging.close()
        self.redis.close()


def process_staged_page(services: WorkerServices, page_id: int) -> str:
    """Process one staged page; returns the outcome kind, or why nothing was done
    ("busy", "missing", or the finished row's outcome). Raises TRANSIENT_ERRORS to be
    retried, after giving the lease back."""
    settings = services.settings
    staging = services.staging
    claim = staging.claim(page_id, lease_seconds(settings), max_attempts(settings))
    if claim.status == "finished":
        log.info("page %s already %s (%s): nothing to do", page_id, claim.state, claim.outcome)
        return claim.outcome or claim.state
    if claim.status in ("busy", "missing"):
        log.info("page %s is %s: nothing to do", page_id, claim.status)
        return claim.status
    assert claim.page is not None
    if claim.status == "exhausted":
        reason = f"gave up after {claim.attempts} attempts (worker lost or hard time limit each time)"
        mark_failed(services, page_id, claim.page, reason)
        return "failed"
    page = claim.page
    try:
        outcome = services.pipeline.process(page)
    except TRANSIENT_ERRORS as exc:
        log.warning("page %s (%s): transient %s: %s", page_id, page.url, type(exc).__name__, exc)
        try:
            staging.release(page_id, f"retrying after {type(exc).__name__}: {exc}")
        except Exception:  # noqa: BLE001 - the lease then simply runs out
            log.exception("could not release the lease of page %s", page_id)
        raise
    except PageTimedOut:
        mark_failed(services, page_id, page, TIMED_OUT)
        return "failed"
    except SoftTimeLimitExceeded:
        mark_failed(services, page_id, page, f"time limit: more than {settings.task_time_limit}s")
        return "failed"
    except Exception as exc:  # noqa: BLE001 - a bug on one page must not loop forever
        log.exception("page %s (%s) failed", page_id, page.url)
        mark_failed(services, page_id, page, f"{type(exc).__name__}: {exc}")
        return "failed"
    if not staging.finish(page_id, outcome.kind, outcome.article_id, outcome.reason):
        log.info("page %s was finished by another delivery meanwhile", page_id)
    return outcome.kind


def mark_failed(services: WorkerServices, page_id: int, page: Page | None, reason: str) -> None:
    """The page's end: failed, with the reason, in the staging table and the store's failures."""
    log.error("page %s failed for good: %s", page_id, reason)
    services.staging.fail(page_id, reason)
    if page is not None:
        try:
            services.store.record_failure(page.url, page.source, page.crawl_id, "process", reason)
        except Exception:  # noqa: BLE001 - the staging row already says it
            log.exception("could not record the failure of %s", page.url)


def give_up_page(services: WorkerServices, page_id: int, exc: BaseException) -> None:
    """Retries are spent: the last transient error becomes the page's failure reason."""
    page = services.staging.page(page_id)
    mark_failed(services, page_id, page, f"gave up after retries: {type(exc).__name__}: {exc}")
