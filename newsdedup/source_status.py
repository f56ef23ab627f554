"""Each source's health as operators read it: ``newsdedup status``, ``GET /v1/sources`` and
the per-source series of ``/metrics`` all come from ``source_statuses``, so they agree.

The sources listed are those of the sources file, then those the store has history of but
the file no longer names (``configured: false``; their state is judged with the default
stale_after of an hourly schedule).

The state of a source comes from what its last crawl counted, by pure rules (``judge``).

States, first match wins (the most specific cause first: a blocked or robots-denied source
is also failing or stale, but the remedy differs):

1. ``unknown``: never crawled (no crawl recorded).
2. ``blocked``: more than half the requests of the last crawl were refused to the bot
   (HTTP 403, 429, anti-bot challenge pages).
3. ``robots-denied``: robots.txt forbade more than half the article URLs the last crawl found.
4. ``failing``: more than half the requests of the last crawl failed (any reason), or pages
   it fetched could not be processed.
5. ``stale``: no new article for longer than ``stale_after`` (since the first crawl, for a
   source that never had one).
6. ``ok``.

A request is an article URL fetched (200 or 304), refused by robots.txt, or failed, and a
discovery document (feed, sitemap, listing) that failed. A running crawl is judged by what
it counted so far.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from newsdedup.config import Settings, load_sources
from newsdedup.config.cron import Cron
from newsdedup.config.sources import Source, parse_schedule
from newsdedup.durations import age
from newsdedup.store.source_health import SourceHealth, SourceTimes, failures_of

STATES = ("ok", "stale", "failing", "blocked", "robots-denied", "unknown")
# A source's default stale_after, in schedule intervals.
STALE_AFTER_INTERVALS = 3


@dataclass(frozen=True)
class SourceCounts:
    """What one crawl (or a time window) counted for one source."""

    fetched: int = 0
    not_modified: int = 0
    robots_denied: int = 0
    fetch_failed: int = 0
    created: int = 0
    updated: int = 0
    duplicates: int = 0
    unchanged: int = 0
    rejected: int = 0
    failed: int = 0  # pages fetched that could not be processed
    blocked: int = 0  # of fetch_failed: refusals of the bot

    @property
    def requests(self) -> int:
        return self.fetched + self.not_modified + self.robots_denied + self.fetch_failed

    def as_dict(self) -> dict[str, int]:
        """The counts an operator reads (``failed``: fetch and processing failures together)."""
        return {
            "fetched": self.fetched,
            "not_modified": self.not_modified,
            "created": self.created,
            "updated": self.updated,
            "duplicates": self.duplicates,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "failed": self.fetch_failed + self.failed,
            "robots_denied": self.robots_denied,
        }


@dataclass(frozen=True)
class Verdict:
    state: str
    why: str


def default_stale_after(source: Source, now: datetime | None = None) -> int:
    """Seconds: the source's ``stale_after``, else three schedule intervals (for a cron
    schedule, three times the gap between its next two runs)."""
    if source.stale_after is not None:
        return source.stale_after
    interval = source.schedule.interval_seconds
    if interval is None and source.schedule.cron_fields is not None:
        cron = Cron(source.schedule.cron_fields)
        first = cron.next_after(now or datetime.now(UTC))
        second = cron.next_after(first) if first is not None else None
        interval = int((second - first).total_seconds()) if first and second else 86400
    return STALE_AFTER_INTERVALS * (interval or 3600)


def judge(
    crawled: bool,
    last_crawl: SourceCounts,
    stale_after: int,
    now: datetime,
    last_article_at: datetime | None,
    first_crawl_at: datetime | None,
) -> Verdict:
    """The state of a source and a short reason (see the module's docstring for the rules)."""
    if not crawled:
        return Verdict("unknown", "never crawled")
    requests = last_crawl.requests
    if requests and last_crawl.blocked * 2 > requests:
        return Verdict("blocked", f"{last_crawl.blocked} of {requests} requests refused to the bot")
    if requests and last_crawl.robots_denied * 2 > requests:
        return Verdict(
            "robots-denied", f"robots.txt forbade {last_crawl.robots_denied} of {requests} requests"
        )
    failures = last_crawl.fetch_failed + last_crawl.failed
    if requests and failures * 2 > requests:
        return Verdict("failing", f"{failures} of {requests} requests failed")
    since = last_article_at or first_crawl_at
    if since is not None and now - since > timedelta(seconds=stale_after):
        what = "no new article" if last_article_at else "no article at all"
        return Verdict(
            "stale", f"{what} for {age(now - since)} (stale_after {age(timedelta(seconds=stale_after))})"
        )
    return Verdict("ok", "")


def counts_of(tally: Mapping[tuple[str, str], int]) -> SourceCounts:
    """``SourceCounts`` from the store's (event, failure class) -> pages."""

    def n(event: str) -> int:
        return sum(pages for (e, _), pages in tally.items() if e == event)

    return SourceCounts(
        fetched=n("fetched"),
        not_modified=n("not_modified"),
        robots_denied=n("robots_denied"),
        fetch_failed=n("fetch_failed"),
        created=n("created"),
        updated=n("updated"),
        duplicates=n("duplicate"),
        unchanged=n("unchanged"),
        rejected=n("rejected"),
        failed=n("failed"),
        blocked=sum(pages for (e, r), pages in tally.items() if e == "fetch_failed" and r == "blocked"),
    )


WINDOW = timedelta(hours=24)
# A crawl stops itself at its time limit and is killed a minute later (workers/crawl_process.py).
LOST_AFTER_LIMIT_SECONDS = 300


def statuses_for(settings: Settings, engine: Engine) -> list[dict[str, Any]]:
    """``source_statuses`` of the sources file's sources; ConfigError when it is not usable."""
    return source_statuses(
        SourceHealth(engine), load_sources(settings.config), crawl_time_limit=settings.crawl_time_limit
    )


def source_statuses(
    health: SourceHealth,
    sources: Sequence[Source],
    now: datetime | None = None,
    crawl_time_limit: float | None = None,
) -> list[dict[str, Any]]:
    """One JSON-ready dict per source (the fields are documented in docs/http-api.md).
    ``crawl_time_limit`` (NEWSDEDUP_CRAWL_TIME_LIMIT): a crawl still "running" well past it was
    killed before it could record its end, and says so."""
    now = now or datetime.now(UTC)
    times = health.times()
    configured = {source.name: source for source in sources}
    names = [source.name for source in sources] + sorted(set(times) - set(configured))
    last_crawls = {
        name: row.last_crawl_id for name, row in times.items() if row.last_crawl_id and name in names
    }
    crawl_tallies = health.crawl_tallies(last_crawls)
    window_tallies = health.window_tallies(now - WINDOW)
    items = []
    for name in names:
        source = configured.get(name) or Source(name=name, schedule=parse_schedule("1h", name))
        row = times.get(name) or SourceTimes(source=name)
        crawled = row.last_crawl_id is not None
        last = counts_of(crawl_tallies.get(name, Counter()))
        stale_after = default_stale_after(source, now)
        verdict = judge(crawled, last, stale_after, now, row.last_article_at, row.first_crawl_at)
        window = window_tallies.get(name, Counter())
        items.append(
            {
                "source": name,
                "configured": name in configured,
                "state": verdict.state,
                "why": verdict.why,
                "stale_after_seconds": stale_after,
                "last_crawl": {
                    "id": row.last_crawl_id,
                    "started_at": _iso(row.last_crawl_started_at),
                    "finished_at": _iso(row.last_crawl_finished_at),
                    "outcome": _outcome(row, now, crawl_time_limit),
                    "counts": last.as_dict(),
                    "failures": failures_of(crawl_tallies.get(name, Counter())),
                }
                if crawled
                else None,
                "last_24h": {"counts": counts_of(window).as_dict(), "failures": failures_of(window)},
                "first_crawl_at": _iso(row.first_crawl_at),
                "last_page_stored_at": _iso(row.last_page_at),
                "last_article_at": _iso(row.last_article_at),
                "last_success_at": _iso(row.last_success_at),
            }
        )
    return items


def _outcome(row: SourceTimes, now: datetime, crawl_time_limit: float | None) -> str | None:
    started = row.last_crawl_started_at
    if (
        row.last_crawl_outcome == "running"
        and crawl_time_limit is not None
        and started is not None
        and now - started > timedelta(seconds=crawl_time_limit + LOST_AFTER_LIMIT_SECONDS)
    ):
        return "lost: no end recorded (the crawl process was killed?)"
    return row.last_crawl_outcome


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None
