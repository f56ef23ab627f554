"""A source's extraction rules (``extract/rules.py``) applied to a page's tree.

Each rule is authoritative where it finds something and silent where it does not: a selector
that matches nothing on a page (the publisher changed its templates) leaves that field to the
generic extractor, rather than turning every page of the source into a rejection.
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

from newsdedup.extract.chrome import remove_keeping_tail
from newsdedup.extract.rules import ExtractionRules, compile_selector

# Elements whose end is the end of a line of text (the body rule keeps paragraphs apart).
_BLOCK_TAGS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "dd",
        "div",
        "dl",
        "dt",
        "figcaption",
        "figure",
        "footer",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "td",
        "th",
        "tr",
        "ul",
    ]
)
_SKIPPED_TAGS = frozenset(("script", "style", "noscript", "template", "iframe", "svg", "button", "form"))
_SPACES = re.compile(r"\s+")


def drop_selected(tree: Any, rules: ExtractionRules | None) -> None:
    """Remove the elements the ``drop`` selectors match (their tail text stays)."""
    if rules is None:
        return
    for selector in rules.drop:
        for found in _select(tree, selector):
            if isinstance(found, etree._Element) and found.getparent() is not None:
                remove_keeping_tail(found)


def selected_text(tree: Any, rules: ExtractionRules | None) -> str:
    """The text of what the ``body`` selector matches, one line per block element; "" when
    there is no body rule or it matches nothing."""
    if rules is None or not rules.body:
        return ""
    parts: list[str] = []
    for found in _select(tree, rules.body):
        if isinstance(found, etree._Element):
            parts.append(_block_text(found))
        elif isinstance(found, str):
            parts.append(found)
    lines = (_SPACES.sub(" ", line).strip() for line in "\n".join(parts).splitlines())
    return "\n".join(line for line in lines if line)


def selected_title(tree: Any, rules: ExtractionRules | None, article: dict[str, Any] | None) -> str | None:
    """The title the ``title`` rule names: the structured data's headline, og:title, the first
    <h1>, or the first match of a selector."""
    if rules is None or not rules.title:
        return None
    if rules.title == "headline":
        headline = (article or {}).get("headline")
        if isinstance(headline, list):
            headline = headline[0] if headline else None
        return _squashed(headline) if isinstance(headline, str) else None
    if rules.title == "og:title":
        return _first(tree, "//meta[@property='og:title' or @name='og:title']/@content")
    return _first(tree, "//h1" if rules.title == "h1" else rules.title)


def selected_date(tree: Any, rules: ExtractionRules | None) -> str | None:
    """The first non-empty match of the ``date`` selector (an attribute or a text)."""
    if rules is None or not rules.date:
        return None
    return _first(tree, rules.date)


def selected_authors(tree: Any, rules: ExtractionRules | None) -> list[str]:
    """One author per match of the ``authors`` selector, in page order, each once."""
    if rules is None or not rules.authors:
        return []
    authors: list[str] = []
    for found in _select(tree, rules.authors):
        name = _value(found)
        if name and name not in authors:
            authors.append(name)
    return authors


def _select(tree: Any, selector: str) -> list[Any]:
    try:
        result = compile_selector(selector)(tree)
    except etree.XPathError:  # compiled at start-up, but evaluation can still fail (a bad function)
        return []
    return result if isinstance(result, list) else [result]


def _first(tree: Any, selector: str) -> str | None:
    for found in _select(tree, selector):
        value = _value(found)
        if value:
            return value
    return None


def _value(found: Any) -> str:
    if isinstance(found, etree._Element):
        return _squashed(_block_text(found))
    if isinstance(found, str):
        return _squashed(found)
    return ""


def _squashed(text: str | None) -> str:
    return _SPACES.sub(" ", text or "").strip()


def _block_text(element: Any) -> str:
    pieces: list[str] = []
    _collect(element, pieces)
    return "".join(pieces)


def _collect(element: Any, pieces: list[str]) -> None:
    tag = element.tag if isinstance(element.tag, str) else ""
    if tag.lower() in _SKIPPED_TAGS or not tag:  # comments and processing instructions too
        return
    block = tag.lower() in _BLOCK_TAGS
    if block:
        pieces.append("\n")
    if element.text:
        pieces.append(element.text)
    for child in element:
        _collect(child, pieces)
        if child.tail:
            pieces.append(child.tail)
    if block:
        pieces.append("\n")
