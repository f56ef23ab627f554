"""Delivery under faults: RabbitMQ and NATS cut by a TCP relay the test owns, ``newsdedup
deliver`` SIGKILLed mid-batch and started again, a replica killed while it holds the sinks'
lease. Each case ends with every (id, version) of the feed received at least once, counted
by the test's own receiver."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
from delivery_helpers import SECRET, add_articles, cli_env, feed_keys, receiver, wait_until, write_config
from faultkit import FaultRelay
from test_delivery import AMQP_URL, NATS_URL, drain, read_stream

from newsdedup.config import Settings, load_sinks
from newsdedup.delivery.lease import KEY_PREFIX
from newsdedup.delivery.runner import Deliverer, DeliveryOptions
from newsdedup.store import Store
from newsdedup.store.sink_state import SinkStates

FAST = DeliveryOptions(batch=10, poll=0.05, backoff=0.05, backoff_max=0.3)


@pytest.fixture
def store(sqlite_url: str) -> Iterator[Store]:
    store = Store.open(sqlite_url)
    add_articles(store, 60)
    yield store
    store.close()


def failures(store: Store, sink: str) -> int:
    return sum(SinkStates(store.db).rows()[sink]["failures"].values())


def run_through_cuts(store: Store, config: Path, relay: FaultRelay, sink: str) -> Deliverer:
    """Cut before the first connection, restore, let it deliver; cut an open connection, give
    it new records, restore: each cut is met for sure, whatever the machine's speed."""
    relay.cut()
    running = Deliverer(
        Settings(database_url=store.db.url, config=config), store, load_sinks(config), options=FAST
    )
    running.start()
    wait_until(lambda: failures(store, sink) >= 1, what="a failure while cut")
    relay.restore()
    wait_until(lambda: SinkStates(store.db).cursor(sink) == store.feed_reader.last_seq(), what="caught up")
    relay.cut()  # resets the sender's open connection
    add_articles(store, 60, first=500)
    wait_until(lambda: failures(store, sink) >= 2, what="a failure on the reset connection")
    relay.restore()
    wait_until(
        lambda: SinkStates(store.db).cursor(sink) == store.feed_reader.last_seq(), what="caught up again"
    )
    running.stop()
    return running


def test_rabbitmq_cut_by_a_relay_loses_nothing(store: Store, tmp_path: Path) -> None:
    from kombu import Connection, Exchange, Queue

    relay = FaultRelay("127.0.0.1", 5672)
    name = f"newsdedup-fault-{uuid.uuid4().hex[:8]}"
    exchange = Exchange(name, type="topic", durable=True)
    queue = Queue(name, exchange, routing_key="#", durable=True)
    with Connection(AMQP_URL) as connection:
        exchange(connection.default_channel).declare()
        queue(connection.default_channel).declare()
        try:
            config = write_config(
                tmp_path / "s.yaml",
                [{"name": "bus", "kind": "amqp", "url": relay.url_for(AMQP_URL, 5672), "exchange": name}],
            )
            run_through_cuts(store, config, relay, "bus")
            received = {
                (r["id"], r["version"]) for r in (json.loads(m.body) for m in drain(connection, queue))
            }
            assert received == feed_keys(store)
            assert len(received) == 120
        finally:
            queue(connection.default_channel).delete()
            exchange(connection.default_channel).delete()
            relay.close()


def test_nats_cut_by_a_relay_loses_nothing(store: Store, tmp_path: Path) -> None:
    import nats

    name = f"NEWSDEDUPFAULT{uuid.uuid4().hex[:8].upper()}"
    subject = f"newsdedup.fault.{name.lower()}"

    async def stream(create: bool) -> None:
        nc = await nats.connect(NATS_URL)
        if create:
            await nc.jetstream().add_stream(name=name, subjects=[subject])
        else:
            await nc.jetstream().delete_stream(name)
        await nc.close()

    try:
        asyncio.run(stream(True))
    except Exception as exc:  # noqa: BLE001 - no NATS here
        pytest.skip(f"NATS JetStream at {NATS_URL}: {exc}")
    relay = FaultRelay("127.0.0.1", 4222)
    try:
        config = write_config(
            tmp_path / "s.yaml",
            [{"name": "js", "kind": "nats", "url": relay.url_for(NATS_URL, 4222), "subject": subject}],
        )
        run_through_cuts(store, config, relay, "js")
        received = {(r["id"], r["version"]) for r in (json.loads(m.data) for m in read_stream(name, subject))}
        assert received == feed_keys(store)
    finally:
        relay.close()
        asyncio.run(stream(False))


def start_deliver(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "newsdedup", "deliver"],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def webhook_config(tmp_path: Path, url: str) -> Path:
    return write_config(
        tmp_path / "s.yaml",
        [{"name": "hook", "kind": "webhook", "url": url, "secret": SECRET, "allow_private_addresses": True}],
    )


def settled_count(hook: Any) -> int:
    """The receiver's request count once it has not changed for half a second."""
    import time

    count = len(hook.requests)
    while True:
        time.sleep(0.5)
        if len(hook.requests) == count:
            return count
        count = len(hook.requests)


def test_deliver_sigkilled_mid_batch_then_restarted_leaves_no_gap(store: Store, tmp_path: Path) -> None:
    add_articles(store, 140, first=1000)
    with receiver(lambda n: "slow") as hook:
        env = cli_env(store.db.url, webhook_config(tmp_path, hook.url), NEWSDEDUP_DELIVERY_BATCH="50")
        log = tmp_path / "deliver.log"
        first = start_deliver(env, log)
        try:
            wait_until(lambda: len(hook.requests) >= 70, what="the second batch under way")
        finally:
            first.kill()
            first.wait()
        at_kill = SinkStates(store.db).cursor("hook")
        # A request the killed process had on the wire may still reach the receiver's thread:
        # count once nothing more arrives.
        received_at_kill = settled_count(hook)
        assert (
            at_kill < received_at_kill < 200
        )  # killed mid-batch: the receiver had more than the cursor says
        second = start_deliver(env, log)
        try:
            wait_until(lambda: set(hook.keys()) >= feed_keys(store), timeout=120, what="every record")
            wait_until(
                lambda: SinkStates(store.db).cursor("hook") == store.feed_reader.last_seq(), what="cursor"
            )
        finally:
            second.send_signal(signal.SIGTERM)
            code = second.wait(60)
        assert code == 0, log.read_text()
        assert "deliver: stopped" in log.read_text()
        assert set(hook.keys()) == feed_keys(store)
        # At least once: what the killed batch had sent before the kill came again, nothing else.
        assert sum(hook.keys().values()) - len(feed_keys(store)) <= received_at_kill - at_kill


def lease_holder_pid(client: redis.Redis) -> int | None:
    value = client.get(KEY_PREFIX + "hook")
    return int(value.decode().split(":")[1]) if value else None


def test_one_replica_per_sink_and_a_takeover_when_it_dies(
    store: Store, tmp_path: Path, redis_url: str
) -> None:
    add_articles(store, 240, first=2000)
    client = redis.Redis.from_url(redis_url)
    with receiver(lambda n: "slow") as hook:
        env = cli_env(
            store.db.url,
            webhook_config(tmp_path, hook.url),
            NEWSDEDUP_REDIS_URL=redis_url,
            NEWSDEDUP_DELIVERY_LEASE_SECONDS="2",
            NEWSDEDUP_DELIVERY_BATCH="20",
        )
        replicas = {p.pid: p for p in (start_deliver(env, tmp_path / f"r{n}.log") for n in range(2))}
        try:
            wait_until(
                lambda: lease_holder_pid(client) in replicas and len(hook.requests) > 20, what="a holder"
            )
            holder = lease_holder_pid(client)
            assert holder is not None
            replicas[holder].kill()
            replicas[holder].wait()
            (survivor,) = set(replicas) - {holder}
            wait_until(lambda: lease_holder_pid(client) == survivor, timeout=30, what="the takeover")
            wait_until(lambda: set(hook.keys()) >= feed_keys(store), timeout=120, what="every record")
        finally:
            for process in replicas.values():
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
                    process.wait(60)
        assert set(hook.keys()) == feed_keys(store)
        # A clean stop gives the lease back.
        assert client.get(KEY_PREFIX + "hook") is None


_ = (os, Any)


def test_faults_while_a_crawl_runs_lose_nothing(tmp_path: Path, redis_url: str) -> None:
    """An embedded crawl writes while ``newsdedup deliver`` pushes to a webhook that answers 500
    or closes mid-request now and then, and to a Redis stream cut off until the crawl is half
    way (the crawl's own delivery after it races the running one): every change arrives."""
    import yaml
    from faultkit import slow_sites, write_sources

    from newsdedup.siteserver import serve_sites

    slow_sites(tmp_path / "sites", stories=40, copies=20, delay=0.05)
    servers = serve_sites(tmp_path / "sites")
    redis_port = urlsplit(redis_url).port or 6379
    relay = FaultRelay("127.0.0.1", redis_port)
    stream_url = relay.url_for(redis_url, redis_port)
    script = lambda n: "500" if n % 7 == 0 else "close" if n % 11 == 0 else "ok"  # noqa: E731
    try:
        with receiver(script) as hook:
            config = write_sources({n: s.url("") for n, s in servers.items()}, tmp_path / "sources.yaml")
            document = yaml.safe_load(config.read_text())
            document["sinks"] = [
                {
                    "name": "hook",
                    "kind": "webhook",
                    "url": hook.url,
                    "secret": SECRET,
                    "allow_private_addresses": True,
                },
                {"name": "stream", "kind": "redis-stream", "url": stream_url, "stream": "feed"},
            ]
            config.write_text(yaml.safe_dump(document))
            database_url = f"sqlite:///{tmp_path / 'store.db'}"
            env = cli_env(
                database_url,
                config,
                NEWSDEDUP_ALLOW_PRIVATE_ADDRESSES="1",
                NEWSDEDUP_ARCHIVE="0",
                NEWSDEDUP_AUTOTHROTTLE="0",
                NEWSDEDUP_EXTRACT_PROCESSES="1",
                NEWSDEDUP_DELIVERY_BATCH="5",
            )
            store = Store.open(database_url)
            relay.cut()
            deliver = start_deliver(env, tmp_path / "deliver.log")
            crawl = subprocess.Popen(
                [sys.executable, "-m", "newsdedup", "crawl"], env=env, stdout=subprocess.PIPE, text=True
            )
            try:
                wait_until(
                    lambda: len(hook.requests) >= 10 or crawl.poll() is not None, what="records mid-crawl"
                )
                relay.restore()
                assert crawl.wait(300) == 0
                wait_until(
                    lambda: all(
                        SinkStates(store.db).cursor(name) == store.feed_reader.last_seq()
                        for name in ("hook", "stream")
                    ),
                    timeout=120,
                    what="both sinks caught up",
                )
            finally:
                deliver.send_signal(signal.SIGTERM)
                deliver.wait(60)
            stream = redis.Redis.from_url(redis_url)
            in_stream = {
                (r["id"], r["version"]) for r in (json.loads(f[b"record"]) for _, f in stream.xrange("feed"))
            }
            assert len(feed_keys(store)) == 40  # 40 stories; the 20 copies are duplicates
            assert set(hook.keys()) == feed_keys(store)
            assert in_stream == feed_keys(store)
            rows = SinkStates(store.db).rows()
            assert rows["stream"]["failures"].get("connection", 0) >= 1  # the cut was met
            assert rows["hook"]["failures"].get("http_5xx", 0) >= 1
            store.close()
    finally:
        relay.close()
        for server in servers.values():
            server.stop()
