"""The work done on one fetched page: extract → dedup → store. Plain functions, no Celery.

Two halves: ``prepare_page`` (extract and fingerprint: pure, most of the CPU time, may run in
another process) and ``PagePipeline.commit`` (candidates, decision, store: one writer at a
time). ``PagePipeline.process`` does both; distributed mode calls it from a thin Celery task,
embedded mode calls it in the crawling process or runs ``prepare_page`` in an
``ExtractionPool`` and commits the results in the order the pages arrived.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from crawler.page import Page
from dedup import CandidateIndex, DedupParams, Fingerprint, IndexMissing, PageFacts, decide
from dedup.fingerprint import fingerprint_lines, normalized_lines
from extract import Document, Rejection, extract_document
from extract.extractor import DEFAULT_MAX_TEXT_CHARS
from extract.text import word_count
from workers.budget import page_budget

if TYPE_CHECKING:  # only a type here: pool processes import this module and need no SQL
    from store import Store

log = logging.getLogger(__name__)

OutcomeKind = Literal["created", "updated", "duplicate", "unchanged", "rejected", "failed"]
KIND_BY_DECISION: dict[str, OutcomeKind] = {
    "new": "created", "version": "updated", "duplicate": "duplicate", "unchanged": "unchanged",
}


@dataclass(frozen=True)
class PageOutcome:
    url: str
    source: str
    kind: OutcomeKind
    article_id: str | None = None
    version: int | None = None
    reason: str = ""


@dataclass(frozen=True)
class PreparedPage:
    """What extraction makes of a page: a document and its fingerprint, or a rejection."""

    extracted: Document | Rejection
    fingerprint: Fingerprint | None = None


def content_words(text: str) -> int:
    """Words of the text once the lines dedup ignores (page chrome, generic boilerplate such as
    newsletter prompts) are dropped: what the article itself says."""
    return _content(text)[0]


def _content(text: str) -> tuple[int, list[tuple[str, str]]]:
    """``content_words`` and the normalized lines, from one pass of normalization."""
    lines = normalized_lines(text)
    return word_count("\n".join(line for line, normalized in lines if normalized)), lines


def prepare_page(page: Page, min_words: int, params: DedupParams,
                 max_text_chars: int = DEFAULT_MAX_TEXT_CHARS) -> PreparedPage:
    """Extract and fingerprint ``page``. Touches no store or index (safe in a pool process)."""
    extracted = extract_document(page.html, page.final_url, min_words=min_words, hints=page.hints,
                                 max_chars=max_text_chars)
    if isinstance(extracted, Rejection):
        return PreparedPage(extracted)
    # Extraction counts every word it kept; a page whose text is mostly a newsletter prompt
    # ("Loading the live dashboard..." and a sign-up box) holds no article all the same.
    words, lines = _content(extracted.text)
    if words < min_words:
        return PreparedPage(Rejection(
            extracted.url, "too-short",
            f"{words} words without page chrome and boilerplate, fewer than {min_words}", extra={"words": str(words)},
        ))
    return PreparedPage(extracted, fingerprint_lines(lines, params))


# Distributed mode passes a Redis lock here so that decide-and-insert is atomic across
# workers; embedded mode has one writer and needs none.
DecisionLock = Callable[[], AbstractContextManager[object]]
# Called, under the decision lock (which it is given, to keep it alive), when the index turns
# out not to be the one built for the store: rebuilds it (workers/index_repair.py).
IndexRebuild = Callable[[object], None]


class PagePipeline:
    def __init__(
        self,
        store: Store,
        index: CandidateIndex,
        params: DedupParams,
        min_words: int,
        decision_lock: DecisionLock = nullcontext,
        rebuild_index: IndexRebuild | None = None,
        page_time_limit: float = 0.0,
        max_text_chars: int = DEFAULT_MAX_TEXT_CHARS,
    ) -> None:
        """``page_time_limit`` > 0: ``prepare`` (and ``process``) give up on a page whose
        extraction takes longer (``workers.budget``: raises PageTimedOut, main thread only)."""
        self.store = store
        self.index = index
        self.params = params
        self.min_words = min_words
        self.decision_lock = decision_lock
        self.rebuild_index = rebuild_index
        self.page_time_limit = page_time_limit
        self.max_text_chars = max_text_chars

    def process(self, page: Page) -> PageOutcome:
        """Extract, decide and store one page. Raises PageTimedOut when extraction exceeds
        the page's budget, and otherwise only for infrastructure failures (store or index
        unreachable), which the caller retries or records."""
        return self.commit(page, self.prepare(page))

    def prepare(self, page: Page) -> PreparedPage:
        """``prepare_page`` within the page's time budget (the first half of ``process``)."""
        with page_budget(self.page_time_limit):
            return prepare_page(page, self.min_words, self.params, self.max_text_chars)

    def commit(self, page: Page, prepared: PreparedPage, repair_index: bool = False) -> PageOutcome:
        """Decide and store a prepared page (the second half of ``process``).

        ``repair_index``: this page may have been committed before by a try that failed
        after the store's commit, before its index write (a redelivery, a retry). The page
        then comes back "unchanged" and adds nothing, so the article's current version is
        put in the index again (adding a key twice changes nothing)."""
        extracted = prepared.extracted
        if isinstance(extracted, Rejection):
            self.store.record_rejection(page, extracted.reason, extracted.detail)  # and its validators
            log.info("rejected %s: %s %s", page.url, extracted.reason, extracted.detail)
            return PageOutcome(page.url, page.source, "rejected", reason=f"{extracted.reason}: {extracted.detail}".rstrip(": "))
        document, page_fingerprint = extracted, prepared.fingerprint
        assert page_fingerprint is not None  # prepare_page fingerprints every document
        facts = PageFacts(url=document.url, canonical_url=document.canonical_url, source=page.source)
        with self.decision_lock() as held:
            candidates = self.store.candidates_for_url(document.url, document.canonical_url)
            candidates += self.store.candidates_by_keys(self._query(page_fingerprint, held))
            decision = decide(facts, page_fingerprint, candidates, self.params)
            # The page's validators are saved in the same transaction: never before it is stored.
            applied = self.store.apply(decision, page, document, page_fingerprint)
            if applied.index_key:
                self.index.add(applied.index_key, page_fingerprint)
            elif repair_index and decision.article_id:
                for candidate in candidates:
                    if candidate.article_id == decision.article_id and candidate.is_latest:
                        self.index.add(candidate.key, candidate.fingerprint)
                        break
        kind = KIND_BY_DECISION[decision.kind]
        log.info("%s %s: %s", kind, page.url, decision.reason)
        return PageOutcome(page.url, page.source, kind, applied.article_id, applied.version, decision.reason)

    def _query(self, page_fingerprint: Fingerprint, held: object) -> set[str]:
        """The index's candidates; an index that is not the store's is rebuilt first (under
        the decision lock, so no other decision is made against it meanwhile)."""
        try:
            return self.index.query(page_fingerprint)
        except IndexMissing as exc:
            if self.rebuild_index is None:
                raise
            log.error("%s: rebuilding it from the store before deciding", exc)
            self.rebuild_index(held)
            return self.index.query(page_fingerprint)
