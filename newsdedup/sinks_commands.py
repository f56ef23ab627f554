"""``newsdedup deliver`` and ``newsdedup sinks status|dead-letters|replay`` (docs/commands.md)."""

from __future__ import annotations

import json
import logging
import signal
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import click

from newsdedup.command_settings import command_settings
from newsdedup.config import ConfigError, Settings, Sink, load_sinks, logs
from newsdedup.durations import ago

log = logging.getLogger("newsdedup")
# `newsdedup deliver --once`: it ran, and some sink did not confirm (tried again next time).
NOT_DELIVERED_EXIT = 3
# Seconds `deliver` gives its sinks to finish the batch in hand after SIGTERM.
STOP_GRACE_SECONDS = 30.0


def _sinks(settings: Settings, names: Sequence[str] = ()) -> list[Sink]:
    try:
        sinks = load_sinks(settings.config)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    if not sinks:
        raise click.UsageError(f"{settings.config} has no sinks: add a 'sinks:' list (docs/configuration.md)")
    known = {sink.name: sink for sink in sinks}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise click.UsageError(f"unknown sink {unknown[0]!r} (known: {', '.join(known)})")
    return [known[name] for name in dict.fromkeys(names)] if names else sinks


@click.command()
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="The sources file.")
@click.option("--sink", "names", multiple=True, help="Only this sink (repeatable; default: every sink).")
@click.option(
    "--once",
    is_flag=True,
    help=f"Deliver what is pending, then exit ({NOT_DELIVERED_EXIT} when a sink did not confirm).",
)
def deliver(config_path: Path | None, names: tuple[str, ...], once: bool) -> None:
    """Push the feed to the sinks of the sources file until stopped (SIGTERM: the batches in
    hand are finished, the leases given back)."""
    settings = command_settings(config_path)
    sinks = _sinks(settings, names)
    # deferred: SQLAlchemy, Redis and the sinks' clients load only for the commands that need them
    import redis

    from newsdedup.delivery.heartbeat import beat
    from newsdedup.delivery.runner import Deliverer
    from newsdedup.pipeline.services import open_store

    logs.at_least(logging.INFO)
    store = open_store(settings)
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=5) if settings.redis_url else None
    deliverer = Deliverer(settings, store, sinks, client)
    try:
        if once:
            results = deliverer.catch_up()
            for name, caught_up in results.items():
                click.echo(f"{name}: {'caught up' if caught_up else 'not delivered, tried again next time'}")
            if not all(results.values()):
                sys.exit(NOT_DELIVERED_EXIT)
            return

        def stop(signum: int, _frame: FrameType | None) -> None:
            log.info("deliver: %s, finishing the batches in hand", signal.Signals(signum).name)
            deliverer.stop_event.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        log.info(
            "deliver: %d sinks (%s)%s",
            len(sinks),
            ", ".join(sink.name for sink in sinks),
            ", one active replica per sink (Redis lease)" if client is not None else "",
        )
        deliverer.start()
        while not deliverer.stop_event.is_set():
            beat()
            deliverer.stop_event.wait(min(5.0, deliverer.options.poll * 5))
        deliverer.stop(timeout=STOP_GRACE_SECONDS)
        log.info("deliver: stopped")
    finally:
        store.close()
        if client is not None:
            client.close()


@click.group()
def sinks() -> None:
    """The sinks of the sources file: their delivery state, dead letters, replays."""


@sinks.command("status")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="The sources file.")
@click.option("--format", "fmt", type=click.Choice(("table", "json")), default="table", show_default=True)
def sinks_status(config_path: Path | None, fmt: str) -> None:
    """Each sink's lag (seqs and seconds behind), last success, failures by class, dead letters."""
    settings = command_settings(config_path)
    configured = _sinks(settings)
    from newsdedup.delivery.status import sink_statuses  # deferred, as above
    from newsdedup.pipeline.services import open_store

    store = open_store(settings)
    try:
        items = sink_statuses(store, configured)
    finally:
        store.close()
    if fmt == "json":
        click.echo(json.dumps({"items": items}, indent=2))
        return
    click.echo(render_status(items, datetime.now(UTC)))


def render_status(items: list[dict[str, Any]], now: datetime) -> str:
    header = ("SINK", "KIND", "CURSOR", "LAG SEQS", "LAG", "LAST SUCCESS", "DELIVERED", "FAILURES", "DEAD")
    rows = [header]
    for item in items:
        failures = ", ".join(f"{cls} {n}" for cls, n in sorted(item["failures"].items())) or "-"
        rows.append(
            (
                item["sink"] + ("" if item["configured"] else " (not configured)"),
                item["kind"] or "-",
                str(item["cursor"]),
                str(item["lag_seqs"]),
                f"{item['lag_seconds']:.0f}s",
                ago(item["last_success_at"], now),
                str(item["delivered"]),
                failures,
                str(item["dead_letters"]),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    notes = [
        f"{item['sink']}: last failure {ago(item['last_failure_at'], now)}: {item['last_failure']}"
        for item in items
        if item["last_failure"]
    ]
    return "\n".join(lines + ([""] + notes if notes else []))


@sinks.command("dead-letters")
@click.argument("name")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="The sources file.")
@click.option("--format", "fmt", type=click.Choice(("table", "json")), default="table", show_default=True)
def dead_letters(name: str, config_path: Path | None, fmt: str) -> None:
    """The records sink NAME refused for good, with why."""
    settings = command_settings(config_path)
    _sinks(settings, [name])
    from newsdedup.pipeline.services import open_store  # deferred, as above
    from newsdedup.store.sink_state import SinkStates

    store = open_store(settings)
    try:
        letters = SinkStates(store.db).dead_letters(name)
    finally:
        store.close()
    items = [
        {"seq": d.seq, "id": d.article_id, "version": d.version, "at": d.at.isoformat(), "reason": d.reason}
        for d in letters
    ]
    if fmt == "json":
        click.echo(json.dumps({"items": items}, indent=2))
        return
    click.echo(f"{name}: {len(items)} dead letters")
    for item in items:
        click.echo(
            f"  seq {item['seq']:<8} {item['id']} v{item['version']:<3} {item['at']}  {item['reason']}"
        )


@sinks.command("replay")
@click.argument("name")
@click.option(
    "--from",
    "from_seq",
    type=click.IntRange(min=1),
    default=None,
    help="Send the feed again from this seq on (1: everything, to rebuild a consumer).",
)
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="The sources file.")
def replay(name: str, from_seq: int | None, config_path: Path | None) -> None:
    """Without --from: send sink NAME's dead letters again, now. With --from SEQ: set its
    cursor back, so delivery sends every record from SEQ on again."""
    settings = command_settings(config_path)
    (sink,) = _sinks(settings, [name])
    from newsdedup.delivery.replay import replay_dead_letters  # deferred, as above
    from newsdedup.pipeline.services import open_store
    from newsdedup.store.sink_state import SinkStates

    store = open_store(settings)
    try:
        states = SinkStates(store.db)
        if from_seq is not None:
            states.set_cursor(name, from_seq - 1)
            states.drop_dead_letters(d.id for d in states.dead_letters(name, from_seq))
            click.echo(
                f"{name}: cursor set to {from_seq - 1}: `newsdedup deliver` (or the next crawl, embedded) "
                f"sends every record from seq {from_seq} on again"
            )
            return
        summary = replay_dead_letters(settings, store, sink)
    finally:
        store.close()
    click.echo(f"{name}: {summary.line()}")
    if summary.not_sent:
        sys.exit(NOT_DELIVERED_EXIT)
