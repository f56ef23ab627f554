"""Languages: a source's ``languages`` filter rejects pages in other languages with a reason;
``?language=`` on ``GET /v1/feed`` (and ``newsdedup feed --language``, in
tests/test_extraction_overrides.py) keeps the articles in one language."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from api_factories import fingerprint, live_api, page_and_doc, write_sources

from newsdedup.config import ConfigError, Settings, parse_sources
from newsdedup.dedup.types import Decision
from newsdedup.extract import Document, Rejection
from newsdedup.extract.language_id import load_identifier
from newsdedup.extract.rules import PageRules
from newsdedup.fetched.page import Page
from newsdedup.pipeline.page_pipeline import prepare_page
from newsdedup.pipeline.services import dedup_params
from newsdedup.store import Store

# The store fixture (conftest.py) opens the SQLite database these tests build their settings on.
pytestmark = pytest.mark.sqlite_only

PAGES = Path(__file__).parent / "pages"


def _page(html: str) -> Page:
    url = "https://news.example/2024/05/lighthouse.html"
    return Page(
        url=url, final_url=url, status=200, headers={}, html=html, fetched_at=datetime.now(UTC), source="news"
    )


ENGLISH = (PAGES / "news_jsonld.html").read_text(encoding="utf-8")  # <html lang="en-GB">
PARAMS = dedup_params(Settings())


def test_a_page_in_another_language_is_rejected_with_a_reason() -> None:
    prepared = prepare_page(_page(ENGLISH), 20, PARAMS, rules=PageRules(languages=("de", "fr")))
    assert isinstance(prepared.extracted, Rejection)
    assert prepared.extracted.reason == "wrong-language"
    assert prepared.extracted.detail == "language en not in [de, fr]"
    assert prepared.fingerprint is None


def test_a_page_in_one_of_the_languages_is_kept() -> None:
    prepared = prepare_page(_page(ENGLISH), 20, PARAMS, rules=PageRules(languages=("de", "en")))
    assert isinstance(prepared.extracted, Document) and prepared.extracted.language == "en"


UNDECLARED = ENGLISH.replace(' lang="en-GB"', "").replace('"inLanguage": "en-GB",', "")


def test_the_language_of_a_page_that_declares_none_is_identified_from_its_text() -> None:
    assert 'lang="' not in UNDECLARED and "inLanguage" not in UNDECLARED
    kept = prepare_page(_page(UNDECLARED), 20, PARAMS, rules=PageRules(languages=("en",)))
    assert isinstance(kept.extracted, Document) and kept.extracted.language == "en"
    refused = prepare_page(_page(UNDECLARED), 20, PARAMS, rules=PageRules(languages=("de",)))
    assert isinstance(refused.extracted, Rejection) and refused.extracted.detail == "language en not in [de]"


def test_a_page_too_short_to_tell_its_language_is_kept() -> None:
    short = (
        "<html><head><title>Harbour notice</title></head><body><article><h1>Harbour notice</h1>"
        "<p>The harbour opens at nine on Monday, said the port office.</p></article></body></html>"
    )
    prepared = prepare_page(_page(short), 5, PARAMS, rules=PageRules(languages=("de",)))
    assert isinstance(prepared.extracted, Document)
    assert prepared.extracted.language is None


@pytest.mark.parametrize("languages", [["english"], ["xx"], [], "", [1]])
def test_bad_languages_stop_at_start_up_naming_source_and_key(languages: object) -> None:
    with pytest.raises(ConfigError) as error:
        parse_sources(
            {"sources": [{"name": "news", "feeds": ["https://n.example/rss"], "languages": languages}]}
        )
    assert "source 'news', key 'languages'" in str(error.value)


def test_languages_are_read_in_any_case() -> None:
    (source,) = parse_sources(
        {"sources": [{"name": "news", "feeds": ["https://n.example/rss"], "languages": ["EN", "de"]}]}
    )
    assert source.languages == ("en", "de")


# --------------------------------------------------------------------------- the feed
def add(store: Store, n: int, language: str | None) -> str:
    text = f"Paragraph one of story {n} about the harbour.\nParagraph two with more words {n}."
    page, doc = page_and_doc(f"https://news.example/{n}.html", text, f"Story {n}", minutes=n)
    doc = dataclasses.replace(doc, language=language)
    return store.apply(
        Decision("new", None, "original", reason="test"), page, doc, fingerprint(text)
    ).article_id


def test_the_feed_filters_by_language(store, sqlite_url, tmp_path) -> None:
    ids = {n: add(store, n, language) for n, language in enumerate(["en", "de", "en", None, "de"], start=1)}
    assert [r["id"] for r in store.feed_reader.feed(language="de")] == [ids[2], ids[5]]
    settings = Settings(database_url=sqlite_url, config=write_sources(tmp_path))
    with live_api(settings, store) as running, httpx.Client(base_url=running.base_url, timeout=30) as client:
        page = client.get("/v1/feed", params={"language": "en", "limit": 1}).json()
        assert [r["id"] for r in page["items"]] == [ids[1]]
        rest = client.get("/v1/feed", params={"language": "en", "after": page["next_after"]}).json()
        assert [r["id"] for r in rest["items"]] == [ids[3]]
        assert {r["language"] for r in client.get("/v1/feed", params={"language": "DE"}).json()["items"]} == {
            "de"
        }
        assert client.get("/v1/feed", params={"language": "fr"}).json() == {"items": [], "next_after": 0}
        assert len(client.get("/v1/feed").json()["items"]) == 5
        bad = client.get("/v1/feed", params={"language": "english"})
        assert bad.status_code == 422 and "language" in bad.text


def test_the_identifier_names_languages_by_iso_639_1_codes_only() -> None:
    """The model knows varieties with three-letter codes ("pcm", "yue"): a feed record or a
    source's filter never sees them."""
    labels = load_identifier().labels
    assert "en" in labels and "zh" in labels and "de" in labels
    assert all(len(label) == 2 for label in labels)
