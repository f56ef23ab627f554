"""Per-source health as an operator sees it: real crawls of loopback sites, one per state, read
through ``newsdedup status``, ``GET /v1/sources`` and ``/metrics``; the alert rules and the
dashboard only name series a running app exports."""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from faultkit import make_story, story_html
from helpers import newsdedup, newsdedup_env
from prometheus_client.parser import text_string_to_metric_families

from newsdedup.config import ConfigError, Settings, parse_sources
from newsdedup.crawler.reasons import failure_class
from newsdedup.siteserver import SiteServer, serve_sites

REPO = Path(__file__).resolve().parents[1]
TOKEN = "s3cret-operator-token"
# What each fixture site does to the bot, and the state its source must end in.
EXPECTED = {
    "healthy": "ok",
    "quiet": "stale",
    "walled": "blocked",
    "private": "robots-denied",
    "broken": "failing",
}


def build_site(folder: Path, name: str, stories: int, seed: int) -> None:
    rng = random.Random(seed)
    paths = []
    for n in range(stories):
        story = make_story(rng, seed * 100 + n)
        path = f"/news/{name}-{n}.html"
        (folder / path.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
        (folder / path.lstrip("/")).write_text(story_html(story, name), encoding="utf-8")
        paths.append(path)
    items = "".join(f"<item><title>{p}</title><link>{{{{base_url}}}}{p}</link></item>" for p in paths)
    (folder / "feed.xml").write_text(
        f"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>{name}</title>"
        f"<link>{{{{base_url}}}}/</link><description>{name}</description>{items}</channel></rss>",
        encoding="utf-8",
    )


def build_web(root: Path) -> None:
    for seed, name in enumerate(EXPECTED, start=1):
        build_site(root / name, name, stories=3, seed=seed)
    # Refuses the bot everything, robots.txt included (which then allows all).
    (root / "walled" / "_routes.json").write_text(json.dumps({"*": {"status": 403, "body": "Forbidden"}}))
    (root / "private" / "robots.txt").write_text("User-agent: *\nDisallow: /news/\n")
    (root / "broken" / "_routes.json").write_text(json.dumps({"/news/*": {"status": 500, "body": "oops"}}))


def write_sources(servers: dict[str, SiteServer], path: Path) -> Path:
    entries: list[dict[str, Any]] = []
    for name, server in servers.items():
        entry: dict[str, Any] = {"name": name, "feeds": [server.url("/feed.xml")]}
        if name == "quiet":
            entry["stale_after"] = "1s"
        entries.append(entry)
    # A sink, so that the per-sink series the delivery alert and panel name are exported too.
    sinks = [{"name": "lake", "kind": "files", "directory": "lake"}]
    path.write_text(yaml.safe_dump({"sources": entries, "sinks": sinks}), encoding="utf-8")
    return path


def status_items(env: dict[str, str]) -> dict[str, dict[str, Any]]:
    items = json.loads(newsdedup(env, "status", "--format", "json").stdout)["items"]
    return {item["source"]: item for item in items}


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, str], dict[str, SiteServer]]]:
    root = tmp_path_factory.mktemp("web")
    build_web(root / "sites")
    servers = serve_sites(root / "sites")
    try:
        env = newsdedup_env()
        env.update(
            NEWSDEDUP_DATABASE_URL=f"sqlite:///{root / 'store.db'}",
            NEWSDEDUP_ALLOW_PRIVATE_ADDRESSES="1",
            NEWSDEDUP_CONFIG=str(write_sources(servers, root / "sources.yaml")),
            NEWSDEDUP_RETRY_TIMES="0",
            NEWSDEDUP_ARCHIVE_DIR=str(root / "archive"),
        )
        yield env, servers
    finally:
        for server in servers.values():
            server.stop()


@pytest.fixture(scope="module")
def crawled(web: tuple[dict[str, str], dict[str, SiteServer]]) -> dict[str, str]:
    """Two crawls (the second finds nothing new), then more than the quiet source's 1s."""
    env, _servers = web
    newsdedup(env, "crawl")
    newsdedup(env, "crawl")
    time.sleep(1.5)  # past "quiet"'s stale_after of 1s (a wait for a state, no timing asserted)
    return env


def test_a_source_never_crawled_says_so(
    web: tuple[dict[str, str], dict[str, SiteServer]], tmp_path: Path
) -> None:
    env, _ = web
    fresh = {**env, "NEWSDEDUP_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"}
    items = status_items(fresh)
    assert sorted(items) == sorted(EXPECTED)
    assert {item["state"] for item in items.values()} == {"unknown"}
    assert items["healthy"]["why"] == "never crawled" and items["healthy"]["last_crawl"] is None
    assert "never" in newsdedup(fresh, "status").stdout


def test_status_names_each_sources_state_and_counts(crawled: dict[str, str]) -> None:
    items = status_items(crawled)
    assert {name: item["state"] for name, item in items.items()} == EXPECTED, {
        name: item["why"] for name, item in items.items()
    }
    healthy = items["healthy"]
    assert healthy["last_crawl"]["outcome"] == "finished"
    assert healthy["last_crawl"]["counts"]["not_modified"] == 3  # the second crawl: all 304
    assert healthy["last_24h"]["counts"]["created"] == 3
    assert healthy["last_24h"]["counts"]["fetched"] == 3
    assert healthy["last_article_at"] and healthy["last_success_at"] and healthy["last_page_stored_at"]
    assert healthy["stale_after_seconds"] == 3 * 3600  # three intervals of the default 1h schedule

    assert items["quiet"]["stale_after_seconds"] == 1
    assert "no new article" in items["quiet"]["why"]
    assert items["walled"]["last_crawl"]["failures"] == {"blocked": 1}  # its feed
    assert items["walled"]["last_success_at"] is None
    assert items["private"]["last_crawl"]["counts"]["robots_denied"] == 3
    assert items["broken"]["last_crawl"]["failures"] == {"http_5xx": 3}
    assert items["broken"]["last_24h"]["counts"]["failed"] == 6

    table = newsdedup(crawled, "status").stdout
    for name, state in EXPECTED.items():
        assert re.search(rf"^{name}\s+{re.escape(state)}\s", table, re.MULTILINE), table
    assert "walled: blocked: 1 of 1 requests refused to the bot; failures: blocked 1" in table


def test_a_source_dropped_from_the_sources_file_is_still_listed(
    crawled: dict[str, str], tmp_path: Path
) -> None:
    sources = yaml.safe_load(Path(crawled["NEWSDEDUP_CONFIG"]).read_text())
    sources["sources"] = [s for s in sources["sources"] if s["name"] != "broken"]
    smaller = tmp_path / "sources.yaml"
    smaller.write_text(yaml.safe_dump(sources))
    items = status_items({**crawled, "NEWSDEDUP_CONFIG": str(smaller)})
    assert items["broken"]["configured"] is False and items["broken"]["state"] == "failing"
    assert all(item["configured"] for name, item in items.items() if name != "broken")


@pytest.fixture(scope="module")
def api(crawled: dict[str, str]) -> Iterator[TestClient]:
    from newsdedup.api import create_app

    settings = Settings(
        database_url=crawled["NEWSDEDUP_DATABASE_URL"],
        config=Path(crawled["NEWSDEDUP_CONFIG"]),
        api_token=TOKEN,
    )
    with TestClient(create_app(settings)) as client:
        yield client


def test_v1_sources_needs_the_token_and_matches_status(api: TestClient, crawled: dict[str, str]) -> None:
    assert api.get("/v1/sources").status_code == 401
    assert api.get("/v1/sources", headers={"Authorization": "Bearer wrong"}).status_code == 401
    response = api.get("/v1/sources", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    items = {item["source"]: item for item in response.json()["items"]}
    assert {name: item["state"] for name, item in items.items()} == EXPECTED
    from_status = status_items(crawled)
    assert set(items["healthy"]) == set(from_status["healthy"])
    assert items["broken"]["last_24h"] == from_status["broken"]["last_24h"]


def test_metrics_per_source(api: TestClient) -> None:
    response = api.get("/metrics")
    assert response.status_code == 200
    found = samples(response.text)

    def value(name: str, **labels: str) -> float:
        return found[(name, tuple(sorted(labels.items())))]

    for name, state in EXPECTED.items():
        assert value("newsdedup_source_state", source=name, state=state) == 1
        assert value("newsdedup_source_state", source=name, state="unknown") == 0
    assert value("newsdedup_source_pages_total", source="healthy", outcome="created") == 3
    assert value("newsdedup_source_pages_total", source="healthy", outcome="not_modified") == 3
    assert value("newsdedup_source_pages_total", source="private", outcome="robots_denied") == 6
    assert value("newsdedup_source_failures_total", source="walled", reason="blocked") == 2
    assert value("newsdedup_source_failures_total", source="broken", reason="http_5xx") == 6
    assert value("newsdedup_source_last_success_timestamp_seconds", source="healthy") > time.time() - 600
    assert ("newsdedup_source_last_success_timestamp_seconds", (("source", "walled"),)) not in found
    for histogram in ("fetch", "extraction", "decision"):
        # 3 articles created then 3 unchanged-and-304: 3 decisions; every response was timed.
        assert value(f"newsdedup_{histogram}_duration_seconds_count") >= 3
        assert value(f"newsdedup_{histogram}_duration_seconds_bucket", le="+Inf") == value(
            f"newsdedup_{histogram}_duration_seconds_count"
        )
    assert any(name == "newsdedup_build_info" and value == 1 for (name, _), value in found.items())
    # The store-wide series are still there.
    assert value("newsdedup_articles") == 6  # healthy and quiet, 3 each
    assert value("newsdedup_store_up") == 1


# --- alert rules and dashboard ----------------------------------------------------------------

RULES = REPO / "deploy" / "prometheus" / "alerts.yml"
DASHBOARD = REPO / "deploy" / "grafana" / "newsdedup-dashboard.json"
METRIC_NAME = re.compile(r"\bnewsdedup_[a-z0-9_]+")
# Only in distributed mode (Redis answers): the API in this test runs embedded.
DISTRIBUTED_ONLY = {"newsdedup_queue_depth", "newsdedup_redis_up", "newsdedup_index_complete"}


def exported_names(text: str) -> set[str]:
    return {sample.name for family in text_string_to_metric_families(text) for sample in family.samples}


def test_the_alert_rules_are_a_valid_rule_file() -> None:
    document = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    assert set(document) == {"groups"}
    alerts = set()
    for group in document["groups"]:
        assert set(group) <= {"name", "interval", "rules"} and group["name"] and group["rules"]
        for rule in group["rules"]:
            assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule
            assert isinstance(rule["alert"], str) and isinstance(rule["expr"], str) and rule["expr"].strip()
            assert re.fullmatch(r"\d+[smhd]", rule.get("for", "0s")), rule
            assert rule["labels"]["severity"] in ("warning", "critical", "info")
            assert rule["annotations"]["summary"] and rule["annotations"]["description"]
            assert rule["expr"].count("(") == rule["expr"].count(")")
            alerts.add(rule["alert"])
    assert {"NewsdedupSourceStale", "NewsdedupSourceFailing", "NewsdedupSourceBlocked"} <= alerts
    assert "NewsdedupPagesQueueGrowing" in alerts


def test_rules_and_dashboard_name_only_exported_series(api: TestClient) -> None:
    exported = exported_names(api.get("/metrics").text) | DISTRIBUTED_ONLY
    rules = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    used = {
        name
        for group in rules["groups"]
        for rule in group["rules"]
        for name in METRIC_NAME.findall(rule["expr"])
    }
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    targets = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    assert targets
    used |= {name for expr in targets for name in METRIC_NAME.findall(expr)}
    assert used - exported == set()
    # Label values too: an alert on a state or a queue that was renamed would never fire.
    from newsdedup.source_status import STATES
    from newsdedup.workers.queues import CELERY_QUEUES

    exprs = [rule["expr"] for group in rules["groups"] for rule in group["rules"]] + targets
    states = {value for expr in exprs for value in re.findall(r'state="([^"]+)"', expr)}
    queues = {value for expr in exprs for value in re.findall(r'queue="([^"]+)"', expr)}
    assert states and states <= set(STATES), states
    assert queues and queues <= set(CELERY_QUEUES), queues
    # The dashboard shows what the issue asks for.
    text = " ".join(targets)
    for needed in (
        "newsdedup_source_state",
        "newsdedup_source_pages_total",
        "newsdedup_source_failures_total",
        "newsdedup_source_last_success_timestamp_seconds",
        "newsdedup_fetch_duration_seconds_bucket",
        "newsdedup_extraction_duration_seconds_bucket",
        "newsdedup_decision_duration_seconds_bucket",
        "newsdedup_queue_depth",
    ):
        assert needed in text, needed


def test_the_distributed_only_series_are_exported_in_distributed_mode(
    redis_url: str, sqlite_url: str
) -> None:
    from newsdedup.api import create_app

    with TestClient(create_app(Settings(database_url=sqlite_url, redis_url=redis_url))) as client:
        assert exported_names(client.get("/metrics").text) >= DISTRIBUTED_ONLY


# --- the rules themselves, and the sources-file key --------------------------------------------


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("HTTP 403", "blocked"),
        ("HTTP 429", "blocked"),
        ("blocked: challenge page (cloudflare)", "blocked"),
        ("disallowed by robots.txt", "robots_denied"),
        ("HTTP 404", "http_4xx"),
        ("HTTP 503", "http_5xx"),
        ("timeout after 30s", "timeout"),
        ("DNSLookupError: no such host", "dns"),
        ("ConnectionRefusedError: Connection was refused by other side", "connection"),
        ("larger than 1000 bytes", "too_large"),
        ("broken feed: not RSS or Atom", "parse"),
        ("ValueError: something else", "other"),
    ],
)
def test_failure_reasons_fall_into_few_classes(reason: str, expected: str) -> None:
    assert failure_class(reason) == expected


def test_stale_after_is_validated_at_start_up() -> None:
    entry = {"name": "wire", "feeds": ["https://wire.example/feed.xml"]}
    assert parse_sources({"sources": [{**entry, "stale_after": "2h"}]})[0].stale_after == 7200
    assert parse_sources({"sources": [entry]})[0].stale_after is None
    for bad in ("soon", "0s", 5, "2 hours"):
        with pytest.raises(ConfigError, match=r"source 'wire', key 'stale_after'"):
            parse_sources({"sources": [{**entry, "stale_after": bad}]})
