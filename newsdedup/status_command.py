"""``newsdedup status``: each source's health, as a table or as JSON (docs/commands.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from newsdedup.command_settings import command_settings
from newsdedup.config import ConfigError
from newsdedup.durations import ago

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
    # deferred, as in the other commands: the other commands are spared ≈ 150 ms of imports
    # of the store's code (bench/import_costs.py)
    from newsdedup.pipeline.services import open_store
    from newsdedup.source_status import statuses_for

    settings = command_settings(config_path)
    store = open_store(settings)
    try:
        items = statuses_for(settings, store.engine)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
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
                ago(crawl["started_at"], now)
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
                ago(item["last_article_at"], now),
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
