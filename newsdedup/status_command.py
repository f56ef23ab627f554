"""``newsdedup status``: each source's health, as a table or as JSON (docs/commands.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from config import ConfigError, load_settings, load_sources

COLUMNS = (
    "SOURCE",
    "STATE",
    "LAST CRAWL",
    "FETCHED",
    "304",
    "NEW",
    "UPD",
    "DUP",
    "REJ",
    "FAILED",
    "LAST ARTICLE",
)


@click.command()
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="The sources file.")
@click.option("--format", "fmt", type=click.Choice(("table", "json")), default="table", show_default=True)
def status(config_path: Path | None, fmt: str) -> None:
    """Each source's health: its state, last crawl and what it counted (docs/commands.md)."""
    # deferred, as in the other commands: SQLAlchemy loads only for the command that needs it
    from newsdedup.source_status import source_statuses
    from store import Store
    from store.source_health import SourceHealth

    try:
        settings = load_settings(config=config_path)
        sources = load_sources(settings.config)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - pydantic's ValidationError names the variable
        raise click.UsageError(f"bad setting: {exc}") from None
    store = Store.open(settings.database_url)
    try:
        items = source_statuses(
            SourceHealth(store.engine), sources, crawl_time_limit=settings.crawl_time_limit
        )
    finally:
        store.close()
    if fmt == "json":
        click.echo(json.dumps({"items": items}, indent=2))
        return
    click.echo(render_table(items, datetime.now(UTC)))


def render_table(items: list[dict[str, Any]], now: datetime) -> str:
    """One line per source (counts of its last crawl), then why each source that is not ok is not."""
    rows = [COLUMNS]
    for item in items:
        crawl = item["last_crawl"]
        counts = crawl["counts"] if crawl else {}
        rows.append(
            (
                item["source"] + ("" if item["configured"] else " (not configured)"),
                item["state"],
                _ago(crawl["started_at"], now)
                + ("" if crawl["outcome"] == "finished" else f" ({crawl['outcome']})")
                if crawl
                else "never",
                *(
                    str(counts.get(key, "-"))
                    for key in (
                        "fetched",
                        "not_modified",
                        "created",
                        "updated",
                        "duplicates",
                        "rejected",
                        "failed",
                    )
                ),
                _ago(item["last_article_at"], now),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    notes = [
        f"{item['source']}: {item['state']}: {item['why']}"
        + (
            f"; failures: {_failures(item['last_crawl']['failures'])}"
            if item["last_crawl"] and item["last_crawl"]["failures"]
            else ""
        )
        for item in items
        if item["state"] != "ok"
    ]
    return "\n".join(lines + ([""] + notes if notes else []))


def _failures(failures: dict[str, int]) -> str:
    return ", ".join(f"{reason} {n}" for reason, n in sorted(failures.items(), key=lambda kv: -kv[1]))


def _ago(moment: str | None, now: datetime) -> str:
    if not moment:
        return "never"
    seconds = int((now - datetime.fromisoformat(moment.replace("Z", "+00:00"))).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{max(seconds, 0)}s ago"
