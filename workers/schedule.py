"""Scheduled crawls: which sources are due, as plain functions, and beat's tick.

Beat sends one tick every ``schedule_tick`` seconds; the tick re-reads the sources file (so an
edit takes effect without a restart), compares each source's schedule with its last start (a
Redis hash, shared by whoever runs the tick) and queues ``newsdedup.crawl_source`` for the due
ones. A source never crawls twice at once: crawl_source holds the source's lock for the crawl.

Cron expressions are read in UTC (config/cron.py).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Protocol

import redis

from newsdedup.config import Settings, Source, load_sources
from newsdedup.config.cron import Cron
from newsdedup.config.sources import ConfigError, Schedule
from newsdedup.workers.locks import LAST_START_KEY, SCHEDULE_LOCK_KEY, redis_client

log = logging.getLogger(__name__)


def is_due(schedule: Schedule, last_start: datetime | None, now: datetime) -> bool:
    """Interval: due when never started, or ``interval`` after the last start. Cron: due when
    a matching minute passed since the last start; never started means "not yet": the caller
    records a first sighting as the last start, so a cron source waits for its next match
    instead of crawling the moment beat starts."""
    if schedule.interval_seconds is not None:
        return last_start is None or now - last_start >= timedelta(seconds=schedule.interval_seconds)
    if schedule.cron_fields is None or last_start is None:
        return False
    fire = Cron(schedule.cron_fields).next_after(last_start)
    return fire is not None and fire <= now


def due_sources(sources: Iterable[Source], last_starts: dict[str, datetime], now: datetime) -> list[Source]:
    return [source for source in sources if is_due(source.schedule, last_starts.get(source.name), now)]


class Enqueuer(Protocol):
    def send_task(self, name: str, args: list[object]) -> object: ...


def _text(value: bytes | str) -> str:
    """A Redis reply as text (the client answers bytes unless decode_responses is set)."""
    return value.decode() if isinstance(value, bytes) else value


def read_last_starts(client: redis.Redis) -> dict[str, datetime]:
    starts: dict[str, datetime] = {}
    for name, value in client.hgetall(LAST_START_KEY).items():
        try:
            starts[_text(name)] = datetime.fromisoformat(_text(value))
        except ValueError:
            log.warning("ignoring a bad last start for %r: %r", name, value)
    return starts


def schedule_due(
    sources: list[Source],
    client: redis.Redis,
    enqueue: Callable[[str, str], None],
    now: datetime,
) -> list[str]:
    """Queue a crawl of each due source and remember when; returns the names queued."""
    last_starts = read_last_starts(client)
    started: list[str] = []
    for source in sources:
        if source.schedule.cron_fields is not None and source.name not in last_starts:
            client.hset(LAST_START_KEY, source.name, now.isoformat())  # first sighting
            continue
        if not is_due(source.schedule, last_starts.get(source.name), now):
            continue
        enqueue(source.name, uuid.uuid4().hex)
        client.hset(LAST_START_KEY, source.name, now.isoformat())
        started.append(source.name)
    # Sources removed from the file leave the hash; renamed ones start afresh.
    gone = set(last_starts) - {source.name for source in sources}
    if gone:
        client.hdel(LAST_START_KEY, *gone)
    return started


def tick(settings: Settings, app: Enqueuer, now: datetime | None = None) -> list[str]:
    """Beat's tick (task ``newsdedup.schedule_due_crawls``)."""
    assert settings.redis_url, "the schedule needs NEWSDEDUP_REDIS_URL"
    now = now or datetime.now(UTC)
    try:
        sources = load_sources(settings.config)
    except ConfigError as exc:
        # Keep running on a broken edit: nothing is due until the file is fixed.
        log.error("sources file unusable, no crawl scheduled: %s", exc)
        return []
    client = redis_client(settings.redis_url)
    try:
        # Two ticks at once (two beats by mistake, a late tick) must not both start a source.
        with client.lock(SCHEDULE_LOCK_KEY, timeout=60, blocking_timeout=0, thread_local=False) as _:

            def enqueue(name: str, crawl_id: str) -> None:
                app.send_task("newsdedup.crawl_source", args=[name, crawl_id])

            started = schedule_due(sources, client, enqueue, now)
    except redis.exceptions.LockError:
        log.info("another tick is running: skipped")
        return []
    finally:
        client.close()
    if started:
        log.info("scheduled crawls: %s", ", ".join(started))
    return started
