"""What a page says about itself in markup: JSON-LD, <meta> tags, rel=canonical, <h1>, lang.

Read once from the parsed tree into plain values; the choices between them are made in
``extract/metadata.py``. Nothing here raises on malformed markup: a broken JSON-LD block or a
missing attribute just contributes nothing.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from lxml.html import HtmlElement

# schema.org types whose object is the article itself.
ARTICLE_TYPES = frozenset(
    {
        "newsarticle",
        "article",
        "reportagenewsarticle",
        "analysisnewsarticle",
        "opinionnewsarticle",
        "backgroundnewsarticle",
        "reviewnewsarticle",
        "askpublicnewsarticle",
        "satiricalarticle",
        "blogposting",
        "liveblogposting",
        "report",
        "techarticle",
        "socialmediaposting",
        "scholarlyarticle",
        "posting",
        "videoobject",
    }
)
# Preferred over the generic "article" family when a page carries several objects.
_NEWS_TYPES = ARTICLE_TYPES - {"videoobject", "socialmediaposting", "scholarlyarticle", "techarticle"}
_WEBPAGE_TYPES = frozenset({"webpage", "itempage", "collectionpage"})

_WHITESPACE = re.compile(r"\s+")
# What a page says of itself in one field (a <meta> content, <title>, an <h1>) is short;
# longer values are cut here, before any pattern of extract/metadata.py reads them.
MAX_FIELD_CHARS = 2000
# Trailing commas, HTML comments and CDATA wrappers are the usual ways JSON-LD blocks break.
_JSON_JUNK = re.compile(
    r"^\s*(?:<!--|/\*\s*<!\[CDATA\[\s*\*/|<!\[CDATA\[)|(?:-->|/\*\s*\]\]>\s*\*/|\]\]>)\s*$"
)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")
# The elements carrying an itemprop date, found from the itemprop attributes (the few there
# are) rather than by testing every element of the page; in document order.
_ITEMPROP_DATES = etree.XPath('//@itemprop[. = "datePublished" or . = "dateModified"]/..')
_CANONICAL_CASE = str.maketrans("CANONICAL", "canonical")


def clean_space(value: str | None) -> str:
    """``value`` with entities decoded and whitespace runs collapsed to one space."""
    if not value:
        return ""
    return _WHITESPACE.sub(" ", html.unescape(str(value))).strip()


def clean_field(value: str | None, limit: int = MAX_FIELD_CHARS) -> str:
    """``clean_space`` of a field the page controls, at most ``limit`` characters."""
    if not value:
        return ""
    return clean_space(str(value)[: 4 * limit])[:limit]


def type_names(obj: dict[str, Any]) -> set[str]:
    raw = obj.get("@type", ())
    names = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
    return {str(name).rsplit("/", 1)[-1].lower() for name in names}


@dataclass
class StructuredData:
    """Everything the markup says, unprocessed except for whitespace."""

    articles: list[dict[str, Any]] = field(default_factory=list)  # JSON-LD article objects
    webpages: list[dict[str, Any]] = field(default_factory=list)  # JSON-LD WebPage objects
    organizations: list[dict[str, Any]] = field(default_factory=list)
    meta: dict[str, list[str]] = field(default_factory=dict)  # lower-case name/property/itemprop → contents
    canonical_link: str | None = None
    title_tag: str = ""
    h1: list[str] = field(default_factory=list)
    html_lang: str | None = None
    time_pubdate: list[str] = field(default_factory=list)  # <time pubdate datetime=...>

    def first_meta(self, *names: str) -> str | None:
        for name in names:
            for value in self.meta.get(name, ()):
                if value:
                    return value
        return None

    def all_meta(self, *names: str) -> list[str]:
        return [value for name in names for value in self.meta.get(name, ()) if value]


def _load_json(text: str) -> Any:
    text = _JSON_JUNK.sub("", text.strip()).strip().rstrip(";")
    try:
        return json.loads(text, strict=False)
    except RecursionError:
        return None  # nested deeper than Python's stack: no publisher writes that
    except ValueError:
        pass
    try:
        return json.loads(_TRAILING_COMMA.sub(r"\1", text), strict=False)
    except (ValueError, RecursionError):
        return None


def _walk(node: Any, depth: int = 0) -> Iterator[dict[str, Any]]:
    """Every dict with an @type under ``node`` (lists, @graph, mainEntity, nested objects)."""
    if depth > 6:
        return
    if isinstance(node, list):
        for item in node:
            yield from _walk(item, depth + 1)
    elif isinstance(node, dict):
        if "@type" in node:
            yield node
        for key in ("@graph", "mainEntity", "itemListElement", "hasPart", "item"):
            if key in node:
                yield from _walk(node[key], depth + 1)


def read_structured_data(tree: HtmlElement) -> StructuredData:
    data = StructuredData()
    for script in tree.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json" or not script.text:
            continue
        for obj in _walk(_load_json(script.text)):
            types = type_names(obj)
            if types & ARTICLE_TYPES:
                data.articles.append(obj)
            elif types & _WEBPAGE_TYPES:
                data.webpages.append(obj)
            elif types & {"organization", "newsmediaorganization"}:
                data.organizations.append(obj)

    for meta in tree.iter("meta"):
        key = meta.get("property") or meta.get("name") or meta.get("itemprop") or meta.get("http-equiv")
        content = meta.get("content")
        if key and content is not None:
            data.meta.setdefault(key.strip().lower()[:100], []).append(clean_field(content))
    # itemprop dates are often on <time>/<span> elements rather than <meta>.
    for element in _ITEMPROP_DATES(tree):
        if element.tag == "meta":
            continue
        value = element.get("datetime") or element.get("content")
        if value:
            data.meta.setdefault(element.get("itemprop").lower(), []).append(value.strip()[:MAX_FIELD_CHARS])
    for element in tree.iter("time"):
        if element.get("pubdate") is None:
            continue
        value = element.get("datetime") or element.get("pubdate")
        if value:
            data.time_pubdate.append(value.strip()[:MAX_FIELD_CHARS])

    for link in tree.iter("link"):
        href = link.get("href")
        # rel's words, "canonical" in any case of its letters (as XPath's translate() reads it).
        if href is not None and " canonical " in f" {(link.get('rel') or '').translate(_CANONICAL_CASE)} ":
            data.canonical_link = href.strip()[:MAX_FIELD_CHARS]
            break
    title = tree.find(".//title")
    if title is not None:
        data.title_tag = clean_field(title.text_content())
    data.h1 = [text for text in (clean_field(h.text_content()) for h in tree.iter("h1")) if text]
    root = tree.getroottree().getroot()
    data.html_lang = (
        root.get("lang") or root.get("xml:lang") or root.get("{http://www.w3.org/XML/1998/namespace}lang")
    )
    return data
