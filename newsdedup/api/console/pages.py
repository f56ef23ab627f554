"""What each console page shows, gathered from the store, the sources file and the crawl
launcher: plain values for the templates (newsdedup/api/console/templates)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from newsdedup.api.context import ApiContext
from newsdedup.config import ConfigError, Source, load_sources
from newsdedup.config.cron import Cron
from newsdedup.source_status import counts_of, source_statuses
from newsdedup.store.console_reader import ConsoleReader
from newsdedup.store.source_health import SourceHealth

FAILED_URLS_SHOWN = 5
# Crawls of this server shown with their progress (one query each).
CRAWLS_SHOWN = 20


def reader(ctx: ApiContext) -> ConsoleReader:
    return ConsoleReader(ctx.store.db)


def next_crawl(source: Source, last_started: datetime | None, now: datetime) -> datetime | None:
    """When ``newsdedup beat`` starts the source's next crawl (None: a cron that never fires)."""
    schedule = source.schedule
    if schedule.interval_seconds is not None:
        if last_started is None:
            return now
        return max(now, last_started + timedelta(seconds=schedule.interval_seconds))
    assert schedule.cron_fields is not None
    return Cron(schedule.cron_fields).next_after(max(now, last_started or now))


def sources_page(ctx: ApiContext) -> dict[str, Any]:
    now = datetime.now(UTC)
    try:
        sources = load_sources(ctx.settings.config)
    except ConfigError as exc:
        return {"config_error": str(exc), "sources": []}
    health = SourceHealth(ctx.store.engine)
    statuses = source_statuses(health, sources, now=now, crawl_time_limit=ctx.settings.crawl_time_limit)
    configured = {source.name: source for source in sources}
    failures = reader(ctx).latest_failures([s["source"] for s in statuses], FAILED_URLS_SHOWN)
    for status in statuses:
        source = configured.get(status["source"])
        started = (status["last_crawl"] or {}).get("started_at")
        status["schedule"] = source.schedule.text if source else None
        status["next_crawl"] = (
            next_crawl(source, datetime.fromisoformat(started) if started else None, now) if source else None
        )
        status["failed_urls"] = failures.get(status["source"], [])
    return {"config_error": None, "sources": statuses}


def crawls_page(ctx: ApiContext) -> dict[str, Any]:
    """The crawls this server started (embedded mode), with their progress so far from the
    store's per-crawl counts, and every source's last crawl (either mode)."""
    health = SourceHealth(ctx.store.engine)
    runs: list[dict[str, Any]] = []
    for run in (ctx.crawls.recent() if ctx.crawls is not None else [])[:CRAWLS_SHOWN]:
        tallies = health.crawl_tallies(dict.fromkeys(run.sources, run.crawl_id))
        total: dict[str, int] = {}
        for tally in tallies.values():
            for name, value in counts_of(tally).as_dict().items():
                total[name] = total.get(name, 0) + value
        runs.append({"run": run, "counts": total})
    times = health.times()
    last = sorted(
        (row for row in times.values() if row.last_crawl_id),
        key=lambda row: row.last_crawl_started_at or datetime.min.replace(tzinfo=UTC),
        reverse=True,
    )
    last_tallies = health.crawl_tallies({row.source: row.last_crawl_id or "" for row in last})
    per_source = [
        {"row": row, "counts": counts_of(last_tallies.get(row.source, {})).as_dict()} for row in last
    ]
    running = any(item["run"].state == "running" for item in runs) or any(
        row.last_crawl_outcome == "running" for row in last
    )
    return {
        "runs": runs,
        "per_source": per_source,
        "running": running,
        "distributed": ctx.settings.distributed,
    }
