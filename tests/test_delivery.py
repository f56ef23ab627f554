"""Delivery to each kind of sink, against the real thing on this machine: a webhook receiver
of our own (signatures checked by the ``standardwebhooks`` package), RabbitMQ, NATS
JetStream, Redis Streams and files; what a receiver that fails does to a sink and to the
others; dead letters, replays, and what operators see."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import standardwebhooks
from delivery_helpers import (
    SECRET,
    add_articles,
    cli_env,
    feed_keys,
    newsdedup_cli,
    receiver,
    revise,
    wait_until,
    write_config,
)
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from newsdedup.config import Settings, load_sinks
from newsdedup.delivery.files import FilesSender
from newsdedup.delivery.runner import Deliverer, DeliveryOptions
from newsdedup.delivery.status import sink_statuses
from newsdedup.store import Store
from newsdedup.store.sink_state import SinkStates

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672//"
NATS_URL = "nats://127.0.0.1:4222"
FAST = DeliveryOptions(batch=7, poll=0.05, backoff=0.05, backoff_max=0.5, lease_seconds=2)


@pytest.fixture
def store(sqlite_url: str) -> Iterator[Store]:
    store = Store.open(sqlite_url)
    add_articles(store, 30)
    add_articles(store, 10, first=100, source="daily", language="de")
    revise(store, 3)  # article 3 at version 2
    yield store
    store.close()


def deliverer(store: Store, config: Path, options: DeliveryOptions = FAST, **settings: Any) -> Deliverer:
    return Deliverer(
        Settings(database_url=store.db.url, config=config, **settings),
        store,
        load_sinks(config),
        options=options,
    )


def webhook(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": "hook",
        "kind": "webhook",
        "url": url,
        "secret": SECRET,
        "allow_private_addresses": True,
        **extra,
    }


# --- webhooks -------------------------------------------------------------------------------


def test_webhooks_are_signed_per_the_standard_and_arrive_in_seq_order(store: Store, tmp_path: Path) -> None:
    with receiver() as hook:
        config = write_config(tmp_path / "sources.yaml", [webhook(hook.url)])
        assert deliverer(store, config).catch_up() == {"hook": True}
        verifier = standardwebhooks.Webhook(SECRET)
        seqs = []
        for headers, body in hook.requests:
            record = verifier.verify(body, headers)  # raises unless the signature is right
            assert headers["webhook-id"] == f"{record['id']}:{record['version']}:{record['seq']}"
            assert headers["content-type"] == "application/json"
            seqs.append(record["seq"])
        assert seqs == sorted(seqs)
        assert set(hook.keys()) == feed_keys(store)
        # A tampered body or another secret does not verify.
        headers, body = hook.requests[0]
        with pytest.raises(standardwebhooks.WebhookVerificationError):
            verifier.verify(body.replace(b'"version":1', b'"version":9'), headers)


def test_a_receiver_that_fails_hangs_or_closes_gets_everything_in_the_end(
    store: Store, tmp_path: Path
) -> None:
    # 500 three times, then hangs, closes mid-request, asks to wait (429): each a retry.
    script = {1: "500", 2: "500", 3: "500", 6: "hang", 9: "close", 12: "429", 15: "500"}
    with receiver(lambda n: script.get(n, "ok")) as hook:
        config = write_config(tmp_path / "sources.yaml", [webhook(hook.url, timeout=1)])
        running = deliverer(store, config)
        running.start()
        try:
            wait_until(lambda: set(hook.keys()) >= feed_keys(store), what="every record at the receiver")
        finally:
            running.stop()
        assert set(hook.keys()) == feed_keys(store)
        (item,) = sink_statuses(store, load_sinks(config))
        assert item["failures"]["http_5xx"] == 4
        assert item["failures"]["timeout"] == 1
        assert item["failures"]["connection"] == 1
        assert item["failures"]["http_429"] == 1
        assert item["dead_letters"] == 0 and item["lag_seqs"] == 0


def test_a_4xx_is_a_dead_letter_listed_and_replayed(store: Store, tmp_path: Path) -> None:
    with receiver(lambda n: "404" if n <= 2 else "ok") as hook:
        config = write_config(tmp_path / "sources.yaml", [webhook(hook.url)])
        assert deliverer(store, config).catch_up() == {"hook": True}
        refused = SinkStates(store.db).dead_letters("hook")
        assert [d.reason for d in refused] == ["HTTP 404", "HTTP 404"]
        assert len(hook.requests) == len(feed_keys(store)) - 2  # the rest went on
        env = cli_env(store.db.url, config)
        listed = newsdedup_cli(env, "sinks", "dead-letters", "hook", "--format", "json")
        assert listed.returncode == 0, listed.stderr
        assert [(i["seq"], i["reason"]) for i in json.loads(listed.stdout)["items"]] == [
            (d.seq, "HTTP 404") for d in refused
        ]
        replayed = newsdedup_cli(env, "sinks", "replay", "hook")
        assert replayed.returncode == 0, replayed.stderr
        assert "2 dead letters sent" in replayed.stdout
        assert set(hook.keys()) == feed_keys(store)
        assert SinkStates(store.db).dead_letters("hook") == []


def test_webhooks_obey_the_crawlers_address_policy(store: Store, tmp_path: Path) -> None:
    with receiver() as hook:
        config = write_config(tmp_path / "sources.yaml", [webhook(hook.url, allow_private_addresses=False)])
        assert deliverer(store, config).catch_up() == {"hook": True}
        assert hook.requests == []
        refused = SinkStates(store.db).dead_letters("hook")
        assert len(refused) == len(feed_keys(store))
        assert refused[0].reason == "refused: 127.0.0.1 is a loopback address"
        # A name is checked on the address it resolves to.
        named = write_config(
            tmp_path / "named.yaml",
            [
                webhook(
                    hook.url.replace("127.0.0.1", "localhost"), allow_private_addresses=False, name="named"
                )
            ],
        )
        deliverer(store, named).catch_up()
        assert "localhost resolves to" in SinkStates(store.db).dead_letters("named")[0].reason
        # NEWSDEDUP_ALLOW_PRIVATE_ADDRESSES=1 lets every webhook reach loopback.
        other = write_config(
            tmp_path / "other.yaml", [webhook(hook.url, allow_private_addresses=False, name="other")]
        )
        assert deliverer(store, other, allow_private_addresses=True).catch_up() == {"other": True}
        assert set(hook.keys()) == feed_keys(store)


def test_a_failing_sink_holds_no_other_back(store: Store, tmp_path: Path) -> None:
    with receiver(lambda n: "hang") as hook:
        config = write_config(
            tmp_path / "sources.yaml",
            [webhook(hook.url, timeout=5), {"name": "lake", "kind": "files", "directory": "lake"}],
        )
        running = deliverer(store, config)
        running.start()
        try:
            wait_until(
                lambda: SinkStates(store.db).cursor("lake") == store.feed_reader.last_seq(), what="lake"
            )
            assert SinkStates(store.db).cursor("hook") == 0
        finally:
            running.stop()


# --- brokers, streams, files ---------------------------------------------------------------------


def test_amqp_persistent_confirmed_routed_by_source(store: Store, tmp_path: Path) -> None:
    from kombu import Connection, Exchange, Queue

    name = f"newsdedup-test-{uuid.uuid4().hex[:8]}"
    exchange = Exchange(name, type="topic", durable=True)
    with Connection(AMQP_URL) as connection:
        channel = connection.default_channel
        exchange(channel).declare()
        queues = {
            source: Queue(f"{name}-{source}", exchange, routing_key=source, durable=True)
            for source in ("wire", "daily")
        }
        for queue in queues.values():
            queue(channel).declare()
        try:
            config = write_config(
                tmp_path / "s.yaml", [{"name": "bus", "kind": "amqp", "url": AMQP_URL, "exchange": name}]
            )
            assert deliverer(store, config).catch_up() == {"bus": True}
            got: dict[str, list[Any]] = {}
            for source, queue in queues.items():
                got[source] = drain(connection, queue)
            records = [json.loads(m.body) for messages in got.values() for m in messages]
            assert {(r["id"], r["version"]) for r in records} == feed_keys(store)
            assert {r["source"] for r in (json.loads(m.body) for m in got["daily"])} == {"daily"}
            message = got["wire"][0]
            assert message.properties["delivery_mode"] == 2
            record = json.loads(message.body)
            assert message.properties["message_id"] == f"{record['id']}:{record['version']}:{record['seq']}"
        finally:
            for queue in queues.values():
                queue(channel).delete()
            exchange(channel).delete()


def drain(connection: Any, queue: Any) -> list[Any]:
    """Every message waiting in ``queue``, acknowledged."""
    messages = []
    with connection.SimpleQueue(queue) as simple:
        while True:
            try:
                message = simple.get(timeout=1)
            except simple.Empty:
                return messages
            messages.append(message)
            message.ack()


@pytest.fixture
def nats_stream() -> Iterator[tuple[str, str]]:
    import nats

    name = f"NEWSDEDUPTEST{uuid.uuid4().hex[:8].upper()}"
    subject = f"newsdedup.test.{name.lower()}"

    async def setup() -> None:
        nc = await nats.connect(NATS_URL)
        await nc.jetstream().add_stream(name=name, subjects=[subject])
        await nc.close()

    async def teardown() -> None:
        nc = await nats.connect(NATS_URL)
        await nc.jetstream().delete_stream(name)
        await nc.close()

    try:
        asyncio.run(setup())
    except Exception as exc:  # noqa: BLE001 - no NATS here
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(
                f"NATS JetStream at {NATS_URL}: {exc} (CI must have it: failing rather than skipping)"
            )
        pytest.skip(f"NATS JetStream at {NATS_URL}: {exc}")
    yield name, subject
    asyncio.run(teardown())


def read_stream(name: str, subject: str) -> list[Any]:
    import nats

    async def read() -> list[Any]:
        nc = await nats.connect(NATS_URL)
        js = nc.jetstream()
        info = await js.stream_info(name)
        messages = [
            await js.get_msg(name, seq) for seq in range(info.state.first_seq, info.state.last_seq + 1)
        ]
        await nc.close()
        return messages

    return asyncio.run(read())


def test_nats_jetstream_acknowledged_with_message_ids(
    store: Store, tmp_path: Path, nats_stream: tuple[str, str]
) -> None:
    name, subject = nats_stream
    config = write_config(
        tmp_path / "s.yaml", [{"name": "js", "kind": "nats", "url": NATS_URL, "subject": subject}]
    )
    assert deliverer(store, config).catch_up() == {"js": True}
    messages = read_stream(name, subject)
    records = [json.loads(m.data) for m in messages]
    assert {(r["id"], r["version"]) for r in records} == feed_keys(store)
    assert [r["seq"] for r in records] == sorted(r["seq"] for r in records)
    assert (
        messages[0].headers["Nats-Msg-Id"]
        == f"{records[0]['id']}:{records[0]['version']}:{records[0]['seq']}"
    )


def test_nats_without_a_stream_is_a_failure_not_a_success(store: Store, tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "s.yaml",
        [{"name": "js", "kind": "nats", "url": NATS_URL, "subject": f"nobody.{uuid.uuid4().hex}"}],
    )
    assert deliverer(store, config).catch_up() == {"js": False}
    (item,) = sink_statuses(store, load_sinks(config))
    assert item["cursor"] == 0 and item["failures"] == {"no_stream": 1}
    assert "no JetStream stream covers" in item["last_failure"]


def test_redis_stream_xadd_with_approximate_maxlen(store: Store, tmp_path: Path, redis_url: str) -> None:
    config = write_config(
        tmp_path / "s.yaml",
        [
            {"name": "rs", "kind": "redis-stream", "url": redis_url, "stream": "feed"},
            {"name": "short", "kind": "redis-stream", "url": redis_url, "stream": "short", "maxlen": 5},
        ],
    )
    add_articles(store, 300, first=1000)
    assert deliverer(store, config, DeliveryOptions(batch=500)).catch_up() == {"rs": True, "short": True}
    client = redis.Redis.from_url(redis_url)
    entries = client.xrange("feed")
    records = [json.loads(fields[b"record"]) for _, fields in entries]
    assert {(r["id"], r["version"]) for r in records} == feed_keys(store)
    first = entries[0][1]
    assert first[b"key"].decode() == f"{records[0]['id']}:{records[0]['version']}:{records[0]['seq']}"
    # Approximate trimming keeps at least maxlen, and far fewer than all of them.
    assert 5 <= client.xlen("short") < 340


def read_jsonl_gz(directory: Path) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for path in sorted(directory.glob("*.jsonl.gz"))
        for line in gzip.decompress(path.read_bytes()).splitlines()
    ]


def test_files_rotate_by_size_and_are_renamed_once_complete(store: Store, tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "s.yaml", [{"name": "lake", "kind": "files", "directory": "lake", "max_file_bytes": 300}]
    )
    assert deliverer(store, config).catch_up() == {"lake": True}
    files = sorted((tmp_path / "lake").iterdir())
    assert len(files) > 2
    assert not [f for f in files if f.name.endswith(".part")]
    assert all(f.name.startswith("lake-") and f.name.endswith(".jsonl.gz") for f in files)
    assert {(r["id"], r["version"]) for r in read_jsonl_gz(tmp_path / "lake")} == feed_keys(store)


def test_files_rotate_by_age_and_a_torn_part_file_keeps_what_was_confirmed(tmp_path: Path) -> None:
    (sink,) = load_sinks(
        write_config(
            tmp_path / "s.yaml",
            [{"name": "lake", "kind": "files", "directory": "lake", "max_file_seconds": 60}],
        )
    )
    now = [1000.0]
    sender = FilesSender(sink, clock=lambda: now[0])
    records = [{"seq": n, "id": f"a{n}", "version": 1} for n in range(1, 7)]
    sender.send(records[:3])
    sender.idle()
    assert [p.name for p in (tmp_path / "lake").iterdir()] == [".lake-000000000001.jsonl.gz.part"]
    now[0] += 61
    sender.idle()
    assert [p.name for p in (tmp_path / "lake").iterdir()] == ["lake-000000000001-000000000003.jsonl.gz"]
    # A process killed mid-batch: a complete member, then half of the next one.
    sender.send(records[3:5])
    part = next((tmp_path / "lake").glob(".*.part"))
    with part.open("ab") as handle:
        handle.write(gzip.compress(b'{"seq": 6}\n')[:15])
    recovered = FilesSender(sink)
    recovered.send(records[5:])
    recovered.close()
    assert [r["seq"] for r in read_jsonl_gz(tmp_path / "lake")] == [1, 2, 3, 4, 5, 6]
    assert sorted(p.name for p in (tmp_path / "lake").iterdir()) == [
        "lake-000000000001-000000000003.jsonl.gz",
        "lake-000000000004-000000000005.jsonl.gz",
        "lake-000000000006-000000000006.jsonl.gz",
    ]


# --- semantics -----------------------------------------------------------------------------------


def test_filters_and_replay_from_a_seq_rebuild_a_consumer(
    store: Store, tmp_path: Path, redis_url: str
) -> None:
    config = write_config(
        tmp_path / "s.yaml",
        [
            {"name": "rs", "kind": "redis-stream", "url": redis_url, "stream": "feed"},
            {
                "name": "german",
                "kind": "redis-stream",
                "url": redis_url,
                "stream": "de",
                "filter": {"languages": ["de"]},
            },
            {
                "name": "fresh",
                "kind": "redis-stream",
                "url": redis_url,
                "stream": "new",
                "filter": {"changes": "new"},
            },
        ],
    )
    env = cli_env(store.db.url, config)
    result = newsdedup_cli(env, "deliver", "--once")
    assert result.returncode == 0, result.stderr
    client = redis.Redis.from_url(redis_url)
    assert client.xlen("feed") == len(feed_keys(store)) == 40
    assert client.xlen("de") == 10
    assert client.xlen("new") == 39  # article 3 is at version 2
    # A consumer that lost everything: replay from seq 1 sends the whole feed again.
    client.delete("feed")
    replay = newsdedup_cli(env, "sinks", "replay", "rs", "--from", "1")
    assert replay.returncode == 0 and "cursor set to 0" in replay.stdout
    assert newsdedup_cli(env, "deliver", "--once", "--sink", "rs").returncode == 0
    records = [json.loads(f[b"record"]) for _, f in client.xrange("feed")]
    assert {(r["id"], r["version"]) for r in records} == feed_keys(store)
    # From a later seq: only what changed from there on.
    last = store.feed_reader.last_seq()
    client.delete("feed")
    assert newsdedup_cli(env, "sinks", "replay", "rs", "--from", str(last - 4)).returncode == 0
    assert newsdedup_cli(env, "deliver", "--once", "--sink", "rs").returncode == 0
    assert [json.loads(f[b"record"])["seq"] for _, f in client.xrange("feed")] == list(
        range(last - 4, last + 1)
    )


def test_a_cursor_moved_by_a_replay_is_not_overwritten(store: Store, tmp_path: Path) -> None:
    states = SinkStates(store.db)
    states.ensure(["x"])
    assert states.commit("x", 0, 10, 10)
    states.set_cursor("x", 2)  # a replay meanwhile
    assert not states.commit("x", 10, 20, 10)  # the slower deliverer's commit is dropped
    assert states.cursor("x") == 2


def test_operators_see_lag_failures_and_dead_letters(store: Store, tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "s.yaml",
        [
            {"name": "lake", "kind": "files", "directory": "lake"},
            {"name": "js", "kind": "nats", "url": NATS_URL, "subject": f"nobody.{uuid.uuid4().hex}"},
        ],
    )
    env = cli_env(store.db.url, config)
    once = newsdedup_cli(env, "deliver", "--once")
    assert once.returncode == 3 and "js: not delivered" in once.stdout
    status = json.loads(newsdedup_cli(env, "sinks", "status", "--format", "json").stdout)["items"]
    by_name = {item["sink"]: item for item in status}
    last = store.feed_reader.last_seq()
    assert by_name["lake"]["lag_seqs"] == 0 and by_name["lake"]["delivered"] == 40
    assert by_name["lake"]["last_success_at"]
    assert by_name["js"]["lag_seqs"] == last and by_name["js"]["lag_seconds"] > 0
    assert by_name["js"]["failures"] == {"no_stream": 1}
    table = newsdedup_cli(env, "sinks", "status").stdout
    assert "lake" in table and "no_stream 1" in table and "js: last failure" in table

    token = "sinks-token"
    from newsdedup.api import create_app

    with TestClient(create_app(Settings(database_url=store.db.url, config=config, api_token=token))) as api:
        assert api.get("/v1/sinks").status_code == 401
        items = api.get("/v1/sinks", headers={"Authorization": f"Bearer {token}"}).json()["items"]
        assert {i["sink"]: i["lag_seqs"] for i in items}["js"] == last
        samples = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(api.get("/metrics").text)
            for s in family.samples
        }
    assert samples[("newsdedup_sink_lag_seqs", (("sink", "js"),))] >= last
    assert samples[("newsdedup_sink_failures_total", (("class", "no_stream"), ("sink", "js")))] >= 1
    assert samples[("newsdedup_sink_delivered_total", (("sink", "lake"),))] == 40
    assert samples[("newsdedup_sink_dead_letters", (("sink", "lake"),))] == 0


def test_serve_delivers_in_embedded_mode(store: Store, tmp_path: Path) -> None:
    config = write_config(tmp_path / "s.yaml", [{"name": "lake", "kind": "files", "directory": "lake"}])
    from newsdedup.api import create_app

    with TestClient(create_app(Settings(database_url=store.db.url, config=config, delivery_poll=0.05))):
        wait_until(
            lambda: SinkStates(store.db).cursor("lake") == store.feed_reader.last_seq(), what="delivery"
        )
    # Stopping the app finished the file it was writing.
    assert {(r["id"], r["version"]) for r in read_jsonl_gz(tmp_path / "lake")} == feed_keys(store)


def test_the_lag_alert_and_panel_name_the_exported_sink_series() -> None:
    import re

    import yaml

    repo = Path(__file__).resolve().parents[1]
    rules = yaml.safe_load((repo / "deploy/prometheus/alerts.yml").read_text())
    exprs = {r["alert"]: r["expr"] for g in rules["groups"] for r in g["rules"]}
    assert "newsdedup_sink_lag_seconds" in exprs["NewsdedupSinkLagging"]
    dashboard = json.loads((repo / "deploy/grafana/newsdedup-dashboard.json").read_text())
    targets = " ".join(t["expr"] for p in dashboard["panels"] for t in p.get("targets", []))
    for name in (
        "newsdedup_sink_lag_seconds",
        "newsdedup_sink_failures_total",
        "newsdedup_sink_delivered_total",
    ):
        assert name in targets
    assert re.search(r"newsdedup_sink_\w+", targets)


def test_deliver_runs_in_compose_with_a_health_check() -> None:
    import yaml

    repo = Path(__file__).resolve().parents[1]
    service = yaml.safe_load((repo / "docker-compose.yml").read_text())["services"]["deliver"]
    assert service["command"] == ["newsdedup", "deliver"]
    assert service["healthcheck"]["test"] == ["CMD", "newsdedup", "healthcheck", "deliver"]
    for dependency in ("redis", "postgres"):
        assert service["depends_on"][dependency]["condition"] == "service_healthy"
    assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_healthcheck_deliver_follows_the_heartbeat(tmp_path: Path) -> None:
    from newsdedup.delivery import heartbeat
    from newsdedup.healthcheck import Unhealthy, check

    path = heartbeat.heartbeat_path()
    path.unlink(missing_ok=True)
    with pytest.raises(Unhealthy, match="no heartbeat"):
        check(Settings(), "deliver")
    heartbeat.beat()
    assert check(Settings(), "deliver") == "deliver heartbeat"
    path.unlink()


def test_an_embedded_crawl_delivers_what_it_stored(tmp_path: Path) -> None:
    import yaml
    from test_source_health import build_site

    from newsdedup.siteserver import serve_sites

    build_site(tmp_path / "sites" / "harbor", "harbor", stories=4, seed=3)
    servers = serve_sites(tmp_path / "sites")
    try:
        with receiver() as hook:
            config = tmp_path / "sources.yaml"
            config.write_text(
                yaml.safe_dump(
                    {
                        "sources": [{"name": "harbor", "feeds": [servers["harbor"].url("/feed.xml")]}],
                        "sinks": [webhook(hook.url), {"name": "lake", "kind": "files", "directory": "lake"}],
                    }
                )
            )
            database_url = f"sqlite:///{tmp_path / 'store.db'}"
            env = cli_env(
                database_url,
                config,
                NEWSDEDUP_ALLOW_PRIVATE_ADDRESSES="1",
                NEWSDEDUP_ARCHIVE="0",
                NEWSDEDUP_EXTRACT_PROCESSES="1",
            )
            crawled = newsdedup_cli(env, "crawl", timeout=300)
            assert crawled.returncode == 0, crawled.stderr
            assert "4 articles created" in crawled.stdout
            store = Store.open(database_url)
            try:
                assert len(feed_keys(store)) == 4
                assert set(hook.keys()) == feed_keys(store)
                assert {(r["id"], r["version"]) for r in read_jsonl_gz(tmp_path / "lake")} == feed_keys(store)
            finally:
                store.close()
    finally:
        for server in servers.values():
            server.stop()


def test_amqp_without_a_queue_for_the_routing_key_is_not_delivered(store: Store, tmp_path: Path) -> None:
    from kombu import Connection, Exchange

    name = f"newsdedup-test-{uuid.uuid4().hex[:8]}"
    config = write_config(
        tmp_path / "s.yaml", [{"name": "bus", "kind": "amqp", "url": AMQP_URL, "exchange": name}]
    )
    try:
        assert deliverer(store, config).catch_up() == {"bus": False}
        (item,) = sink_statuses(store, load_sinks(config))
        assert item["cursor"] == 0 and item["failures"] == {"unroutable": 1}
        assert "no queue bound for routing key" in item["last_failure"]
    finally:
        with Connection(AMQP_URL) as connection:
            Exchange(name, type="topic")(connection.default_channel).delete()


@pytest.mark.postgres
def test_delivery_on_postgresql_with_two_deliverers_racing(postgres_url: str, tmp_path: Path) -> None:
    """The store of distributed mode: two deliverers of one sink at once (a lease lost while a
    batch was in flight) leave no gap, whichever commits first."""
    store = Store.open(postgres_url)
    try:
        add_articles(store, 120)
        config = write_config(tmp_path / "s.yaml", [{"name": "lake", "kind": "files", "directory": "lake"}])
        sinks = load_sinks(config)
        settings = Settings(database_url=postgres_url, config=config)
        first = Deliverer(settings, store, sinks, options=DeliveryOptions(batch=7))
        second = Deliverer(settings, store, sinks, options=DeliveryOptions(batch=11))
        threads = [threading.Thread(target=d.catch_up) for d in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert SinkStates(store.db).cursor("lake") == store.feed_reader.last_seq()
        assert {(r["id"], r["version"]) for r in read_jsonl_gz(tmp_path / "lake")} == feed_keys(store)
    finally:
        store.close()
