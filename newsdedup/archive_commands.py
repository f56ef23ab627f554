"""The archive's commands: ``reprocess``, ``import-warc`` and ``archive prune``."""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

import click

from newsdedup.command_settings import command_settings
from newsdedup.pipeline.forkserver import start_forkserver_early
from newsdedup.pipeline.summary import CrawlSummary

SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is no ISO 8601 date or time (2026-12-01, 2026-12-01T08:00)", param_hint="'--since'"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class _Bar:
    """A progress bar on standard error (a terminal only), with the crawl's summary line."""

    def __init__(self, total_bytes: int, label: str) -> None:
        self.enabled = sys.stderr.isatty() and total_bytes > 0
        self.done = 0
        self.length = max(total_bytes, 1)
        self.bar = (
            click.progressbar(
                length=self.length,
                label=label,
                file=sys.stderr,
                item_show_func=lambda line: line,
                show_pos=False,
            )
            if self.enabled
            else None
        )

    def __enter__(self) -> _Bar:
        if self.bar is not None:
            self.bar.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.bar is not None:
            self.bar.__exit__(exc_type, exc, traceback)

    def __call__(self, bytes_done: int, summary: CrawlSummary) -> None:
        if self.bar is None:
            return
        step = max(0, min(bytes_done, self.length) - self.done)
        self.done += step
        self.bar.update(step, summary.line())


@click.command()
@click.option("--source", "sources", multiple=True, help="Only pages of this source (repeatable).")
@click.option(
    "--since",
    default=None,
    help="Only pages fetched at or after this ISO 8601 date or time (UTC unless it says).",
)
@click.option(
    "--database-url", default=None, help="The store to write into (default: a new one beside the live store)."
)
def reprocess(sources: tuple[str, ...], since: str | None, database_url: str | None) -> None:
    """Run the archived pages, in fetch order, through the current extraction and dedup."""
    settings = command_settings()
    if not settings.archive_dir.is_dir():
        raise click.UsageError(f"no archive at {settings.archive_dir} (NEWSDEDUP_ARCHIVE_DIR)")
    start_forkserver_early(settings)
    # deferred: each command loads only its own libraries; this one spares the others ≈ 590 ms
    # of imports (bench/import_costs.py)
    from newsdedup.archive.reader import ArchiveScan
    from newsdedup.reprocess import default_target, run_reprocess, shown_url

    scan = ArchiveScan(
        settings.archive_dir, since=_since(since), sources=frozenset(sources) if sources else None
    )
    files = scan.files()
    if database_url and settings.distributed and database_url != settings.database_url:
        from newsdedup.workers.reprocess_targets import target_name

        try:
            target_name(settings, database_url)  # the workers must find it in their settings
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
    target = database_url or default_target(settings.database_url)
    if target == settings.database_url:
        click.echo("note: reprocessing into the live store", err=True)
    click.echo(
        f"reprocessing {len(files)} WARC files of {settings.archive_dir} into {shown_url(target)}", err=True
    )
    with _Bar(scan.total_bytes, "reprocess") as bar:
        result = run_reprocess(settings, target, progress=bar, scan=scan)
    click.echo(result.summary.line())
    if result.counts.total_skipped:
        click.echo(result.counts.line())
    click.echo(f"store: {shown_url(target)}")


@click.command("import-warc")
@click.argument("files", nargs=-1, required=True)
@click.option(
    "--source",
    default=None,
    help="Store every page under this source name (a single-publisher archive); "
    "default: each page's publisher, its host.",
)
def import_warc(files: tuple[str, ...], source: str | None) -> None:
    """Ingest the HTML responses of WARC files (paths or http(s) URLs, gzipped or not)."""
    settings = command_settings()
    if source is not None and not SOURCE_NAME.match(source):
        raise click.BadParameter(f"{source!r}: lowercase letters, digits and '-'", param_hint="'--source'")
    missing = [f for f in files if not f.startswith(("http://", "https://")) and not Path(f).is_file()]
    if missing:
        raise click.BadParameter(f"no such file: {missing[0]}", param_hint="'FILES'")
    start_forkserver_early(settings)
    # deferred: each command loads only its own libraries; this one spares the others ≈ 590 ms
    # of imports (bench/import_costs.py)
    from newsdedup.reprocess import run_import

    total = sum(Path(f).stat().st_size for f in files if not f.startswith(("http://", "https://")))
    with _Bar(total, "import-warc") as bar:
        result = run_import(settings, list(files), source, progress=bar)
    click.echo(result.summary.line())
    click.echo(result.counts.line())


@click.group()
def archive() -> None:
    """The archive of raw pages (WARC files in NEWSDEDUP_ARCHIVE_DIR)."""


@archive.command()
@click.option(
    "--older-than",
    "days",
    type=click.FloatRange(min=0),
    default=None,
    help="Days (default: NEWSDEDUP_ARCHIVE_RETENTION_DAYS).",
)
@click.option("--dry-run", is_flag=True, help="Only say what would be deleted.")
def prune(days: float | None, dry_run: bool) -> None:
    """Delete the WARC files last written more than the retention period ago."""
    # deferred: each command loads only its own libraries; this one spares the others ≈ 15–45 ms, with the store ≈ 150 ms more
    # of imports (bench/import_costs.py)
    from newsdedup.archive.prune import prune_archive
    from newsdedup.pipeline.services import open_store

    settings = command_settings()
    days = settings.archive_retention_days if days is None else days
    if days <= 0:
        raise click.UsageError(
            "no retention period: set NEWSDEDUP_ARCHIVE_RETENTION_DAYS or pass --older-than DAYS"
        )
    if not settings.archive_dir.is_dir():
        click.echo(f"no archive at {settings.archive_dir}: nothing to prune")
        return
    store = open_store(settings)
    try:
        pruned = prune_archive(
            settings.archive_dir,
            days,
            forget=store.forget_archive_files,
            dry_run=dry_run,
            count=store.archived_versions,
        )
    finally:
        store.close()
    click.echo(pruned.line(dry_run))
    for name in pruned.files:
        click.echo(f"  {name}")
