"""The worker side of distributed mode: one staged page through ``PagePipeline.process``.

Plain functions; ``workers/tasks.py`` only calls them. Idempotent: the staging row's state
and lease make a second delivery of the same page a no-op, and the store's apply is itself
idempotent (a page stored already comes back "unchanged").

Outages: a page whose store or Redis goes away mid-way is not given up. The worker keeps its
page (and its lease, renewed every few seconds by ``LeaseKeeper``) and tries again with a
short backoff until the server is back (``through_outages``), for up to ``outage_patience``;
only then does the task fall back to Celery's retries. The page is extracted once; what is
tried again is its decision and store work, which is idempotent. A worker that dies stops
renewing its leases: its pages are free again within ``LEASE_SECONDS``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import redis
from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy import Connection

from newsdedup.config import Settings, logs
from newsdedup.config.sources import page_rules_by_source
from newsdedup.fetched.page import Page
from newsdedup.pipeline.budget import TIMED_OUT, PageTimedOut
from newsdedup.pipeline.page_pipeline import PageOutcome, PagePipeline, PreparedPage
from newsdedup.pipeline.services import dedup_params, story_params
from newsdedup.pipeline.source_health import count_outcome
from newsdedup.pipeline.transient import TRANSIENT_ERRORS, through_outages
from newsdedup.store import Store
from newsdedup.store.source_health import HealthRecorder
from newsdedup.store.staging import Staging
from newsdedup.workers.index_repair import rebuild_exclusively, store_index
from newsdedup.workers.limits import page_time_limit, soft_time_limit
from newsdedup.workers.locks import StoryLocks, redis_client

log = logging.getLogger(__name__)

# A worker's hold on a page: renewed every LEASE_RENEW_SECONDS while it works on it, so a
# dead worker's page is free again within LEASE_SECONDS (and re-sent by whoever watches).
LEASE_SECONDS = 15
LEASE_RENEW_SECONDS = 4


def outage_patience(settings: Settings) -> float:
    """How long a task waits for PostgreSQL or Redis to come back before it gives its page to
    Celery's retries (``NEWSDEDUP_OUTAGE_PATIENCE``): well inside the soft time limit, which
    would fail the page."""
    return min(settings.outage_patience, 0.6 * soft_time_limit(settings))


def max_attempts(settings: Settings) -> int:
    """Every retry is an attempt; one more for a page whose worker was lost mid-way. A page
    that kills its worker each time (or always hits the hard limit) ends failed here."""
    return settings.task_max_retries + 2


class LeaseKeeper:
    """Renews the leases of the pages this process is working on, from a thread of its own."""

    def __init__(self, staging: Staging) -> None:
        self.staging = staging
        self._held: set[int] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @contextmanager
    def holding(self, page_id: int) -> Iterator[None]:
        with self._lock:
            self._held.add(page_id)
            if self._thread is None:
                self._thread = threading.Thread(target=self._renew, name="lease-keeper", daemon=True)
                self._thread.start()
        try:
            yield
        finally:
            with self._lock:
                self._held.discard(page_id)

    def _renew(self) -> None:
        while True:
            time.sleep(LEASE_RENEW_SECONDS)
            with self._lock:
                held = list(self._held)
            if not held:
                continue
            try:
                self.staging.renew(held, LEASE_SECONDS)
            except Exception as exc:  # noqa: BLE001 - PostgreSQL away: the next round tries again
                log.info("could not renew the lease of %d pages: %s", len(held), type(exc).__name__)


@dataclass
class WorkerServices:
    """What a worker process needs, opened once per process."""

    settings: Settings
    store: Store
    staging: Staging
    redis: redis.Redis
    pipeline: PagePipeline
    leases: LeaseKeeper = field(init=False)
    # Per-source outcome counts and stage timings, written every few seconds (source health).
    health: HealthRecorder = field(init=False)

    def __post_init__(self) -> None:
        self.leases = LeaseKeeper(self.staging)
        self.health = HealthRecorder(self.store.engine).start()
        self.pipeline.observe = self.health.observe
        # A held page's staging row and the source's counts learn what became of it on release.
        self.pipeline.on_release_commit = lambda connection, page, outcome: Staging.released_in(
            connection, page.crawl_id, page.url, outcome.kind, outcome.article_id, outcome.reason
        )
        self.pipeline.on_released = lambda page, outcome: count_outcome(
            self.health, page.source, page.crawl_id, outcome.kind, outcome.reason
        )

    @classmethod
    def open(cls, settings: Settings) -> WorkerServices:
        assert settings.redis_url, "distributed mode needs NEWSDEDUP_REDIS_URL"
        # No ping before each statement: a task whose connection died retries (TRANSIENT_ERRORS).
        store = Store.open(settings.database_url, ping_on_checkout=False)
        staging = Staging.open(
            settings.database_url, migrate=False, ping_on_checkout=False
        )  # Store.open migrated
        client = redis_client(settings.redis_url)
        params = dedup_params(settings)
        index = store_index(client, settings, store)
        timeout = settings.dedup_lock_timeout

        def rebuild_index() -> None:
            rebuild_exclusively(client, index, store, settings.lsh_window_days, timeout, wait=timeout)

        pipeline = PagePipeline(
            store,
            index,
            params,
            settings.min_text_words,
            decision_lock=StoryLocks(client, timeout, params),
            rebuild_index=rebuild_index,
            page_time_limit=page_time_limit(settings),
            max_text_chars=settings.max_text_chars,
            page_rules=page_rules_by_source(settings.config),
            story_params=story_params(settings),
            hold_below_words=settings.hold_below_words,
        )
        return cls(settings, store, staging, client, pipeline)

    def close(self) -> None:
        self.health.close()
        self.store.close()
        self.staging.close()
        self.redis.close()


def process_staged_page(services: WorkerServices, page_id: int, prepared: PreparedPage | None = None) -> str:
    """Process one staged page; returns the outcome kind, or why nothing was done
    ("busy", "missing", or the finished row's outcome). Waits out an outage of PostgreSQL or
    Redis (up to ``outage_patience``); past that raises TRANSIENT_ERRORS to be retried by
    Celery, after giving the lease back. ``prepared``: the page extracted already (benchmarks
    that measure the rest).

    Three round trips to PostgreSQL carry a page: the claim, the candidates' read, and one
    transaction that stores it and marks its row done (``PagePipeline.commit``'s ``on_commit``)."""
    settings = services.settings
    staging = services.staging
    patience = outage_patience(settings)
    claim = through_outages(
        lambda: staging.claim(page_id, LEASE_SECONDS, max_attempts(settings)),
        f"page {page_id}: claiming it",
        patience,
    )
    if claim.page is not None:
        logs.bind_crawl(claim.page.crawl_id)  # this task's log lines name the page's crawl
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
    pipeline = services.pipeline
    with services.leases.holding(page_id):
        try:
            ready = prepared or pipeline.prepare(page)  # within the page's time budget
            tries = 0
            finished = False

            def mark_done(connection: Connection, outcome: PageOutcome) -> None:
                nonlocal finished
                finished = staging.finish_in(
                    connection, page_id, outcome.kind, outcome.article_id, outcome.reason
                )

            def commit() -> PageOutcome:
                nonlocal tries
                tries += 1
                # A try after the first, or a page delivered before, may find its own earlier
                # commit: its index write is made good (PagePipeline.commit).
                return pipeline.commit(
                    page, ready, repair_index=tries > 1 or claim.attempts > 1, on_commit=mark_done
                )

            outcome = through_outages(commit, f"page {page_id} ({page.url})", patience, TRANSIENT_ERRORS)
        except TRANSIENT_ERRORS as exc:
            log.warning("page %s (%s): transient %s: %s", page_id, page.url, type(exc).__name__, exc)
            try:
                staging.release(page_id, f"retrying after {type(exc).__name__}: {exc}")
            except Exception:
                log.exception("could not release the lease of page %s", page_id)
            raise
        except PageTimedOut:
            mark_failed(services, page_id, page, TIMED_OUT)
            return "failed"
        except SoftTimeLimitExceeded:
            mark_failed(services, page_id, page, f"time limit: more than {settings.task_time_limit}s")
            return "failed"
        except Exception as exc:
            log.exception("page %s (%s) failed", page_id, page.url)
            mark_failed(services, page_id, page, f"{type(exc).__name__}: {exc}")
            return "failed"
    if not finished:
        log.info("page %s was finished by another delivery meanwhile", page_id)
    elif outcome.kind != "held":  # a held page is counted once released
        count_outcome(services.health, page.source, page.crawl_id, outcome.kind, outcome.reason)
    return outcome.kind


def release_held_pages(services: WorkerServices, crawl_id: str) -> int:
    """Judge the held pages of a crawl whose other pages are all done (the crawl's end):
    returns how many were released. Pages another worker released meanwhile are skipped."""
    return len(services.pipeline.release_held(crawl_id=crawl_id))


def mark_failed(services: WorkerServices, page_id: int, page: Page | None, reason: str) -> None:
    """The page's end: failed, with the reason, in the staging table and the store's failures."""
    log.error("page %s failed for good: %s", page_id, reason)
    services.staging.fail(page_id, reason)
    if page is not None:
        count_outcome(services.health, page.source, page.crawl_id, "failed", reason)
        try:
            services.store.failure_log.record(page.url, page.source, page.crawl_id, "process", reason)
        except Exception:
            log.exception("could not record the failure of %s", page.url)


def give_up_page(services: WorkerServices, page_id: int, exc: BaseException) -> None:
    """Retries are spent: the last transient error becomes the page's failure reason."""
    page = services.staging.page(page_id)
    mark_failed(services, page_id, page, f"gave up after retries: {type(exc).__name__}: {exc}")
