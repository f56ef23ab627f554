"""Workers look for lost pages, and for a lost index, themselves: nothing waits for beat.

A page can be left pending with nobody to send it: the crawl process that staged it was
killed before it sent the task, or the worker holding it died and nobody waits for its crawl
(``--no-wait``, scheduled and API crawls). Every worker's main process runs this thread; each
round one worker of the cluster (a short Redis lock) re-sends what ``resend_stale`` finds.
Beat's own sweep does the same every minute; either suffices. The same round rebuilds the
Redis index if it is missing (a flushed or new Redis), so that an idle cluster does not wait
for its next page to notice.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from typing import TYPE_CHECKING

from celery import Celery

from newsdedup.config import Settings
from newsdedup.store import Store
from newsdedup.store.database import utcnow
from newsdedup.store.staging import Staging
from newsdedup.workers.index_repair import rebuild_exclusively, store_index
from newsdedup.workers.locks import PREFIX, redis_client
from newsdedup.workers.sending import PageSender, resend_stale

if TYPE_CHECKING:
    from newsdedup.workers.process_services import ProcessServices

log = logging.getLogger(__name__)

SWEEP_EVERY_SECONDS = 20.0
SWEEP_LOCK_KEY = PREFIX + "lock:sweep"
# Staging rows are kept this long after they finished (failed ones for operators to see).
KEEP_DONE = timedelta(days=2)
KEEP_FAILED = timedelta(days=30)
# The held pages (store/held.py) of a crawl nobody waits for (scheduled, API, --no-wait) are
# released once no page of the crawl is pending and none was staged or finished for
# CRAWL_QUIET (the crawl is over), and in any case HELD_PATIENCE after the first was held.
CRAWL_QUIET = timedelta(seconds=60)
HELD_PATIENCE = timedelta(minutes=10)


def start_sweeper(settings: Settings, sender: Celery) -> threading.Thread:
    thread = threading.Thread(target=_run, args=(settings, sender), name="lost-page-sweeper", daemon=True)
    thread.start()
    return thread


def _run(settings: Settings, sender: Celery) -> None:
    while True:
        time.sleep(SWEEP_EVERY_SECONDS)
        try:
            sweep_once(settings, sender)
        except Exception as exc:  # noqa: BLE001 - an outage: the next round tries again
            log.info("could not look for lost pages: %s: %s", type(exc).__name__, exc)


def sweep_once(settings: Settings, sender: Celery) -> int:
    """Re-send lost pages if no other worker did in this round; returns how many were sent."""
    assert settings.redis_url
    client = redis_client(settings.redis_url)
    try:
        # Expires before the next round: one sweep per round for the whole cluster.
        if not client.set(SWEEP_LOCK_KEY, "1", nx=True, ex=max(1, int(SWEEP_EVERY_SECONDS) - 2)):
            return 0
    finally:
        client.close()
    # Opened and closed each round: this process forks pool processes, which must not
    # inherit an open connection.
    staging = Staging.open(settings.database_url, migrate=False)
    try:
        sent = resend_stale(staging, PageSender(sender), None)
        release_finished_crawls(settings, PageSender(sender), staging)
    finally:
        staging.close()
    rebuild_if_missing(settings)
    return sent


def release_finished_crawls(
    settings: Settings, sender: PageSender, staging: Staging, store: Store | None = None
) -> int:
    """Ask for the release of the held pages of the crawls that are over (CRAWL_QUIET) or
    whose pages were held longer than HELD_PATIENCE; returns how many crawls were asked for."""
    opened = store or Store.open(settings.database_url, migrate=False)
    try:
        crawls = opened.held.crawls()
    finally:
        if store is None:
            opened.close()
    now = utcnow()
    due = []
    for crawl_id, first_held in sorted(crawls.items()):
        quiet = staging.quiet_since(crawl_id)
        if first_held < now - HELD_PATIENCE or (quiet is not None and quiet < now - CRAWL_QUIET):
            due.append(crawl_id)
    return sum(sender.send_release(crawl_id) for crawl_id in due)


def rebuild_if_missing(settings: Settings) -> bool:
    """Rebuild the Redis index under the whole-index lock if it is not the store's; True if it did."""
    assert settings.redis_url
    client = redis_client(settings.redis_url)
    store = Store.open(settings.database_url, migrate=False)
    try:
        index = store_index(client, settings, store)
        if index.is_complete():
            return False
        log.error("the Redis index is missing (flushed or new Redis): rebuilding it from the store")
        timeout = settings.dedup_lock_timeout
        # None: a worker rebuilt it while we waited for the lock
        return (
            rebuild_exclusively(client, index, store, settings.lsh_window_days, timeout, wait=timeout)
            is not None
        )
    finally:
        store.close()
        client.close()


def sweep(settings: Settings, sender: Celery, services: ProcessServices) -> int:
    """Beat's safety net for crawls nobody waits for (``--no-wait``, scheduled, API): re-send
    lost pages of every crawl, and forget rows finished long ago."""
    staging = services.live.staging
    sent = resend_stale(staging, PageSender(sender), None)
    release_finished_crawls(settings, PageSender(sender), staging, services.live.store)
    purged = staging.purge(KEEP_DONE, KEEP_FAILED)
    if purged:
        log.info("purged %d finished staged pages", purged)
    return sent
