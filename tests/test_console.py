"""The console's server side: full-text search (SQLite FTS5 and PostgreSQL), the stored dedup
reasons, the word diff, and access (login cookie, CSRF, headers, the open-reads setting)."""

from __future__ import annotations

import re

import httpx
import pytest
from alembic import command
from api_factories import add_article, add_duplicate, add_version, live_api, page_and_doc, write_sources
from store_factories import fingerprint_of

from newsdedup.api.console.diff import word_diff
from newsdedup.api.console.links import safe_href
from newsdedup.config import Settings
from newsdedup.dedup.types import Decision
from newsdedup.store import Store
from newsdedup.store.engine import alembic_config
from newsdedup.store.models import REASON_CHARS

TOKEN = "console token"


@pytest.fixture(params=["sqlite_url", "postgres_url"])
def store(request):
    store = Store.open(request.getfixturevalue(request.param))
    yield store
    store.close()


def titles(records: list[dict]) -> list[str]:
    return [r["title"] for r in records]


def test_search_finds_articles_by_any_word_and_follows_new_versions(store: Store):
    cranes = add_article(store, "Cranes stop", "Harbour cranes stopped on Monday.\nShips waited at anchor.")
    add_article(store, "Ferry strike", "Ferry crews voted to strike.\nThe harbour stays open.")
    assert titles(store.feed_reader.search("anchor")) == ["Cranes stop"]
    assert set(titles(store.feed_reader.search("harbour"))) == {"Cranes stop", "Ferry strike"}
    # Every word must occur; case and order do not matter.
    assert titles(store.feed_reader.search("MONDAY harbour")) == ["Cranes stop"]
    assert store.feed_reader.search("monday ferry") == []
    # A new version's words are found, the old version's no longer.
    add_version(
        store,
        cranes.article_id,
        "https://alpha-news.example/cranes-2",
        "Harbour cranes stopped on Tuesday.\nShips waited at anchor.",
        "Cranes stop again",
    )
    assert titles(store.feed_reader.search("tuesday")) == ["Cranes stop again"]
    assert store.feed_reader.search("monday") == []


def test_search_treats_query_syntax_as_words(store: Store):
    add_article(store, "Weather", "Rain over the hills, the port and the port again: port port port.")
    add_article(store, "Port news", "One mention of the port.")
    assert len(store.feed_reader.search("port")) == 2
    for hostile in ['"', "port AND", "NEAR(port", "port*", "' OR 1=1 --", "-port", "title:port", "***"]:
        store.feed_reader.search(hostile)  # no error: the words are words
    assert store.feed_reader.search("***") == []
    # "AND" is the word "and" (only the first text has it), not an operator.
    assert titles(store.feed_reader.search("port AND")) == ["Weather"]
    assert len(store.feed_reader.search("port*")) == 2  # no prefix operator: the word "port"


def test_articles_stored_before_the_migration_are_searchable_after_it(store: Store):
    add_article(store, "Old article", "Written before full-text search existed: lighthouse.")
    with store.db.writer.begin() as connection:
        command.downgrade(alembic_config(connection), "0011")
    store.migrate()
    assert titles(store.feed_reader.search("lighthouse")) == ["Old article"]


def test_each_page_keeps_its_latest_decision_and_reason_in_bounded_space(store: Store):
    first = add_article(store, "Cranes", "Harbour cranes stopped.")
    copy = "https://beta-wire.example/cranes.html"
    add_duplicate(store, first.article_id, copy, "Harbour cranes stopped.", "Cranes", "beta-wire")
    page, doc = page_and_doc(copy, "Harbour cranes stopped.", "Cranes", "beta-wire")
    long_reason = "near-duplicate of article x v1 (Jaccard 0.97, 99% of the page in it) " + "x" * 2000
    for _ in range(3):  # fetched again and again: still one row for the URL
        store.apply(
            Decision(
                "unchanged",
                first.article_id,
                "syndicated",
                similarity=0.97,
                containment=0.99,
                reason=long_reason,
                matched_version=1,
            ),
            page,
            doc,
            fingerprint_of("Harbour cranes stopped."),
        )
    from newsdedup.store.console_reader import ConsoleReader

    decisions = ConsoleReader(store.db).decisions(first.article_id)
    assert [d.kind for d in decisions] == ["new", "unchanged"]
    assert decisions[1].url == copy
    latest = decisions[1]
    assert (latest.kind, latest.relation, latest.similarity, latest.containment) == (
        "unchanged",
        "syndicated",
        0.97,
        0.99,
    )
    assert latest.reason.startswith("near-duplicate of article x v1 (Jaccard 0.97")
    assert len(latest.reason) == REASON_CHARS


def test_word_diff_marks_the_changed_word_inside_its_paragraph():
    diff = word_diff("Cranes stopped on Monday.\nShips waited.", "Cranes stopped on Tuesday.\nShips waited.")
    assert diff.changed
    first = diff.paragraphs[0]
    assert [(p.kind, p.text) for p in first if p.kind != "same"] == [
        ("removed", "Monday"),
        ("added", "Tuesday"),
    ]
    assert "".join(p.text for p in first if p.kind != "removed") == "Cranes stopped on Tuesday."
    assert diff.paragraphs[1][0].kind == "same"
    assert not word_diff("same", "same").changed
    added = word_diff("one", "one\ntwo")
    assert [p.kind for paragraph in added.paragraphs for p in paragraph] == ["same", "added"]


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        " javascript:alert(1)",
        "java\tscript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox",
        "//evil.example/x",
        "http:///nohost",
        "",
    ],
)
def test_only_http_urls_become_links(url):
    assert safe_href(url) is None
    assert safe_href("https://example.com/a?b=c") == "https://example.com/a?b=c"


@pytest.fixture
def sqlite_store(sqlite_url):
    store = Store.open(sqlite_url)
    yield store
    store.close()


def settings_for(store: Store, tmp_path, **extra) -> Settings:
    return Settings(
        database_url=store.database_url, config=write_sources(tmp_path), **{"api_token": TOKEN, **extra}
    )


def login(client: httpx.Client) -> str:
    """Log in; the CSRF token of the login."""
    response = client.post("/ui/login", data={"token": TOKEN})
    assert response.status_code == 200 and str(response.url).endswith("/ui/sources")
    return re.search(r'name="csrf" value="([^"]+)"', response.text).group(1)


def test_v1_search_answers_feed_records_best_first(sqlite_store, tmp_path):
    add_article(sqlite_store, "Tide tables", "Tide tables for the harbour.")
    with live_api(settings_for(sqlite_store, tmp_path), sqlite_store) as running:
        found = httpx.get(running.base_url + "/v1/search", params={"q": "tide", "limit": 5})
        assert found.status_code == 200
        [record] = found.json()["items"]
        assert record["title"] == "Tide tables" and record["text"] == "Tide tables for the harbour."
        assert httpx.get(running.base_url + "/v1/search", params={"q": "zeppelin"}).json() == {"items": []}
        missing = httpx.get(running.base_url + "/v1/search")
        assert missing.status_code == 422 and "q" in missing.json()["message"]


def test_pages_need_a_login_and_carry_the_security_headers(sqlite_store, tmp_path):
    article = add_article(sqlite_store, "<script>alert(1)</script>", "Body text.")
    with (
        live_api(settings_for(sqlite_store, tmp_path), sqlite_store) as running,
        httpx.Client(base_url=running.base_url, follow_redirects=True) as client,
    ):
        home = client.get("/ui/", follow_redirects=False)
        assert (home.status_code, home.headers["location"]) == (303, "/ui/login")
        for path in ("/ui/sources", "/ui/crawls", "/ui/articles", f"/ui/articles/{article.article_id}"):
            assert client.get(path, follow_redirects=False).headers["location"] == "/ui/login", path
        wrong = client.post("/ui/login", data={"token": "wrong"})
        assert wrong.status_code == 401 and "not the API token" in wrong.text
        login(client)
        cookie = client.cookies.jar and next(iter(client.cookies.jar))
        assert cookie.name == "newsdedup_console" and cookie.has_nonstandard_attr("HttpOnly")
        page = client.get(f"/ui/articles/{article.article_id}")
        assert page.status_code == 200
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert page.headers["x-content-type-options"] == "nosniff"
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
        assert "<script>alert" not in page.text
        assert "<script>" not in page.text.replace('<script src="/ui/static/console.js" defer></script>', "")
        story = client.get("/ui/stories/abc")
        assert story.status_code == 404 and "No story with id abc" in story.text


def test_forms_refuse_a_missing_csrf_token_and_another_site(sqlite_store, tmp_path):
    with (
        live_api(settings_for(sqlite_store, tmp_path), sqlite_store) as running,
        httpx.Client(base_url=running.base_url, follow_redirects=True) as client,
    ):
        csrf = login(client)
        assert client.post("/ui/crawls", data={"source": "alpha-news"}).status_code == 403
        assert client.post("/ui/logout", data={"csrf": "forged"}).status_code == 403
        foreign = client.post("/ui/logout", data={"csrf": csrf}, headers={"Origin": "https://evil.example"})
        assert foreign.status_code == 403
        assert client.get("/ui/sources", follow_redirects=False).status_code == 200  # still logged in
        assert client.post("/ui/logout", data={"csrf": csrf}).url.path == "/ui/login"
        assert client.get("/ui/sources", follow_redirects=False).headers["location"] == "/ui/login"


def test_the_raw_page_link_needs_a_login_and_keeps_the_sandbox(sqlite_store, tmp_path):
    article = add_article(sqlite_store, "Plain", "Plain text.")
    with (
        live_api(settings_for(sqlite_store, tmp_path), sqlite_store) as running,
        httpx.Client(base_url=running.base_url, follow_redirects=True) as client,
    ):
        path = f"/ui/articles/{article.article_id}/versions/1/page"
        assert client.get(path, follow_redirects=False).headers["location"] == "/ui/login"
        login(client)
        missing = client.get(path)  # this version was stored without an archive
        assert missing.status_code == 404 and "no archived page" in missing.json()["message"]


def test_open_reads_opens_the_article_pages_only(sqlite_store, tmp_path):
    article = add_article(sqlite_store, "Open article", "Readable by anyone on the intranet.")
    settings = settings_for(sqlite_store, tmp_path, console_open_reads=True)
    with (
        live_api(settings, sqlite_store) as running,
        httpx.Client(base_url=running.base_url, follow_redirects=True) as client,
    ):
        assert client.get("/ui/", follow_redirects=False).headers["location"] == "/ui/articles"
        assert "Open article" in client.get("/ui/articles").text
        assert "Open article" in client.get("/ui/articles?q=intranet").text
        assert "Readable by anyone" in client.get(f"/ui/articles/{article.article_id}").text
        for closed in ("/ui/sources", "/ui/crawls", f"/ui/articles/{article.article_id}/versions/1/page"):
            assert client.get(closed, follow_redirects=False).headers["location"] == "/ui/login", closed


def test_no_token_configured_means_nobody_logs_in(sqlite_store, tmp_path):
    settings = Settings(
        database_url=sqlite_store.database_url, config=write_sources(tmp_path), api_token=None
    )
    with (
        live_api(settings, sqlite_store) as running,
        httpx.Client(base_url=running.base_url, follow_redirects=True) as client,
    ):
        assert "no API token" in client.get("/ui/login").text
        assert client.post("/ui/login", data={"token": ""}).status_code == 401
        assert client.post("/ui/login", data={"token": "anything"}).status_code == 401


def test_the_sources_page_lists_each_sources_latest_failed_pages(sqlite_store, tmp_path):
    for n in range(8):
        sqlite_store.failure_log.record(
            f"https://alpha.example/broken-{n}", "alpha-news", "c1", "fetch", f"HTTP 50{n}"
        )
    sqlite_store.failure_log.record("https://beta.example/gone", "beta-wire", "c1", "fetch", "HTTP 404")
    with (
        live_api(settings_for(sqlite_store, tmp_path), sqlite_store) as running,
        httpx.Client(base_url=running.base_url, follow_redirects=True) as client,
    ):
        login(client)
        page = client.get("/ui/sources").text
        alpha, beta = page.split('id="source-2"')
        # The latest five of alpha-news, newest first; the older three are not shown.
        shown = re.findall(r"https://alpha\.example/broken-(\d)", alpha)
        assert shown == ["7", "6", "5", "4", "3"]
        assert "HTTP 507" in alpha
        assert "https://beta.example/gone" in beta and "HTTP 404" in beta
        assert "Crawl alpha-news now" in alpha and "Crawl beta-wire now" in beta


def test_the_next_scheduled_crawl_follows_the_schedule():
    from datetime import UTC, datetime

    from newsdedup.api.console.pages import next_crawl
    from newsdedup.config.sources import Source, parse_schedule

    now = datetime(2026, 3, 10, 9, 7, tzinfo=UTC)
    every_15m = Source(name="a", feeds=("http://x/",), schedule=parse_schedule("15m", "a"))
    assert next_crawl(every_15m, None, now) == now  # never crawled: due now
    assert next_crawl(every_15m, datetime(2026, 3, 10, 9, 0, tzinfo=UTC), now) == datetime(
        2026, 3, 10, 9, 15, tzinfo=UTC
    )
    hourly = Source(name="b", feeds=("http://x/",), schedule=parse_schedule("30 * * * *", "b"))
    assert next_crawl(hourly, datetime(2026, 3, 10, 8, 30, tzinfo=UTC), now) == datetime(
        2026, 3, 10, 9, 30, tzinfo=UTC
    )


def test_a_form_posted_through_a_tls_proxy_is_this_sites(sqlite_store, tmp_path):
    with (
        live_api(settings_for(sqlite_store, tmp_path), sqlite_store) as running,
        httpx.Client(base_url=running.base_url, follow_redirects=True) as client,
    ):
        csrf = login(client)
        host = running.base_url.split("://", 1)[1]
        # The browser saw https://host; the server behind the proxy sees http://host.
        out = client.post("/ui/logout", data={"csrf": csrf}, headers={"Origin": f"https://{host}"})
        assert out.url.path == "/ui/login"
        assert client.get("/ui/sources", follow_redirects=False).headers["location"] == "/ui/login"


def test_an_article_of_many_versions_lists_the_newest_and_compares_any_two(sqlite_store, tmp_path):
    first = add_article(sqlite_store, "Live blog", "Entry 0.")
    for n in range(1, 102):
        add_version(
            sqlite_store, first.article_id, "https://alpha-news.example/live", f"Entry {n}.", "Live blog"
        )
    with (
        live_api(settings_for(sqlite_store, tmp_path), sqlite_store) as running,
        httpx.Client(base_url=running.base_url, follow_redirects=True) as client,
    ):
        login(client)
        page = client.get(f"/ui/articles/{first.article_id}").text
        listed = re.findall(r'name="b" value="(\d+)"', page)
        assert len(listed) == 100 and listed[0] == "3" and listed[-1] == "102"
        assert "The newest 100 of 102 versions" in page
        oldest = client.get(f"/ui/articles/{first.article_id}", params={"a": 1, "b": 102}).text
        assert "<del>0</del>" in oldest and "<ins>101</ins>" in oldest
