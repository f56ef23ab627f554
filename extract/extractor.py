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
from datetime import datetime, timezone
from typing import Any, Mapping

from htmldate import find_date
from trafilatura import bare_extraction
from trafilatura.utils import decode_file, load_html

from extract import metadata as meta
from extract.chrome import strip_chrome_blocks
from extract.document import Document, Rejection
from extract.structured import StructuredData, read_structured_data
from extract.text import clean_text, word_count
from extract.urls import normalize_url

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
) -> Document | Rejection:
    """The article on the page at ``url``, or a Rejection with a reason code.

    Reason codes: "empty" (nothing there), "not-html" (binary or no markup), "too-large",
    "no-article-text" (no main text found: navigation pages, players, galleries),
    "too-short" (fewer than ``min_words`` words). ``hints`` are what discovery said about
    the page ("title", "published", "language"), used only where the page says nothing.
    ``now`` bounds dates from the future (default: the current time).
    """
    page_url = normalize_url(url)
    hints = hints or {}
    try:
        if isinstance(html, bytes):
            if len(html) > MAX_HTML_CHARS:
                return Rejection(page_url, "too-large", f"{len(html)} bytes")
            html = decode_file(html)
        return _extract(html, url, page_url, min_words=min_words, hints=hints, now=now or datetime.now(timezone.utc))
    except Exception as exc:  # noqa: BLE001 - a page must never crash the pipeline
        LOGGER.warning("extraction failed for %s: %r", url, exc)
        return Rejection(page_url, "not-html", f"extraction failed: {exc!r}"[:300])


def _extract(html: str, url: str, page_url: str, *, min_words: int, hints: Mapping[str, str], now: datetime) -> Document | Rejection:
    if len(html) > MAX_HTML_CHARS:
        return Rejection(page_url, "too-large", f"{len(html)} characters")
    if not html.strip():
        return Rejection(page_url, "empty", "no content")
    if _looks_binary(html) or not _TAG.search(html[:200_000]):
        return Rejection(page_url, "not-html", "no HTML markup")
    tree = load_html(html)
    if tree is None:
        return Rejection(page_url, "not-html", "the HTML parser found no document")

    data = read_structured_data(tree)
    # "Updated ..." lines are read before trafilatura prunes the tree and clean_text drops them.
    has_structured_modified = any(meta.parse_date(value) for value in meta.modified_candidates(data, meta.choose_article_object(data, {page_url})))
    updates = [] if has_structured_modified else meta.update_lines(tree)
    strip_chrome_blocks(tree)
    result = bare_extraction(
        tree,
        url=url,
        with_metadata=True,
        date_extraction_params={"original_date": True, "extensive_search": True, "max_date": now.strftime("%Y-%m-%d")},
        **TRAFILATURA_OPTIONS,
    )
    text = clean_text(result.text or "") if result is not None else ""
    article = meta.choose_article_object(data, {page_url})
    if word_count(text) < min_words and article:
        # Pages that render the body with JavaScript often still carry it in JSON-LD.
        body = clean_text(meta.text_value(article.get("articleBody")))
        if word_count(body) > word_count(text):
            text = body
    if not text:
        return Rejection(page_url, "no-article-text", "no main text found")
    words = word_count(text)
    if words < min_words:
        return Rejection(page_url, "too-short", f"{words} words, fewer than {min_words}", extra={"words": str(words)})

    canonical_url = meta.choose_canonical(data, article, page_url)
    if canonical_url != page_url and article is not None:
        # The article object may name the canonical URL rather than the fetched one.
        article = meta.choose_article_object(data, {page_url, canonical_url})
    site_name = meta.choose_site_name(data, article, result.sitename if result else None)
    title = meta.choose_title(data, article, meta.site_names_for_titles(data, article, site_name), page_url, hints.get(HINT_TITLE) or (result.title if result else None))
    text = _without_leading_title(text, title)
    published_at, modified_at = meta.choose_dates(
        data,
        article,
        now=now,
        heuristic_published=result.date if result else None,
        heuristic_modified=_heuristic_modified(tree, data, article, url, now),
        hinted_published=hints.get(HINT_PUBLISHED),
        visible_modified=(
            (lambda published: meta.visible_modified(updates, published, now, meta.choose_language(data, article, None)))
            if updates else None
        ),
    )
    return Document(
        text=text,
        title=title,
        url=page_url,
        canonical_url=canonical_url,
        authors=tuple(meta.choose_authors(data, article, result.author if result else None)),
        published_at=published_at,
        modified_at=modified_at,
        language=meta.choose_language(data, article, hints.get(HINT_LANGUAGE) or (result.language if result else None)),
        description=meta.choose_description(data, article, result.description if result else None),
        site_name=site_name,
    )


def _without_leading_title(text: str, title: str) -> str:
    """The text without a first line repeating the headline (trafilatura keeps an <h1> that
    sits inside the article container, and not one outside it: the text should not depend on it)."""
    first, _, rest = text.partition("\n")
    if rest and title and meta.squash(first) == meta.squash(title):
        return rest
    return text


def _heuristic_modified(tree: Any, data: StructuredData, article: dict[str, Any] | None, url: str, now: datetime) -> str | None:
    """htmldate's latest date, asked only when the page states no modification date (it is slow)."""
    if any(meta.parse_date(value) for value in meta.modified_candidates(data, article)):
        return None
    try:
        return find_date(tree, extensive_search=True, original_date=False, url=url, max_date=now.strftime("%Y-%m-%d"))
    except Exception:  # noqa: BLE001 - htmldate on odd markup; no date is an answer
        return None
