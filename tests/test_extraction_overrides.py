"""Per-source extraction overrides (the sources file's ``extraction``): each kind against fixture
pages, the start-up validation, and a crawl where an override fixes a wrong title.

The fixture page (tests/sites/overrides/planet) fools a generic extractor the way real
publishers do: its <title> and og:title name the site, only the <h1> holds the headline.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from helpers import newsdedup, newsdedup_env

from newsdedup.config import ConfigError, parse_sources
from newsdedup.config.sources import page_rules_by_source
from newsdedup.extract import Document, extract_document
from newsdedup.extract.rules import ExtractionRules, PageRules

SITES = Path(__file__).parent / "sites" / "overrides"
PAGE = (SITES / "planet" / "news" / "harbour-bridge.html").read_text(encoding="utf-8")
URL = "https://planet.example/news/harbour-bridge.html"
HEADLINE = "Harbour bridge to close for six weeks of repairs"


def extract(html: str = PAGE, **rules: object) -> Document:
    result = extract_document(html, URL, rules=ExtractionRules(**rules) if rules else None)  # type: ignore[arg-type]
    assert isinstance(result, Document), result
    return result


# --------------------------------------------------------------------------- title
def test_without_override_the_generic_title_is_wrong() -> None:
    assert extract().title == "The Planet - read all about it"


@pytest.mark.parametrize(
    "title",
    ["h1", "//h1[@class='headline']/text()", "(//main//h1)[1]", "article h1.headline", "h1::text"],
)
def test_title_from_h1_an_xpath_or_a_css_selector(title: str) -> None:
    assert extract(title=title).title == HEADLINE


def test_title_from_og_title_or_the_structured_headline() -> None:
    page = PAGE.replace(
        "</head>",
        '<script type="application/ld+json">{"@type": "NewsArticle", "headline": "The headline in JSON-LD",'
        f' "url": "{URL}"}}</script></head>',
    ).replace('content="The Planet - read all about it"', 'content="The headline in og:title"')
    assert extract(page, title="og:title").title == "The headline in og:title"
    assert extract(page, title="headline").title == "The headline in JSON-LD"


def test_a_title_selector_that_finds_nothing_leaves_the_generic_title() -> None:
    assert extract(title="h2.missing").title == "The Planet - read all about it"


# --------------------------------------------------------------------------- body
def test_body_from_a_selector_is_exactly_what_it_selects() -> None:
    page = PAGE
    # The generic extractor starts the text with the headline (its own title is another).
    assert extract(page).text.splitlines()[0] == HEADLINE
    text = extract(page, body="div.story-body").text
    assert text.splitlines() == [
        "The old harbour bridge will close for six weeks from March while engineers replace the corroded "
        "steel cables that have held the deck since 1962.",
        "Ferries will run every twenty minutes during the closure, the port authority said, and cyclists "
        "may walk their bikes across the rail bridge upstream.",
        "Shop owners on the waterfront fear a quiet spring and asked the council for a rent holiday until "
        "the bridge opens again.",
    ]
    assert extract(page, body="//div[@class='story-body']").text == text


def test_a_body_selector_that_finds_nothing_leaves_the_generic_text() -> None:
    assert extract(body="div.missing").text == extract().text


# --------------------------------------------------------------------------- date
@pytest.mark.parametrize("date", ["//time/@datetime", "time::attr(datetime)"])
def test_date_from_an_attribute(date: str) -> None:
    assert extract().published_at == datetime.fromisoformat("2025-01-06T00:00:00+00:00")  # day only
    assert extract(date=date).published_at == datetime.fromisoformat("2025-01-06T08:30:00+01:00")


def test_a_date_that_is_no_date_leaves_the_generic_one() -> None:
    assert extract(date="p.byline").published_at == extract().published_at


# --------------------------------------------------------------------------- authors
def test_authors_one_per_match() -> None:
    page = PAGE.replace("</head>", '<meta name="author" content="Planet Staff"></head>').replace(
        '<a href="/authors/1">Ana Souza</a>',
        '<a href="/authors/1">Ana Souza</a> and <a href="/authors/2">Lee Park</a>',
    )
    assert extract(page).authors != ("Ana Souza", "Lee Park")
    assert extract(page, authors=".byline a").authors == ("Ana Souza", "Lee Park")
    assert extract(page, authors="//p[@class='byline']/a/text()").authors == ("Ana Souza", "Lee Park")


# --------------------------------------------------------------------------- drop
def test_dropped_elements_are_gone_before_extraction() -> None:
    page = PAGE.replace(
        "</div>\n<aside",
        '<p class="promo">Advertisement feature: the harbour hotel offers two nights for the price of one '
        "to every reader who books before the bridge closes in March.</p></div>\n<aside",
    )
    assert "Advertisement feature" in extract(page).text
    assert "Advertisement feature" not in extract(page, drop=(".promo",)).text
    assert "Advertisement feature" not in extract(page, drop=("//p[@class='promo']",)).text
    # Dropping the headline element takes it from the title override too.
    assert extract(page, title="h1", drop=("h1",)).title == "The Planet - read all about it"


# --------------------------------------------------------------------------- the sources file
def _source(**keys: object) -> dict[str, object]:
    return {"name": "planet", "feeds": ["https://planet.example/rss.xml"], **keys}


def test_overrides_are_read_from_the_sources_file() -> None:
    (source,) = parse_sources(
        {
            "sources": [
                _source(
                    extraction={
                        "title": "h1",
                        "body": "article .story-body",
                        "date": "//time/@datetime",
                        "authors": ".byline a",
                        "drop": [".newsletter-signup", "//aside"],
                    }
                )
            ]
        }
    )
    assert source.extraction == ExtractionRules(
        title="h1",
        body="article .story-body",
        date="//time/@datetime",
        authors=".byline a",
        drop=(".newsletter-signup", "//aside"),
    )
    assert source.page_rules == PageRules(source.extraction, ())


@pytest.mark.parametrize(
    ("extraction", "key", "why"),
    [
        ({"headline": "h1"}, "extraction.headline", "unknown key"),
        ({"title": "//h1["}, "extraction.title", "not a valid XPath"),
        ({"body": "article >> p"}, "extraction.body", "not a valid CSS selector"),
        ({"date": "(//time"}, "extraction.date", "not a valid XPath"),
        ({"authors": ""}, "extraction.authors", "must be a selector"),
        ({"drop": [".ok", "div[["]}, "extraction.drop", "not a valid CSS selector"),
        ({"body": "p::foo"}, "extraction.body", "not a valid CSS selector"),
        ({"drop": {"a": 1}}, "extraction.drop", "must be a list"),
        ("h1", "extraction", "must be a mapping"),
    ],
)
def test_bad_overrides_stop_at_start_up_naming_source_and_key(extraction: object, key: str, why: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_sources({"sources": [_source(extraction=extraction)]})
    assert f"source 'planet', key '{key}'" in str(error.value)
    assert why in str(error.value)


def test_workers_find_a_pages_rules_by_its_source_name(tmp_path: Path) -> None:
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        "sources:\n  - name: planet\n    feeds: [https://planet.example/rss.xml]\n"
        "    extraction: {title: h1}\n    languages: [en]\n"
    )
    assert page_rules_by_source(sources) == {"planet": PageRules(ExtractionRules(title="h1"), ("en",))}
    assert page_rules_by_source(tmp_path / "absent.yaml") == {}
    sources.write_text(
        "sources:\n  - name: planet\n    feeds: [https://planet.example/rss.xml]\n    extraction: 1\n"
    )
    with pytest.raises(ConfigError):
        page_rules_by_source(sources)


# --------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    """One embedded crawl: "planet" with a title override, "zeitung" keeping German pages only."""
    from newsdedup.siteserver import SiteServer

    work = tmp_path_factory.mktemp("overrides")
    with (
        SiteServer(SITES / "planet", host="127.0.0.2") as planet,
        SiteServer(SITES / "zeitung", host="127.0.0.3") as zeitung,
    ):
        sources = work / "sources.yaml"
        sources.write_text(
            f"""sources:
  - name: planet
    feeds: ["{planet.url("/rss.xml")}"]
    extraction:
      title: h1
      date: "time::attr(datetime)"
  - name: zeitung
    feeds: ["{zeitung.url("/rss.xml")}"]
    languages: [de]
""",
            encoding="utf-8",
        )
        env = newsdedup_env()
        env.update(
            NEWSDEDUP_DATABASE_URL=f"sqlite:///{work / 'store.db'}",
            NEWSDEDUP_ALLOW_PRIVATE_ADDRESSES="1",
            NEWSDEDUP_CONFIG=str(sources),
            NEWSDEDUP_ARCHIVE="0",
            NEWSDEDUP_EXTRACT_PROCESSES="2",  # the rules travel to the extraction processes
        )
        crawl = newsdedup(env, "crawl", "--explain")
    return env, crawl


def feed_of(env: dict[str, str], *args: str) -> list[dict[str, object]]:
    output = newsdedup(env, "feed", "--format", "jsonl", *args).stdout
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_a_title_override_fixes_the_titles_of_a_crawled_source(crawled) -> None:
    env, _ = crawled
    planet = {r["title"]: r for r in feed_of(env) if r["source"] == "planet"}
    assert set(planet) == {HEADLINE, "Maritime museum reopens after a year of restoration"}
    assert planet[HEADLINE]["published_at"].startswith("2025-01-06T07:30:00")


def test_pages_in_other_languages_are_rejected_with_a_reason(crawled) -> None:
    env, crawl = crawled
    zeitung = [r for r in feed_of(env) if r["source"] == "zeitung"]
    assert [r["language"] for r in zeitung] == ["de"]
    assert "language en not in [de]" in crawl.stdout


def test_the_feed_command_filters_by_language(crawled) -> None:
    env, _ = crawled
    assert {r["language"] for r in feed_of(env, "--language", "de")} == {"de"}
    assert len(feed_of(env, "--language", "DE")) == 1
    assert {r["source"] for r in feed_of(env, "--language", "en")} == {"planet"}
    assert feed_of(env, "--language", "fr") == []
    bad = newsdedup(env, "feed", "--language", "english", check=False)
    assert bad.returncode == 2 and "ISO 639-1" in bad.stderr


@pytest.mark.redis
@pytest.mark.postgres
def test_a_distributed_worker_applies_the_rules_of_a_pages_source(
    tmp_path: Path, redis_url: str, postgres_url: str
) -> None:
    from newsdedup.config import Settings
    from newsdedup.fetched.page import Page
    from newsdedup.workers.pages import WorkerServices, process_staged_page

    sources = tmp_path / "sources.yaml"
    sources.write_text(
        "sources:\n"
        "  - name: planet\n    feeds: [https://planet.example/rss.xml]\n    extraction: {title: h1}\n"
        "  - name: zeitung\n    feeds: [https://zeitung.example/rss.xml]\n    languages: [de]\n",
        encoding="utf-8",
    )
    # One short page of a new source would wait for the crawl's end (store/held.py): decided at once here.
    settings = Settings(
        redis_url=redis_url, database_url=postgres_url, config=sources, lsh_basename="t", hold_below_words=0
    )

    def staged(source: str, url: str, html: str) -> int:
        page = Page(
            url=url,
            final_url=url,
            status=200,
            headers={},
            html=html,
            fetched_at=datetime.now(UTC),
            source=source,
        )
        return services.staging.stage(page)[0]

    services = WorkerServices.open(settings)  # as `newsdedup worker` opens them
    try:
        planet = staged("planet", URL, PAGE)
        english = (SITES / "zeitung" / "news" / "english-edition.html").read_text(encoding="utf-8")
        zeitung = staged("zeitung", "https://zeitung.example/news/english-edition.html", english)
        assert process_staged_page(services, planet) == "created"
        assert process_staged_page(services, zeitung) == "rejected"
        [record] = services.store.feed_reader.feed()
        assert record["title"] == HEADLINE
    finally:
        services.close()
