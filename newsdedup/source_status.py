"""Each source's health as operators read it: ``newsdedup status``, ``GET /v1/sources`` and
the per-source series of ``/metrics`` all come from ``source_statuses``, so they agree.

The sources listed are those of the sources file, then those the store has history of but
the file no longer names (``configured: false``; their state is judged with the default
stale_after of an hourly schedule).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from newsdedup.config import Settings, load_sources
from newsdedup.config.sources import Source, parse_schedule
from newsdedup.source_states import counts_of, default_stale_after, judge
from newsdedup.store.source_health import SourceHealth, SourceTimes, failures_of

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
