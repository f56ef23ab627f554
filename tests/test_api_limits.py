"""What one request may cost the API (README, "Security"): bodies are refused past their cap
before anything parses them, a feed page is bounded by bytes, feed requests by a per-process
gate, and /metrics is computed at most once per NEWSDEDUP_METRICS_CACHE_SECONDS."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from api_factories import add_article, live_api, write_sources
from prometheus_client.parser import text_string_to_metric_families

from newsdedup.api.errors import ApiError
from newsdedup.api.limits import RequestGate
from newsdedup.config import Settings
from newsdedup.store import Store

TOKEN = "s3cret"


@pytest.fixture
def store(sqlite_url):
    store = Store.open(sqlite_url)
    yield store
    store.close()


def settings_for(sqlite_url: str, tmp_path, **extra) -> Settings:
    return Settings(database_url=sqlite_url, config=write_sources(tmp_path), api_token=TOKEN, **extra)


def test_a_large_body_is_refused_before_the_token_or_json_are_looked_at(sqlite_url, tmp_path, store):
    big = b'{"sources": ["' + b"a" * (2 * 1024 * 1024) + b'"]}'
    with live_api(settings_for(sqlite_url, tmp_path), store) as running:
        declared = httpx.post(running.base_url + "/v1/crawls", content=big, timeout=30)
        assert declared.status_code == 413, declared.text
        assert declared.json()["error"] == "payload_too_large"
        assert "NEWSDEDUP_API_MAX_BODY_BYTES" in declared.json()["message"]

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
            for _ in range(64):
                yield b" " * 32768

        streamed = httpx.post(
            running.base_url + "/v1/crawls",
            content=chunks(),
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=30,
        )
        assert streamed.status_code == 413, streamed.text
        # A body within the cap still works, and a bad one is still a clear 422.
        auth = {"Authorization": f"Bearer {TOKEN}"}
        bad = httpx.post(running.base_url + "/v1/crawls", json={"sources": "x"}, headers=auth)
        assert bad.status_code == 422 and "body field 'sources'" in bad.json()["message"]
        unknown = httpx.post(running.base_url + "/v1/crawls", json={"sources": ["nope"]}, headers=auth)
        assert unknown.json()["error"] == "unknown_source"


def test_the_crawl_body_is_still_described_in_the_openapi_document(sqlite_url, tmp_path, store):
    with live_api(settings_for(sqlite_url, tmp_path), store) as running:
        spec = httpx.get(running.base_url + "/openapi.json").json()
    body = spec["paths"]["/v1/crawls"]["post"]["requestBody"]
    assert "sources" in body["content"]["application/json"]["schema"]["properties"]


def test_a_feed_page_is_bounded_by_bytes_and_the_cursor_still_reaches_every_record(
    sqlite_url, tmp_path, store
):
    paragraph = "The harbour council met again to vote on the ferry budget. " * 1700  # ~100 kB
    ids = {add_article(store, text=f"{n} {paragraph}").article_id for n in range(30)}
    cap = 512 * 1024
    settings = settings_for(sqlite_url, tmp_path, api_max_feed_page_bytes=cap)
    seen: list[str] = []
    with live_api(settings, store) as running, httpx.Client(base_url=running.base_url, timeout=60) as http:
        after = 0
        sizes = []
        while True:
            response = http.get("/v1/feed", params={"after": after, "limit": 1000})
            assert response.status_code == 200
            page = response.json()
            if not page["items"]:
                break
            sizes.append(len(response.content))
            seen.extend(item["id"] for item in page["items"])
            assert page["next_after"] == page["items"][-1]["seq"]
            after = page["next_after"]
    assert max(sizes) <= cap
    assert len(sizes) >= 5  # 3 MB of records in pages of at most 512 kB
    assert sorted(seen) == sorted(ids) and len(seen) == len(ids)


def test_a_page_of_small_records_still_fills_to_its_limit(sqlite_url, tmp_path, store):
    for _ in range(60):
        add_article(store)
    with live_api(settings_for(sqlite_url, tmp_path), store) as running:
        page = httpx.get(running.base_url + "/v1/feed", params={"limit": 55}).json()
    assert len(page["items"]) == 55
    assert json.dumps(page)  # plain JSON, as before


def test_the_feed_gate_turns_away_a_request_past_its_slots() -> None:
    gate = RequestGate(1, wait=0.05)
    with gate.slot():
        with pytest.raises(ApiError) as refused:
            with gate.slot():
                pass
    assert refused.value.status == 503 and refused.value.headers == {"Retry-After": "1"}
    with gate.slot():  # free again once the first request is done
        pass


def articles_in(text: str) -> float:
    for family in text_string_to_metric_families(text):
        if family.name == "newsdedup_articles":
            return family.samples[0].value
    raise AssertionError("no newsdedup_articles")


def test_metrics_are_computed_at_most_once_per_cache_period(sqlite_url, tmp_path, store):
    add_article(store)
    settings = settings_for(sqlite_url, tmp_path, metrics_cache_seconds=600)
    with live_api(settings, store) as running:
        first = httpx.get(running.base_url + "/metrics").text
        add_article(store)
        for _ in range(5):
            assert articles_in(httpx.get(running.base_url + "/metrics").text) == articles_in(first) == 1
    with live_api(settings_for(sqlite_url, tmp_path, metrics_cache_seconds=0), store) as running:
        assert articles_in(httpx.get(running.base_url + "/metrics").text) == 2
