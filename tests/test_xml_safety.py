"""A page whose headline or author holds characters XML forbids cannot break the Atom feed:
extraction drops them, and the Atom writer drops them again for records stored before."""

from __future__ import annotations

import json

import httpx
import pytest
from api_factories import add_article, live_api, write_sources
from lxml import etree

from newsdedup.config import Settings
from newsdedup.extract import Document, extract_document
from newsdedup.feedformat import render_atom
from newsdedup.store import Store

FORBIDDEN = "\x01\x07\ufffe\x1b"
BODY = " ".join(f"The harbour council met again on day {n} to vote on the ferry budget." for n in range(12))


def hostile_page() -> str:
    data = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": f"Ferry{FORBIDDEN} budget passes",
        "author": {"@type": "Person", "name": f"Ann{FORBIDDEN} Writer"},
        "description": f"The{FORBIDDEN} vote",
    }
    return (
        "<html><head><title>x</title>"
        f'<script type="application/ld+json">{json.dumps(data)}</script></head>'
        f"<body><article><h1>Ferry budget passes</h1><p>{BODY}</p><p>{BODY}</p></article></body></html>"
    )


def test_extraction_drops_the_characters_xml_forbids() -> None:
    doc = extract_document(hostile_page(), "https://news.example/ferry.html")
    assert isinstance(doc, Document), doc
    fields = [doc.title, doc.text, *doc.authors, doc.description or ""]
    assert not any(char in field for field in fields for char in FORBIDDEN)
    assert doc.title == "Ferry budget passes"
    assert doc.authors == ("Ann Writer",)


def record(title: str) -> dict:
    return {
        "id": "a1",
        "canonical_url": "https://news.example/ferry.html",
        "urls": ["https://news.example/ferry.html"],
        "title": title,
        "text": f"Text{FORBIDDEN} of the article",
        "authors": [f"Ann{FORBIDDEN} Writer"],
        "published_at": "2024-05-01T08:00:00+00:00",
        "modified_at": None,
        "source": "news",
    }


def test_atom_is_written_for_a_record_stored_with_forbidden_characters() -> None:
    atom = render_atom([record(f"Ferry{FORBIDDEN} budget")])
    root = etree.fromstring(atom.encode("utf-8"))
    ns = {"a": "http://www.w3.org/2005/Atom"}
    assert root.findtext("a:entry/a:title", namespaces=ns) == "Ferry budget"
    assert root.findtext("a:entry/a:author/a:name", namespaces=ns) == "Ann Writer"


def test_the_atom_route_answers_with_such_an_article_in_the_store(sqlite_url, tmp_path) -> None:
    settings = Settings(database_url=sqlite_url, config=write_sources(tmp_path))
    store = Store.open(sqlite_url)
    try:
        add_article(store, title=f"Ferry{FORBIDDEN} budget passes")
        with live_api(settings, store) as running:
            response = httpx.get(running.base_url + "/feed.atom", timeout=30)
    finally:
        store.close()
    assert response.status_code == 200, response.text
    assert b"Ferry budget passes" in response.content
    etree.fromstring(response.content)


@pytest.mark.parametrize("char", list(FORBIDDEN))
def test_each_forbidden_character_alone(char: str) -> None:
    etree.fromstring(render_atom([record(f"a{char}b")]).encode("utf-8"))
