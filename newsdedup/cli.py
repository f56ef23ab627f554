"""The `newsdedup` command (docs/commands.md)."""

from __future__ import annotations

import gc
import logging
import sys
import uuid
from pathlib import Path

import click

from newsdedup import archive_commands, healthcheck, sinks_commands
from newsdedup.command_settings import command_settings
from newsdedup.config import ConfigError, Settings, Source, load_sources, logs, select_sources
from newsdedup.feedformat import FORMATS, render
from newsdedup.pipeline.forkserver import start_forkserver_early
from newsdedup.status_command import status

log = logging.getLogger("newsdedup")


def _select_sources(settings: Settings, names: tuple[str, ...]) -> list[Source]:
    try:
        return select_sources(load_sources(settings.config), names)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
@click.version_option(package_name="newsdedup", prog_name="newsdedup", message="%(prog)s %(version)s")
def main(verbose: int) -> None:
    """newsdedup: crawl news sources, deduplicate articles, serve the feed."""
    # Text until the settings are read; then their NEWSDEDUP_LOG_FORMAT (config/logs.py).
    logs.configure("text", logs.verbosity_level(verbose))


# `newsdedup crawl --fail-on-errors`: the crawl ran, and some of its pages failed (docs/commands.md).
PAGES_FAILED_EXIT = 3


@main.command()
@click.argument("sources", nargs=-1)
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="The sources file.")
@click.option("--no-wait", is_flag=True, help="Distributed mode: return once the crawl is queued.")
@click.option("--explain", is_flag=True, help="Embedded mode: print each page's decision and why.")
@click.option(
    "--fail-on-errors",
    is_flag=True,
    help=f"Exit with status {PAGES_FAILED_EXIT} when pages failed (for cron and CI); not with --no-wait.",
)
@click.option(
    "--crawl-id", default=None, hidden=True, help="Id to record the crawl under (the API passes its own)."
)
def crawl(
    sources: tuple[str, ...],
    config_path: Path | None,
    no_wait: bool,
    explain: bool,
    fail_on_errors: bool,
    crawl_id: str | None,
) -> None:
    """Crawl the named sources (all when none are named) once, now."""
    if fail_on_errors and no_wait:
        raise click.UsageError("--fail-on-errors needs the crawl's outcome: it cannot go with --no-wait")
    settings = command_settings(config_path)
    selected = _select_sources(settings, sources)
    start_forkserver_early(settings)
    # deferred: each command loads only its own libraries; this one spares the others ≈ 370 ms
    # of imports (bench/import_costs.py)
    from newsdedup.crawl import run_crawl_command

    crawl_id = crawl_id or uuid.uuid4().hex
    logs.bind_process_crawl(crawl_id)
    summary = run_crawl_command(
        settings,
        selected,
        crawl_id=crawl_id,
        wait=not no_wait,
        show_progress=sys.stderr.isatty(),
        on_page_outcome=_explain_outcome if explain else None,
    )
    click.echo(summary.line())
    if fail_on_errors and summary.errors:
        # A log line, not a bare one: with NEWSDEDUP_LOG_FORMAT=json every stderr line is JSON.
        log.error("crawl %s: %d pages failed (--fail-on-errors)", crawl_id, summary.errors)
        sys.exit(PAGES_FAILED_EXIT)


def _explain_outcome(outcome) -> None:  # pipeline.page_pipeline.PageOutcome
    article = f" article {outcome.article_id[:8]} v{outcome.version}" if outcome.article_id else ""
    click.echo(f"  {outcome.kind:<9} {outcome.url}{article}")
    if outcome.reason:
        click.echo(f"            why: {outcome.reason}")


def _language_code(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not (len(value) == 2 and value.isascii() and value.isalpha()):
        raise click.BadParameter(f"{value!r} is not a two-letter ISO 639-1 language code (e.g. en)")
    return value.lower() if value is not None else None


@main.command()
@click.option(
    "--after",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Cursor: only records with seq above it.",
)
@click.option(
    "--limit", type=click.IntRange(min=1), default=None, help="At most this many records (default: all)."
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="jsonl", show_default=True)
@click.option(
    "--language",
    callback=_language_code,
    default=None,
    help="Only articles in this language (ISO 639-1 code, e.g. en).",
)
def feed(after: int, limit: int | None, fmt: str, language: str | None) -> None:
    """Print the deduplicated feed, oldest seq first."""
    # deferred: each command loads only its own libraries; this one spares the others ≈ 150 ms
    # of imports (bench/import_costs.py)
    from newsdedup.pipeline.services import open_store

    store = open_store(command_settings())
    try:
        records = store.feed_reader.feed(after=after, limit=limit, language=language)
    finally:
        store.close()
    sys.stdout.write(render(records, fmt))


@main.command()
@click.option(
    "--after",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Cursor: only stories with seq above it.",
)
@click.option(
    "--limit", type=click.IntRange(min=1), default=None, help="At most this many stories (default: all)."
)
@click.option("--format", "fmt", type=click.Choice(("jsonl", "json")), default="jsonl", show_default=True)
def stories(after: int, limit: int | None, fmt: str) -> None:
    """Print the stories (news events), oldest change first."""
    # deferred: each command loads only its own libraries, which keeps the others' start-up fast
    from newsdedup.pipeline.services import open_store

    store = open_store(command_settings())
    try:
        records = store.story_reader.stories(after=after, limit=limit)
    finally:
        store.close()
    sys.stdout.write(render(records, fmt))


@main.command()
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="The sources file.")
@click.option(
    "--boilerplate",
    "boilerplate_of",
    metavar="NAME",
    default=None,
    help="List the boilerplate lines learned from the pages of source NAME instead.",
)
def sources(config_path: Path | None, boilerplate_of: str | None) -> None:
    """Validate the sources file and list the sources with their schedules."""
    settings = command_settings(config_path)
    if boilerplate_of is not None:
        _list_boilerplate(settings, boilerplate_of)
        return
    selected = _select_sources(settings, ())
    click.echo(f"{settings.config}: {len(selected)} sources")
    for source in selected:
        kinds = ", ".join(
            f"{len(urls)} {label}"
            for label, urls in (
                ("feeds", source.feeds),
                ("sitemaps", source.sitemaps),
                ("listings", source.listings),
            )
            if urls
        )
        click.echo(
            f"  {source.name:<24} every {source.schedule.text:<14} {kinds}; max {source.max_pages} pages"
            + "".join(f"; {extra}" for extra in _source_extras(source))
        )


def _list_boilerplate(settings: Settings, source: str) -> None:
    """``newsdedup sources --boilerplate NAME``: the source's learned boilerplate lines."""
    from newsdedup.dedup.boilerplate import LEARNED_AFTER  # deferred, like every command's own parts
    from newsdedup.pipeline.services import open_store

    store = open_store(settings)
    try:
        learned = store.boilerplate.lines(source, limit=1000)
        counted = store.boilerplate.count(source)
        pages = store.boilerplate.pages_learned(source)
        held = store.held.count(source)
    finally:
        store.close()
    click.echo(
        f"{source}: {len(learned)} boilerplate lines (seen on {LEARNED_AFTER} or more of its articles; "
        f"{counted} lines counted on {pages} pages; {held} short pages held, waiting for its first pages)"
    )
    for line in learned:
        click.echo(f"  {line.pages:>6} articles  {line.sample}")


def _source_extras(source: Source) -> list[str]:
    """The optional keys a source sets, as ``newsdedup sources`` shows them."""
    extras = []
    if source.stale_after is not None:
        extras.append(f"stale after {source.stale_after}s")
    if source.languages:
        extras.append("languages " + ", ".join(source.languages))
    rules = source.extraction
    if rules is not None:
        overridden = [name for name in ("title", "body", "date", "authors") if getattr(rules, name)]
        overridden += ["drop"] if rules.drop else []
        extras.append("extraction overrides: " + ", ".join(overridden))
    if source.proxy is not None:
        extras.append("through a proxy")  # never its URL: it may carry a password
    return extras


@main.command()
@click.option(
    "--host",
    default=None,
    help="Address to listen on (default: NEWSDEDUP_API_HOST, which defaults to 127.0.0.1).",
)
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Port (default: NEWSDEDUP_API_PORT, which defaults to 8000).",
)
def serve(host: str | None, port: int | None) -> None:
    """Serve the HTTP API (docs/http-api.md)."""
    # deferred: each command loads only its own libraries; this one spares the others ≈ 25 ms
    # of imports (bench/import_costs.py)
    import uvicorn

    from newsdedup.api import create_app

    settings = command_settings()
    logs.at_least(logging.INFO)  # a server logs what it serves (uvicorn's access log)
    uvicorn.run(
        create_app(settings),
        host=host or settings.api_host,
        port=port or settings.api_port,
        log_level="info",
        log_config=None,  # uvicorn's loggers go through ours (config/logs.py)
    )


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def worker(ctx: click.Context) -> None:
    """A Celery worker (distributed mode); extra options go to Celery."""
    # deferred: each command loads only its own libraries; this one spares the others ≈ 280 ms (Celery)
    # of imports (bench/import_costs.py)
    from newsdedup.workers.app import run_worker

    settings = command_settings()
    _require_redis(settings)
    run_worker(settings, list(ctx.args))


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="The sources file.")
@click.pass_context
def beat(ctx: click.Context, config_path: Path | None) -> None:
    """The scheduler: starts a crawl of each source on its schedule."""
    # deferred: each command loads only its own libraries; this one spares the others ≈ 280 ms (Celery)
    # of imports (bench/import_costs.py)
    from newsdedup.workers.app import run_beat

    settings = command_settings(config_path)
    _require_redis(settings)
    _select_sources(settings, ())  # refuse to start on a bad sources file
    run_beat(settings, list(ctx.args))


@main.command()
@click.option("--port", type=click.IntRange(1, 65535), default=5555, show_default=True)
@click.option(
    "--address",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (0.0.0.0: every interface, e.g. inside a container).",
)
def flower(port: int, address: str) -> None:
    """Flower, the Celery dashboard, behind basic auth (NEWSDEDUP_FLOWER_AUTH)."""
    # deferred: each command loads only its own libraries; this one spares the others ≈ 280 ms (Celery)
    # of imports (bench/import_costs.py)
    from newsdedup.workers.app import check_flower_auth, run_flower

    settings = command_settings()
    _require_redis(settings)
    try:
        credential = check_flower_auth(settings.flower_auth)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    logs.at_least(logging.INFO)  # Flower's own lines: listening where, connected to which broker
    run_flower(settings, credential, port, address)


@main.command()
@click.option(
    "--keep",
    type=click.Path(path_type=Path),
    default=None,
    help="Keep the demo's database in this folder instead of a temporary one.",
)
def demo(keep: Path | None) -> None:
    """Serve the bundled sample news sites on loopback, crawl them twice, show the feed and why."""
    # deferred: each command loads only its own libraries; this one spares the others ≈ 15 ms
    # of imports (bench/import_costs.py)
    from newsdedup.demo import run_demo

    run_demo(keep)


@main.command("rebuild-index")
def rebuild_index_command() -> None:
    """Distributed mode: rebuild the Redis index from the store (after losing Redis's data,
    or after an upgrade that changed the index's layout)."""
    settings = command_settings()
    _require_redis(settings)
    # deferred: each command loads only its own libraries; this one spares the others ≈ 490 ms
    # of imports (bench/import_costs.py)
    from newsdedup.workers.index_repair import rebuild_index

    count = rebuild_index(settings)
    click.echo(
        f"rebuilt the Redis index: {count} entries (article versions of the last {settings.lsh_window_days:g} days)"
    )


def _require_redis(settings: Settings) -> None:
    if not settings.distributed:
        raise click.UsageError("this command needs distributed mode: set NEWSDEDUP_REDIS_URL")


# The archive of raw pages: reprocess, import-warc, archive prune (newsdedup/archive_commands.py).
main.add_command(archive_commands.reprocess)
main.add_command(archive_commands.import_warc)
main.add_command(archive_commands.archive)
# Docker's HEALTHCHECK of each service (newsdedup/healthcheck.py).
main.add_command(healthcheck.healthcheck)
# Each source's health (newsdedup/status_command.py).
main.add_command(status)
# Delivery to the sinks of the sources file (newsdedup/sinks_commands.py).
main.add_command(sinks_commands.deliver)
main.add_command(sinks_commands.sinks)


def run() -> None:
    """The ``newsdedup`` program: ``main`` as a command, for the console script and ``-m``."""
    try:
        main(prog_name="newsdedup")
    finally:
        # The command is over and has closed what it opened. Tearing down the interpreter
        # would still collect the ~10^5 objects of Scrapy, SQLAlchemy and Celery one by one
        # (0.4 s measured after a crawl); frozen, they are left for the OS to reclaim.
        gc.freeze()


if __name__ == "__main__":
    run()
