"""Delivery to sinks: messages per second per kind from a store of 100,000 feed records, and
how far behind a sink falls while a crawl writes (README, "Delivery to downstream systems").

    python -m bench.delivery                 # 100,000 records, every kind, then the lag during a crawl
    python -m bench.delivery --records 10000 --kinds files,redis-stream --no-crawl

Each kind delivers the whole store from cursor 0 (``Deliverer.catch_up``, batches of 500) to
the real thing on this machine: a webhook receiver in a process of its own (asyncio, answers
204 at once, so the sender's per-message cost is what is measured), RabbitMQ (a durable queue
bound to the exchange), NATS JetStream (a stream of its own), Redis (a stream key of its own)
and a folder. The baseline in the same run is reading the feed alone (``FeedReader.feed`` in
pages of 500): no sink can go faster than that. CPU seconds per 1,000 messages are the
delivering process's own (``time.process_time``). Timings on a shared machine are noisy:
the table says when it ran and on how many cores.

The lag during a crawl: an embedded ``newsdedup crawl`` of 5 loopback sites (300 stories and
200 syndicated copies, faultkit's web) with ``newsdedup deliver`` running beside it to a
webhook and a files sink; the sinks' lag (seqs and seconds behind the feed) is sampled every
0.2 s from the store, as ``newsdedup sinks status`` shows it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from bench.common import REPO, print_table, write_results
from bench.feed_api import fill
from newsdedup.config import Settings, load_sinks
from newsdedup.delivery.runner import Deliverer, DeliveryOptions
from newsdedup.store import Store
from newsdedup.store.sink_state import SinkStates

KINDS = ("webhook", "amqp", "nats", "redis-stream", "files")
AMQP_URL = os.environ.get("BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
NATS_URL = os.environ.get("BENCH_NATS_URL", "nats://127.0.0.1:4222")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
SECRET = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="

# A receiver that answers 204 to every POST as fast as asyncio can: the sender is measured.
RECEIVER = textwrap.dedent(
    """
    import asyncio, sys

    class Hook(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport, self.buffer = transport, b""
        def data_received(self, data):
            self.buffer += data
            while True:
                head, sep, rest = self.buffer.partition(b"\\r\\n\\r\\n")
                if not sep:
                    return
                length = 0
                for line in head.split(b"\\r\\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                if len(rest) < length:
                    return
                self.buffer = rest[length:]
                self.transport.write(b"HTTP/1.1 204 No Content\\r\\nContent-Length: 0\\r\\n\\r\\n")

    async def main():
        server = await asyncio.get_running_loop().create_server(Hook, "127.0.0.1", 0)
        print(server.sockets[0].getsockname()[1], flush=True)
        await server.serve_forever()

    asyncio.run(main())
    """
)


def start_receiver() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen([sys.executable, "-c", RECEIVER], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    port = int(process.stdout.readline())
    return process, f"http://127.0.0.1:{port}/hook"


def prepare(kind: str, name: str, hook_url: str, folder: Path) -> tuple[dict[str, Any], Any]:
    """The sink's entry, and a function that tears down what was made for it."""
    if kind == "webhook":
        entry = {"url": hook_url, "secret": SECRET, "allow_private_addresses": True}
        return entry, lambda: None
    if kind == "amqp":
        from kombu import Connection, Exchange, Queue

        exchange = Exchange(name, type="topic", durable=True)
        queue = Queue(name, exchange, routing_key="#", durable=True)
        with Connection(AMQP_URL) as connection:
            exchange(connection.default_channel).declare()
            queue(connection.default_channel).declare()

        def drop_amqp() -> None:
            with Connection(AMQP_URL) as connection:
                queue(connection.default_channel).delete()
                exchange(connection.default_channel).delete()

        return {"url": AMQP_URL, "exchange": name}, drop_amqp
    if kind == "nats":
        import nats

        stream = name.upper().replace("-", "")

        async def streams(create: bool) -> None:
            nc = await nats.connect(NATS_URL)
            js = nc.jetstream()
            if create:
                await js.add_stream(name=stream, subjects=[f"bench.{stream}"])
            else:
                await js.delete_stream(stream)
            await nc.close()

        asyncio.run(streams(True))
        return {"url": NATS_URL, "subject": f"bench.{stream}"}, lambda: asyncio.run(streams(False))
    if kind == "redis-stream":
        import redis

        def drop_stream() -> None:
            redis.Redis.from_url(REDIS_URL).delete(name)

        return {"url": REDIS_URL, "stream": name, "maxlen": 1_000_000}, drop_stream
    if kind == "files":
        return {"directory": str(folder / "files")}, lambda: None
    raise ValueError(kind)


def read_baseline(store: Store) -> float:
    start = time.perf_counter()
    cursor = 0
    while page := store.feed_reader.feed(after=cursor, limit=500):
        cursor = page[-1]["seq"]
    return time.perf_counter() - start


def bench_kind(store: Store, kind: str, hook_url: str, folder: Path, records: int) -> dict[str, Any]:
    name = f"bench-{kind}-{uuid.uuid4().hex[:6]}"
    try:
        entry, teardown = prepare(kind, name, hook_url, folder)
    except Exception as exc:  # noqa: BLE001 - a kind whose server is not here is reported, not fatal
        return {"kind": kind, "skipped": f"{type(exc).__name__}: {exc}"}
    config = folder / f"{name}.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "sources": [{"name": "wire", "feeds": ["https://wire.example/feed.xml"]}],
                "sinks": [{"name": name, "kind": kind, **entry}],
            }
        )
    )
    try:
        deliverer = Deliverer(
            Settings(database_url=store.db.url, config=config),
            store,
            load_sinks(config),
            options=DeliveryOptions(batch=500),
        )
        wall, cpu = time.perf_counter(), time.process_time()
        result = deliverer.catch_up()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        delivered = SinkStates(store.db).rows()[name]["delivered"]
    finally:
        teardown()
    return {
        "kind": kind,
        "caught_up": result.get(name, False),
        "delivered": delivered,
        "seconds": round(wall, 2),
        "messages_per_second": round(delivered / wall, 1) if wall else None,
        "cpu_ms_per_1000": round(cpu * 1000 / max(delivered, 1) * 1000, 1),
        "records": records,
    }


def lag_during_crawl(folder: Path) -> dict[str, Any]:
    sys.path.insert(0, str(REPO / "tests"))
    from faultkit import build_sites, write_sources

    from newsdedup.siteserver import serve_sites

    build_sites(folder / "sites", sites=5, stories=300, copies=200)
    servers = serve_sites(folder / "sites")
    receiver, hook_url = start_receiver()
    try:
        config = write_sources(
            {name: server.url("") for name, server in servers.items()}, folder / "crawl.yaml"
        )
        document = yaml.safe_load(config.read_text())
        document["sinks"] = [
            {
                "name": "hook",
                "kind": "webhook",
                "url": hook_url,
                "secret": SECRET,
                "allow_private_addresses": True,
            },
            {"name": "lake", "kind": "files", "directory": str(folder / "lake")},
        ]
        config.write_text(yaml.safe_dump(document))
        database_url = f"sqlite:///{folder / 'crawl.db'}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSDEDUP_")}
        env.update(
            NEWSDEDUP_DATABASE_URL=database_url,
            NEWSDEDUP_CONFIG=str(config),
            NEWSDEDUP_ALLOW_PRIVATE_ADDRESSES="1",
            NEWSDEDUP_ARCHIVE="0",
            NEWSDEDUP_AUTOTHROTTLE="0",
            NEWSDEDUP_DELIVERY_POLL="0.2",
        )
        Store.open(database_url).close()  # the schema, before deliver reads it
        deliver = subprocess.Popen(
            [sys.executable, "-m", "newsdedup", "deliver"], env=env, stderr=subprocess.DEVNULL
        )
        store = Store.open(database_url)
        samples: dict[str, list[tuple[float, int]]] = {"hook": [], "lake": []}
        try:
            crawl = subprocess.Popen(
                [sys.executable, "-m", "newsdedup", "crawl"], env=env, stdout=subprocess.PIPE, text=True
            )
            started = time.perf_counter()
            while crawl.poll() is None:
                now = datetime.now(UTC)
                last = store.feed_reader.last_seq()
                for name, row in SinkStates(store.db).rows().items():
                    oldest = row["oldest_pending_at"]
                    samples[name].append(
                        ((now - oldest).total_seconds() if oldest else 0.0, last - row["seq"])
                    )
                time.sleep(0.2)
            crawl_seconds = time.perf_counter() - started
            summary = (crawl.stdout.read() if crawl.stdout else "").strip()
        finally:
            deliver.terminate()
            deliver.wait(60)
            store.close()
    finally:
        receiver.kill()
        for server in servers.values():
            server.stop()
    lags: dict[str, Any] = {"crawl": summary, "crawl_seconds": round(crawl_seconds, 1)}
    for name, values in samples.items():
        seconds = [s for s, _ in values] or [0.0]
        seqs = [n for _, n in values] or [0]
        lags[name] = {
            "samples": len(values),
            "lag_seconds_median": round(statistics.median(seconds), 2),
            "lag_seconds_max": round(max(seconds), 2),
            "lag_seqs_median": statistics.median(seqs),
            "lag_seqs_max": max(seqs),
        }
    return lags


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--no-crawl", action="store_true", help="Skip the lag during a crawl.")
    args = parser.parse_args()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        store = Store.open(f"sqlite:///{folder / 'bench.db'}")
        fill(store, args.records)
        baseline = read_baseline(store)
        receiver, hook_url = start_receiver()
        try:
            rows = [
                bench_kind(store, kind, hook_url, folder, args.records)
                for kind in args.kinds.split(",")
                if kind
            ]
        finally:
            receiver.kill()
            store.close()
        lag = None if args.no_crawl else lag_during_crawl(folder / "crawl")
    print(
        f"\nDelivery, {args.records:,} records (SQLite store), {datetime.now(UTC):%Y-%m-%d}, commit {commit}, "
        f"{os.cpu_count()} cores ({platform.machine()}), shared machine: timings are indicative"
    )
    print_table(
        ("kind", "messages/s", "seconds", "CPU ms / 1,000", "delivered", "caught up"),
        [
            (
                r["kind"],
                r.get("messages_per_second"),
                r.get("seconds"),
                r.get("cpu_ms_per_1000"),
                r.get("delivered"),
                r.get("caught_up", r.get("skipped")),
            )
            for r in rows
        ],
    )
    print(f"baseline, reading the feed alone: {args.records / baseline:,.0f} records/s")
    if lag is not None:
        print(f"\nLag during an embedded crawl ({lag['crawl']}; {lag['crawl_seconds']} s):")
        print_table(
            ("sink", "samples", "lag s median", "lag s max", "lag seqs median", "lag seqs max"),
            [
                (
                    name,
                    v["samples"],
                    v["lag_seconds_median"],
                    v["lag_seconds_max"],
                    v["lag_seqs_median"],
                    v["lag_seqs_max"],
                )
                for name, v in lag.items()
                if isinstance(v, dict)
            ],
        )
    write_results(
        "delivery",
        {
            "date": f"{datetime.now(UTC):%Y-%m-%d}",
            "commit": commit,
            "cores": os.cpu_count(),
            "records": args.records,
            "kinds": rows,
            "baseline_feed_read_records_per_second": round(args.records / baseline, 1),
            "lag_during_crawl": lag,
        },
    )


if __name__ == "__main__":
    main()
