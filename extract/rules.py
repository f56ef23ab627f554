"""Per-source page rules from the sources file: extraction overrides and accepted languages.

A generic extractor gets some publishers wrong (a title taken from the wrong element, a body
that misses half the article). A source may then say where each field comes from:

    extraction:
      title: h1                       # headline | og:title | h1 | a selector
      body: "article .story-body"     # a selector: the article text
      date: "//time/@datetime"        # a selector: the publication date
      authors: ".byline a"            # a selector: one author per match
      drop: [".newsletter-signup", "//aside"]   # selectors removed before anything else

A selector is XPath when it starts with "/" or "(", else CSS (parsel's dialect, so
``time::attr(datetime)`` and ``h1::text`` work). Every selector is compiled here, when the
sources file is loaded, so a typo stops the start-up instead of failing each page.

The rules are plain strings in frozen dataclasses: they travel to extraction processes and
are compiled again (and cached) there (``extract/overrides.py``). They belong to extraction,
which takes them; the sources-file loader (``config/sources.py``) builds them, so config
imports this module and extract imports nothing of ours (pyproject.toml, [tool.importlinter]).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cssselect import SelectorError
from lxml import etree
from parsel.csstranslator import HTMLTranslator

# Where a title may come from besides a selector.
TITLE_SOURCES = ("headline", "og:title", "h1")
EXTRACTION_KEYS = ("title", "body", "date", "authors", "drop")
# ISO 639-1: the two-letter language codes a source's ``languages`` may name.
ISO_639_1 = frozenset(
    """aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv
    cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr
    ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw
    ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv
    ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr
    ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi
    yo za zh zu""".split()  # noqa: SIM905 - a table, not a list to edit
)


class RuleError(ValueError):
    """A bad sub-key of ``extraction``; ``key`` names it (e.g. "body")."""

    def __init__(self, key: str, why: str) -> None:
        super().__init__(why)
        self.key = key


@dataclass(frozen=True)
class ExtractionRules:
    """Where a source's fields come from; None (or no ``drop``): the generic extractor decides."""

    title: str | None = None  # "headline", "og:title", "h1" or a selector
    body: str | None = None
    date: str | None = None
    authors: str | None = None
    drop: tuple[str, ...] = ()


@dataclass(frozen=True)
class PageRules:
    """What a source asks of the extraction of its pages."""

    extraction: ExtractionRules | None = None
    languages: tuple[str, ...] = ()  # empty: every language is kept


def is_xpath(selector: str) -> bool:
    return selector.startswith(("/", "("))


@lru_cache(maxsize=512)
def compile_selector(selector: str) -> etree.XPath:
    """The selector as a compiled XPath (CSS translated first); ValueError when it is not valid."""
    try:
        expression = selector if is_xpath(selector) else HTMLTranslator().css_to_xpath(selector)
        return etree.XPath(expression, smart_strings=False)
    except (SyntaxError, SelectorError, etree.XPathError) as exc:  # cssselect's and lxml's errors
        kind = "XPath" if is_xpath(selector) else "CSS selector"
        raise ValueError(f"{selector!r} is not a valid {kind}: {exc}") from None


def parse_extraction(value: Any) -> ExtractionRules:
    """Validate a source's ``extraction`` mapping; RuleError names the bad sub-key."""
    if not isinstance(value, dict) or not value:
        raise ValueError(f"must be a mapping with some of: {', '.join(EXTRACTION_KEYS)}")
    for key in value:
        if key not in EXTRACTION_KEYS:
            raise RuleError(str(key), f"unknown key (known: {', '.join(EXTRACTION_KEYS)})")
    fields: dict[str, Any] = {}
    for key in ("title", "body", "date", "authors"):
        if key not in value:
            continue
        selector = value[key]
        if not isinstance(selector, str) or not selector.strip():
            raise RuleError(key, "must be a selector string")
        selector = selector.strip()
        if not (key == "title" and selector in TITLE_SOURCES):
            _check(key, selector)
        fields[key] = selector
    drop = value.get("drop", [])
    if isinstance(drop, str):
        drop = [drop]
    if not isinstance(drop, list) or not all(isinstance(s, str) and s.strip() for s in drop):
        raise RuleError("drop", "must be a list of selectors")
    for selector in drop:
        _check("drop", selector.strip())
    return ExtractionRules(**fields, drop=tuple(s.strip() for s in drop))


def _check(key: str, selector: str) -> None:
    try:
        compile_selector(selector)
    except ValueError as exc:
        raise RuleError(key, str(exc)) from None


def parse_languages(value: Any) -> tuple[str, ...]:
    """Validate a source's ``languages`` list (ISO 639-1 codes, any case)."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise ValueError("must be a list of ISO 639-1 language codes, e.g. [en, de]")
    codes: list[str] = []
    for code in value:
        if not isinstance(code, str) or code.strip().lower() not in ISO_639_1:
            raise ValueError(f"{code!r} is not an ISO 639-1 language code (two letters, e.g. en)")
        if code.strip().lower() not in codes:
            codes.append(code.strip().lower())
    return tuple(codes)
