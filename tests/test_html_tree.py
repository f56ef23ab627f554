"""extract/html_tree.py parses a page as trafilatura's load_html does, with element classes
chosen in C: the same trees, so the same text and metadata."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree
from lxml.html import FormElement, HtmlElement
from trafilatura.utils import load_html as trafilatura_load_html

from newsdedup.extract import extract_document
from newsdedup.extract.html_tree import load_html

PAGES = Path(__file__).parent / "pages"
_FORM_PAGE = """<!doctype html><html><head><title>Sign up</title></head><body>
<article><h1>Harbour bridge reopens</h1><p>The bridge reopened on Tuesday.</p>
<form action="/subscribe"><label for="e">E-mail</label><input id="e" name="e"></form>
</article></body></html>"""
_CASES = {
    **{path.name: path.read_text(encoding="utf-8") for path in sorted(PAGES.glob("*.html"))},
    "a form": _FORM_PAGE,
    # A str that declares its encoding: lxml refuses it, both parse its UTF-8 bytes instead.
    "XML declaration": '<?xml version="1.0" encoding="utf-8"?>\n' + _FORM_PAGE,
    # No "html" in its first characters and a single block: both say it is no page.
    "a bare fragment": "<p>Just a paragraph, not a page.</p>",
    "not markup": "plain text with no tags at all",
}


@pytest.mark.parametrize("name", sorted(_CASES))
def test_the_tree_is_the_one_trafilatura_parses(name: str) -> None:
    html = _CASES[name]
    ours, theirs = load_html(html), trafilatura_load_html(html)
    assert (ours is None) == (theirs is None)
    if ours is not None:
        assert etree.tostring(ours, encoding="unicode") == etree.tostring(theirs, encoding="unicode")


def test_every_element_is_a_plain_html_element_chosen_without_a_python_lookup() -> None:
    tree = load_html(_FORM_PAGE)
    assert tree is not None
    form = tree.find(".//form")
    # trafilatura's parser makes a FormElement here, through a Python callback per element.
    assert isinstance(trafilatura_load_html(_FORM_PAGE).find(".//form"), FormElement)
    assert type(form) is HtmlElement
    assert all(isinstance(element, HtmlElement) for element in tree.iter())
    # lxml.html's methods still work on them, and on copies of the tree.
    assert "Harbour bridge reopens" in tree.text_content()
    assert type(tree.__copy__().find(".//form")) is HtmlElement


def test_a_page_extracts_to_the_same_document_through_either_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    html = (PAGES / "news_jsonld.html").read_text(encoding="utf-8")
    url = "https://news.example.com/2024/03/05/harbour-bridge"
    ours = extract_document(html, url, min_words=20)
    monkeypatch.setattr("newsdedup.extract.extractor.load_html", trafilatura_load_html)
    assert extract_document(html, url, min_words=20) == ours
