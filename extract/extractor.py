"""HTML page → Document, or a Rejection that says why there is no article.

trafilatura finds the article text; the metadata comes from the page's own structured data
first (``extract/metadata.py``), trafilatura's and htmldate's heuristics after. Nothing here
raises on bad input: cut-off, binary or huge pages become a Rejection.

The text must not change when only the page around the article does (dedup would see a new
version): ad slots and teaser boxes are cut from the tree first (``extract/chrome.py``), and
chrome lines that get through are dropped from the text (``extract/text.py``). "Updated ..."
lines are read for ``modified_at`` before either happens.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

from htmldate import find_date
from lxml import etree
from trafilatura import bare_extraction
from trafilatura.metadata import examine_meta, extract_author, extract_meta_json, extract_metadata
from trafilatura.utils import decode_file, line_processing

from newsdedup.extract import metadata as meta
from newsdedup.extract import overrides
from newsdedup.extract.chrome import strip_chrome_blocks
from newsdedup.extract.document import DEFAULT_MAX_TEXT_CHARS, Document, Rejection
from newsdedup.extract.html_tree import load_html
from newsdedup.extract.language_id import identify_language
from newsdedup.extract.rules import ExtractionRules
from newsdedup.extract.safe_text import xml_safe
from newsdedup.extract.structured import StructuredData, read_structured_data
from newsdedup.extract.text import clean_text, word_count
from newsdedup.extract.urls import normalize_url

LOGGER = logging.getLogger(__name__)

# trafilatura's own MAX_FILE_SIZE: beyond it, a page is not an article page.
MAX_HTML_CHARS = 20_000_000
# trafilatura settings chosen by bench/extraction.py (text F1 on the Fundus pages).
TRAFILATURA_OPTIONS: dict[str, Any] = {
    "include_comments": False,
    "include_tables": True,
    "favor_precision": False,
    "favor_recall": False,
}
# trafilatura runs in its fast mode (no comparison with readability and jusText, a fifth
# of the time) unless that result looks like it missed the article (``_missed_article``):
# then the full cascade runs. Text F1 on the Fundus pages: full cascade 0.947, fast alone
# 0.935, fast with this fallback 0.950 (on 3 % of pages).
_FAST_MIN_SHARE_OF_PARAGRAPHS = 0.25  # of the characters in the page's <p> elements
_FAST_MIN_SHARE_IN_LONG_LINES = 0.25  # of the text in lines of _LONG_LINE_CHARS or more
_LONG_LINE_CHARS = 80
_PARAGRAPH_TEXTS = etree.XPath("//p//text()", smart_strings=False)
# Keys of Page.hints the extractor understands (what a feed entry or a news sitemap said).
HINT_TITLE = "title"
HINT_PUBLISHED = "published"
HINT_LANGUAGE = "language"

_TAG = re.compile(r"<\s*[a-zA-Z!/?]")
_BINARY_CHARS = re.compile(r"[\x00-\x08\x0e-\x1f\ufffd]")


def _looks_binary(text: str) -> bool:
    sample = text[:4096]
    return len(_BINARY_CHARS.findall(sample)) > max(8, len(sample) // 20)


def extract_document(
    html: str | bytes,
    url: str,
    *,
    min_words: int = 20,
    hints: Mapping[str, str] | None = None,
    now: datetime | None = None,
    max_chars: int = DEFAULT_MAX_TEXT_CHARS,
    rules: ExtractionRules | None = None,
) -> Document | Rejection:
    """The article on the page at ``url``, or a Rejection with a reason code.

    Reason codes: "empty" (nothing there), "not-html" (binary or no markup), "too-large",
    "no-article-text" (no main text found: navigation pages, players, galleries),
    "too-short" (fewer than ``min_words`` words), "too-long" (a text of more than
    ``max_chars`` characters). ``hints`` are what discovery said about
    the page ("title", "published", "language"), used only where the page says nothing.
    ``now`` bounds dates from the future (default: the current time). ``rules``: the source's
    extraction overrides (``extract/overrides.py``), which win over what is found generically.
    """
    page_url = normalize_url(url)
    hints = hints or {}
    try:
        if isinstance(html, bytes):
            if len(html) > MAX_HTML_CHARS:
                return Rejection(page_url, "too-large", f"{len(html)} bytes")
            html = decode_file(html)
        return _extract(
            html,
            url,
            page_url,
            min_words=min_words,
            max_chars=max_chars,
            hints=hints,
            now=now or datetime.now(UTC),
            rules=rules,
        )
    except Exception as exc:  # noqa: BLE001 - a page must never crash the pipeline
        LOGGER.warning("extraction failed for %s: %r", url, exc)
        return Rejection(page_url, "not-html", f"extraction failed: {exc!r}"[:300])


def _extract(
    html: str,
    url: str,
    page_url: str,
    *,
    min_words: int,
    max_chars: int,
    hints: Mapping[str, str],
    now: datetime,
    rules: ExtractionRules | None = None,
) -> Document | Rejection:
    if len(html) > MAX_HTML_CHARS:
        return Rejection(page_url, "too-large", f"{len(html)} characters")
    if not html.strip():
        return Rejection(page_url, "empty", "no content")
    if _looks_binary(html) or not _TAG.search(html[:200_000]):
        return Rejection(page_url, "not-html", "no HTML markup")
    tree = load_html(html)
    if tree is None:
        return Rejection(page_url, "not-html", "the HTML parser found no document")
    overrides.drop_selected(tree, rules)

    data = read_structured_data(tree)
    # "Updated ..." lines are read before trafilatura prunes the tree and clean_text drops them.
    has_structured_modified = any(
        meta.parse_date(value)
        for value in meta.modified_candidates(data, meta.choose_article_object(data, {page_url}))
    )
    updates = [] if has_structured_modified else meta.update_lines(tree)
    strip_chrome_blocks(tree)
    selected = overrides.selected_text(tree, rules)
    # Text only: trafilatura's metadata is a fallback, asked below when the page's own
    # structured data leaves a field empty (bare_extraction works on a copy of ``tree``).
    result: Any = None
    if not selected:
        result = bare_extraction(tree, url=url, with_metadata=False, fast=True, **TRAFILATURA_OPTIONS)
        if _missed_article(result, tree):
            result = bare_extraction(tree, url=url, with_metadata=False, fast=False, **TRAFILATURA_OPTIONS)
    if selected:
        text = clean_text(selected)
    else:
        text = clean_text(result.text or "") if result is not None else ""
    article = meta.choose_article_object(data, {page_url})
    if word_count(text) < min_words and article and not selected:
        # Pages that render the body with JavaScript often still carry it in JSON-LD.
        body = clean_text(meta.text_value(article.get("articleBody")))
        if word_count(body) > word_count(text):
            text = body
    if not text:
        return Rejection(page_url, "no-article-text", "no main text found")
    if len(text) > max_chars:
        return Rejection(page_url, "too-long", f"{len(text)} characters of text, more than {max_chars}")
    words = word_count(text)
    if words < min_words:
        return Rejection(
            page_url, "too-short", f"{words} words, fewer than {min_words}", extra={"words": str(words)}
        )

    canonical_url = meta.choose_canonical(data, article, page_url)
    if canonical_url != page_url and article is not None:
        # The article object may name the canonical URL rather than the fetched one.
        article = meta.choose_article_object(data, {page_url, canonical_url})
    heuristics = _TrafilaturaMetadata(tree, url, now) if result is not None or selected else None

    def heuristic(name: str) -> meta.Fallback:
        return (lambda: heuristics.get(name)) if heuristics is not None else None

    site_name = meta.choose_site_name(data, article, heuristic("sitename"))
    title = overrides.selected_title(tree, rules, article) or meta.choose_title(
        data,
        article,
        meta.site_names_for_titles(data, article, site_name),
        page_url,
        hints.get(HINT_TITLE) or heuristic("title"),
    )
    text = _without_leading_title(text, title)
    published_at, modified_at = meta.choose_dates(
        data,
        article,
        now=now,
        heuristic_published=heuristic("date"),
        heuristic_modified=lambda: _heuristic_modified(tree, data, article, url, now),
        hinted_published=hints.get(HINT_PUBLISHED),
        visible_modified=(
            (
                lambda published: meta.visible_modified(
                    updates, published, now, meta.choose_language(data, article, None)
                )
            )
            if updates
            else None
        ),
    )
    published_at, modified_at = _selected_date(tree, rules, now, published_at, modified_at)
    authors = overrides.selected_authors(tree, rules) or meta.choose_authors(
        data, article, heuristic("author")
    )
    description = meta.choose_description(data, article, heuristic("description"))
    # Every field leaves extraction fit for XML: one control character in a JSON-LD headline
    # would otherwise make the Atom feed unwritable for as long as the article is in it.
    return Document(
        text=xml_safe(text),
        title=xml_safe(title),
        url=page_url,
        canonical_url=xml_safe(canonical_url),
        authors=tuple(a for a in (xml_safe(author).strip() for author in authors) if a),
        published_at=published_at,
        modified_at=modified_at,
        language=meta.choose_language(data, article, hints.get(HINT_LANGUAGE) or heuristic("language"))
        or identify_language(text),
        description=xml_safe(description) if description else description,
        site_name=xml_safe(site_name) if site_name else site_name,
    )


def _selected_date(
    tree: Any,
    rules: ExtractionRules | None,
    now: datetime,
    published: datetime | None,
    modified: datetime | None,
) -> tuple[datetime | None, datetime | None]:
    """(published, modified) with the ``date`` rule's date as published when it reads as a date
    that is not in the future; a modification before it is dropped."""
    chosen = meta.parse_date(overrides.selected_date(tree, rules))
    if chosen is None or chosen > now + timedelta(days=1):
        return published, modified
    return chosen, modified if modified is None or modified >= chosen else None


def _missed_article(result: Any, tree: Any) -> bool:
    """Whether trafilatura's fast result looks like it missed the article: nothing, much
    less text than the page has in paragraphs (a teaser or a caption was taken for the
    article), or text in short lines (a navigation menu)."""
    text = (result.text or "") if result is not None else ""
    if not text:
        return True
    paragraph_chars = sum(len(piece.strip()) for piece in _PARAGRAPH_TEXTS(tree))
    if len(text) < _FAST_MIN_SHARE_OF_PARAGRAPHS * paragraph_chars:
        return True
    in_long_lines = sum(len(line) for line in text.splitlines() if len(line) >= _LONG_LINE_CHARS)
    return in_long_lines < _FAST_MIN_SHARE_IN_LONG_LINES * len(text)


def _without_leading_title(text: str, title: str) -> str:
    """The text without a first line repeating the headline (trafilatura keeps an <h1> that
    sits inside the article container, and not one outside it: the text should not depend on it)."""
    first, _, rest = text.partition("\n")
    if rest and title and meta.squash(first) == meta.squash(title):
        return rest
    return text


class _TrafilaturaMetadata:
    """trafilatura's metadata of the page (its heuristics and htmldate's original date),
    computed on first use: on most pages the structured data answers every field first.
    When the author is the first field asked, only the steps that decide it run
    (``_trafilatura_author``); any other field runs the whole of ``extract_metadata``."""

    def __init__(self, tree: Any, url: str, now: datetime) -> None:
        self._tree, self._url, self._now = tree, url, now
        self._document: Any = None
        self._done = False
        self._author: tuple[str | None] | None = None

    def get(self, name: str) -> str | None:
        if name == "author" and not self._done:
            if self._author is None:
                try:
                    self._author = (_trafilatura_author(self._tree),)
                except Exception:  # noqa: BLE001 - a heuristic that fails gives no value
                    self._author = (None,)
            return self._author[0]
        if not self._done:
            self._done = True
            try:
                self._document = extract_metadata(
                    self._tree,
                    self._url,
                    {
                        "original_date": True,
                        "extensive_search": True,
                        "max_date": self._now.strftime("%Y-%m-%d"),
                    },
                )
            except Exception:  # noqa: BLE001 - a heuristic that fails gives no value
                self._document = None
        return getattr(self._document, name, None) if self._document is not None else None


def _trafilatura_author(tree: Any) -> str | None:
    """The author ``trafilatura.metadata.extract_metadata`` finds, from the steps of it that
    decide the author, in its order: the <meta> tags (a one-word name dropped), JSON-LD, the
    byline heuristics, then its trimming. The rest (title, URL, htmldate's date, site name,
    categories, tags, licence) is most of its time and tells nothing of the author."""
    metadata = examine_meta(tree)
    if metadata.author and " " not in metadata.author:
        metadata.author = None
    try:
        metadata = extract_meta_json(tree, metadata)
    except Exception:  # noqa: BLE001 - as extract_metadata: bugs in trafilatura's JSON-LD reading
        pass
    author = metadata.author or extract_author(tree)
    if not isinstance(author, str):
        return None
    if len(author) > 10000:  # Document.clean_and_trim
        author = author[:9999] + "…"
    return line_processing(unescape(author))


def _heuristic_modified(
    tree: Any, data: StructuredData, article: dict[str, Any] | None, url: str, now: datetime
) -> str | None:
    """htmldate's latest date, asked only when the page states no modification date (it is slow)."""
    if any(meta.parse_date(value) for value in meta.modified_candidates(data, article)):
        return None
    try:
        return find_date(
            tree, extensive_search=True, original_date=False, url=url, max_date=now.strftime("%Y-%m-%d")
        )
    except Exception:  # noqa: BLE001 - htmldate on odd markup; no date is an answer
        return None
