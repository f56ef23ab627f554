"""The HTTP API over real HTTP (uvicorn on a loopback port) against a real SQLite store."""

from __future__ import annotations

import httpx
import pytest
from api_factories import add_article, add_duplicate, add_version, live_api, write_sources

from newsdedup.config import Settings

# The store fixture (conftest.py) opens the SQLite database these tests build their settings on.
pytestmark = pytest.mark.sqlite_only

FEED_FIELDS = {
    "seq",
    "id",
    "version",
    "canonical_url",
    "urls",
    "title",
    "text",
    "authors",
    "published_at",
    "modified_at",
    "language",
    "source",
    "sources",
    "story_id",
}
VERSION_FIELDS = {"version", "title", "text", "url", "fetched_at", "modified_at", "similarity", "diff"}


@pytest.fixture
def settings(sqlite_url, tmp_path) -> Settings:
    return Settings(database_url=sqlite_url, config=write_sources(tmp_path), api_token="s3cret")


@pytest.fixture
def client(settings, store):
    with live_api(settings, store) as running, httpx.Client(base_url=running.base_url, timeout=30) as http:
        yield http


def follow(client: httpx.Client, after: int = 0, limit: int = 100) -> tuple[list[dict], int]:
    seen: list[dict] = []
    while True:
        response = client.get("/v1/feed", params={"after": after, "limit": limit})
        assert response.status_code == 200, response.text
        page = response.json()
        if not page["items"]:
            assert page["next_after"] == after
            return seen, after
        assert page["next_after"] == page["items"][-1]["seq"]
        seen.extend(page["items"])
        after = page["next_after"]


def test_openapi_lists_every_route(client):
    spec = client.get("/openapi.json").json()
    assert {
        "/v1/feed",
        "/v1/articles/{article_id}",
        "/v1/articles/{article_id}/versions",
        "/feed.atom",
        "/v1/crawls",
        "/healthz",
        "/livez",
        "/readyz",
        "/metrics",
    } <= set(spec["paths"])
    feed_params = {p["name"]: p for p in spec["paths"]["/v1/feed"]["get"]["parameters"]}
    assert feed_params["limit"]["schema"]["maximum"] == 1000


def test_feed_pages_follow_the_cursor_and_see_each_article_once(client, store):
    created = [add_article(store) for _ in range(7)]
    seen, cursor = follow(client, limit=3)
    assert [r["id"] for r in seen] == [a.article_id for a in created]
    assert [r["seq"] for r in seen] == sorted(r["seq"] for r in seen)
    assert cursor == created[-1].seq
    assert set(seen[0]) == FEED_FIELDS

    # Nothing new: next_after is the cursor itself.
    assert client.get("/v1/feed", params={"after": cursor}).json() == {"items": [], "next_after": cursor}

    # A changed article comes again, once, with a higher seq and its new state.
    first = created[0]
    changed = add_version(
        store,
        first.article_id,
        f"{seen[0]['canonical_url']}?update=1",
        "A rewritten text.\nWith a new paragraph.",
        "Updated title",
    )
    again, _ = follow(client, after=cursor)
    assert [(r["id"], r["seq"], r["version"], r["title"]) for r in again] == [
        (first.article_id, changed.seq, 2, "Updated title")
    ]


def test_feed_defaults_to_100_items(client, store):
    for _ in range(105):
        add_article(store)
    page = client.get("/v1/feed").json()
    assert len(page["items"]) == 100
    assert page["next_after"] == page["items"][-1]["seq"]
    assert len(client.get("/v1/feed", params={"limit": 1000}).json()["items"]) == 105


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("after=abc", "after"),
        ("after=1.5", "after"),
        ("after=-1", "after"),
        (f"after={2**70}", "after"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=ten", "limit"),
        ("after=x&limit=5000", "after"),
    ],
)
def test_bad_feed_parameters_are_a_clear_422(client, query, names):
    response = client.get(f"/v1/feed?{query}")
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid_request"
    assert f"'{names}'" in body["message"]
    if "limit=1001" in query:
        assert body["message"] == "query parameter 'limit': must be at most 1000 (got '1001')"
    if "after=abc" in query:
        assert body["message"] == "query parameter 'after': must be a whole number (got 'abc')"


def test_article_and_unknown_article(client, store):
    created = add_article(store, title="Harbour reopens")
    response = client.get(f"/v1/articles/{created.article_id}")
    assert response.status_code == 200
    record = response.json()
    assert record == store.feed_reader.article(created.article_id)
    assert record["title"] == "Harbour reopens" and record["version"] == 1

    missing = client.get("/v1/articles/no-such-id")
    assert missing.status_code == 404
    assert missing.json() == {"error": "not_found", "message": "no article with id 'no-such-id'"}
    assert client.get("/v1/articles/no-such-id/versions").status_code == 404
    assert client.get("/no/such/route").json()["error"] == "not_found"


def test_versions_oldest_first_with_similarity_and_diff(client, store):
    created = add_article(store, text="The mayor spoke.\nThe harbour stays closed.", title="v1")
    record = store.feed_reader.article(created.article_id)
    add_version(
        store,
        created.article_id,
        record["canonical_url"],
        "The mayor spoke.\nThe harbour reopens on Monday.",
        "v2",
    )
    add_duplicate(
        store,
        created.article_id,
        "https://beta-wire.example/copy.html",
        "The mayor spoke.\nThe harbour reopens on Monday.",
        "v2 copy",
        source="beta-wire",
    )

    items = client.get(f"/v1/articles/{created.article_id}/versions").json()["items"]
    assert [v["version"] for v in items] == [1, 2]
    assert all(set(v) == VERSION_FIELDS for v in items)
    assert items[0]["similarity"] is None and items[0]["diff"] == ""
    assert items[1]["similarity"] == pytest.approx(0.72)
    assert "-The harbour stays closed." in items[1]["diff"]
    assert "+The harbour reopens on Monday." in items[1]["diff"]

    assert client.get(f"/v1/articles/{created.article_id}/versions").json()["next_after"] is None
    article = client.get(f"/v1/articles/{created.article_id}").json()
    assert article["sources"] == ["alpha-news", "beta-wire"]
    assert "https://beta-wire.example/copy.html" in article["urls"]


def test_atom_feed_is_valid_and_holds_the_latest_100(client, store):
    import feedparser

    created = [add_article(store, title=f"Headline {i}") for i in range(130)]
    # The oldest article changes: it is now the latest and must lead the Atom feed.
    oldest = store.feed_reader.article(created[0].article_id)
    add_version(
        store, oldest["id"], oldest["canonical_url"], "Brand new text.\nSecond line.", "Fresh headline"
    )

    response = client.get("/feed.atom")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/atom+xml")
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    assert len(parsed.entries) == 100
    assert parsed.entries[0].title == "Fresh headline"
    assert parsed.entries[0].id == f"urn:newsdedup:article:{oldest['id']}"
    titles = {e.title for e in parsed.entries}
    assert "Headline 129" in titles and "Headline 30" not in titles
    assert parsed.feed.links[0].href.endswith("/feed.atom")


def test_atom_feed_of_an_empty_store(client):
    import feedparser

    parsed = feedparser.parse(client.get("/feed.atom").content)
    assert not parsed.bozo and parsed.entries == []


def test_healthz_ok(client):
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_many_concurrent_feed_requests_all_succeed(client, store):
    import asyncio

    for _ in range(50):
        add_article(store)

    async def hammer() -> list[int]:
        # 30 clients of 10 connections: one httpx client with 300 connections spends seconds
        # in its own pool bookkeeping (quadratic in the connection count).
        clients = [
            httpx.AsyncClient(
                base_url=str(client.base_url), timeout=60, limits=httpx.Limits(max_connections=10)
            )
            for _ in range(30)
        ]
        try:
            responses = await asyncio.gather(
                *(clients[i % 30].get("/v1/feed", params={"after": i % 50, "limit": 20}) for i in range(300))
            )
        finally:
            for http in clients:
                await http.aclose()
        for i, response in enumerate(responses):
            assert response.json()["items"][0]["seq"] == (i % 50) + 1
        return [r.status_code for r in responses]

    assert asyncio.run(hammer()) == [200] * 300


def test_versions_come_a_page_at_a_time_each_with_its_diff(client, store):
    created = add_article(store, text="Paragraph one.\nVersion 1 of the story.", title="v1")
    url = store.feed_reader.article(created.article_id)["canonical_url"]
    for number in range(2, 8):
        add_version(
            store, created.article_id, url, f"Paragraph one.\nVersion {number} of the story.", f"v{number}"
        )

    seen, after, pages = [], 0, 0
    while True:
        page = client.get(
            f"/v1/articles/{created.article_id}/versions", params={"after": after, "limit": 3}
        ).json()
        seen += page["items"]
        pages += 1
        if page["next_after"] is None:
            break
        after = page["next_after"]
    assert pages == 3 and [v["version"] for v in seen] == list(range(1, 8))
    # A page that starts after version 1 still diffs its first version against the one before.
    assert "-Version 3 of the story." in seen[3]["diff"] and "+Version 4 of the story." in seen[3]["diff"]
    assert client.get(f"/v1/articles/{created.article_id}/versions", params={"limit": 51}).status_code == 422
    assert client.get(f"/v1/articles/{created.article_id}/versions", params={"after": 7}).json() == {
        "items": [],
        "next_after": None,
    }


def test_a_diff_of_huge_texts_is_bounded_and_says_so():
    from newsdedup.store.records import DIFF_MAX_CHARS, text_diff

    previous = "\n".join(f"line {i} of a very long text" for i in range(100_000))
    current = previous.replace("line 5 of", "line five of")
    diff = text_diff(previous, current, 1, 2)
    assert "+line five of a very long text" in diff
    assert diff.endswith(
        f"[diff cut: only the first {DIFF_MAX_CHARS} characters and 1000 lines of each version were compared]"
    )
    assert "[diff cut" not in text_diff("a\nb", "a\nc", 1, 2)
