"""The work done on one fetched page: extract → dedup → store. Plain functions, no Celery.

Two halves: ``prepare_page`` (extract and fingerprint: pure, most of the CPU time, may run in
another process) and ``PagePipeline.commit`` (candidates, decision, store: one page of a
story at a time). ``PagePipeline.process`` does both; distributed mode calls it from a thin Celery task,
embedded mode calls it in the crawling process or runs ``prepare_page`` in an
``ExtractionPool`` and commits the results in the order the pages arrived.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from newsdedup.dedup import CandidateIndex, DedupParams, Fingerprint, IndexMissing, PageFacts, decide
from newsdedup.dedup.boilerplate import line_hashes, without_boilerplate
from newsdedup.dedup.fingerprint import fingerprint_lines, normalized_lines
from newsdedup.dedup.stories import ArticleTerms, StoryParams, article_terms
from newsdedup.dedup.types import Decision
from newsdedup.extract.document import DEFAULT_MAX_TEXT_CHARS, Document, Rejection
from newsdedup.extract.languages import language_rejection
from newsdedup.extract.rules import PageRules
from newsdedup.extract.text import word_count
from newsdedup.fetched.page import Page
from newsdedup.pipeline.budget import TIMED_OUT, PageTimedOut, page_budget

if TYPE_CHECKING:  # only types here: pool processes import this module and need no SQL
    from sqlalchemy import Connection

    from newsdedup.store import Applied, Store
    from newsdedup.store.candidates import Candidates
    from newsdedup.store.held import Held
    from newsdedup.store.stories import StoryInput

log = logging.getLogger(__name__)

# "held": a new source's short page, judged again later (store/held.py); never in a summary.
OutcomeKind = Literal["created", "updated", "duplicate", "unchanged", "rejected", "failed", "held"]
KIND_BY_DECISION: dict[str, OutcomeKind] = {
    "new": "created",
    "version": "updated",
    "duplicate": "duplicate",
    "unchanged": "unchanged",
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
    seconds: float = 0.0  # how long extraction and fingerprinting took (the health histograms)
    # The text's lines with their normalized forms (dedup.fingerprint.normalized_lines): what the
    # source's learned boilerplate is looked up and learned from when the page is committed.
    lines: tuple[tuple[str, str], ...] = ()
    # line_hashes(lines), made with them (in the extraction process): what the learned
    # boilerplate is looked up by and learned from.
    hashes: Mapping[str, str] = field(default_factory=dict)
    # Words of its own: without page chrome, generic boilerplate and (once committed) the
    # source's learned boilerplate.
    words: int = 0
    # The terms a new article's story is chosen by (dedup.stories.article_terms), when they were
    # computed with the page in an extraction process (``prepare_page_with_story_terms``).
    story_terms: ArticleTerms | None = None


def content_words(text: str) -> int:
    """Words of the text once the lines dedup ignores (page chrome, generic boilerplate such as
    newsletter prompts) are dropped: what the article itself says."""
    return _content(text)[0]


def _content(text: str) -> tuple[int, list[tuple[str, str]]]:
    """``content_words`` and the normalized lines, from one pass of normalization."""
    lines = normalized_lines(text)
    return word_count("\n".join(line for line, normalized in lines if normalized)), lines


def prepare_page(
    page: Page,
    min_words: int,
    params: DedupParams,
    max_text_chars: int = DEFAULT_MAX_TEXT_CHARS,
    rules: PageRules | None = None,
) -> PreparedPage:
    """Extract and fingerprint ``page``. Touches no store or index (safe in a pool process).
    ``rules``: its source's extraction overrides and languages (extract/rules.py)."""
    started = time.perf_counter()
    prepared = _prepare(page, min_words, params, max_text_chars, rules)
    return replace(prepared, seconds=time.perf_counter() - started)


def prepare_page_with_story_terms(
    page: Page,
    min_words: int,
    params: DedupParams,
    max_text_chars: int = DEFAULT_MAX_TEXT_CHARS,
    rules: PageRules | None = None,
) -> PreparedPage:
    """``prepare_page``, and for a document the terms its story would be chosen by: what an
    extraction pool runs when stories are on, so that this work leaves the crawling process,
    where pages are committed one at a time (the terms are used only if the page makes a new
    article)."""
    prepared = prepare_page(page, min_words, params, max_text_chars, rules)
    document = prepared.extracted
    if isinstance(document, Rejection):
        return prepared
    # With what story assignment derives from them alone (ArticleTerms.warm): done here too.
    return replace(prepared, story_terms=_article_terms(page, document, prepared.lines).warm())


def _article_terms(page: Page, document: Document, lines: tuple[tuple[str, str], ...]) -> ArticleTerms:
    # An article's time is when it says it was published, else when it was fetched.
    at = document.published_at or page.fetched_at
    # The text's lines were normalized for its fingerprint already (prepare_page,
    # normalized_lines(document.text)): the story's words are read from them.
    normalized = [n for _, n in lines] if len(lines) == len(document.text.splitlines()) else None
    return article_terms(document.title, document.text, at, document.language, normalized)


def _prepare(
    page: Page, min_words: int, params: DedupParams, max_text_chars: int, rules: PageRules | None
) -> PreparedPage:
    # deferred: with an extraction pool the crawling process extracts only the pages that
    # come before the pool is up, most often none, and need not import trafilatura, jusText
    # and htmldate at the start of every crawl, ≈ 85 ms (bench/import_costs.py)
    from newsdedup.extract.extractor import extract_document

    extracted = extract_document(
        page.html,
        page.final_url,
        min_words=min_words,
        hints=page.hints,
        max_chars=max_text_chars,
        rules=rules.extraction if rules else None,
    )
    if isinstance(extracted, Rejection):
        return PreparedPage(extracted)
    refused = language_rejection(extracted, rules.languages if rules else ())
    if refused is not None:
        return PreparedPage(refused)
    # Extraction counts every word it kept; a page whose text is mostly a newsletter prompt
    # ("Loading the live dashboard..." and a sign-up box) holds no article all the same.
    words, lines = _content(extracted.text)
    if words < min_words:
        return PreparedPage(
            Rejection(
                extracted.url,
                "too-short",
                f"{words} words without page chrome and boilerplate, fewer than {min_words}",
                extra={"words": str(words)},
            )
        )
    return PreparedPage(
        extracted,
        fingerprint_lines(lines, params),
        lines=tuple(lines),
        hashes=line_hashes(lines),
        words=words,
    )


# Distributed mode passes its story locks here (workers/locks.py): a page's candidates are read,
# its decision made and its rows written while it holds the locks of everything a near-duplicate
# of it would share with it, so two copies of one story never decide at once while unrelated
# pages do. Embedded mode has one writer and needs none.
DecisionLock = Callable[[PageFacts, Fingerprint], AbstractContextManager[object]]
# Called, with no story lock held, when the index turns out not to be the one built for the
# store: rebuilds it, excluding every decision meanwhile (workers/index_repair.py).
IndexRebuild = Callable[[], object]
# Told how long a stage of a page took: ("extraction" | "decision", seconds) (store/source_health.py).
StageTimer = Callable[[str, float], None]
# Called inside the page's store transaction with its outcome (distributed mode marks the
# staging row done there: the page is done exactly when its rows are committed).
OnCommit = Callable[["Connection", PageOutcome], None]
# Called inside the transaction that releases a held page, with the page and its outcome now
# (distributed mode tells the page's staging row).
OnRelease = Callable[["Connection", Page, PageOutcome], None]


class AlreadyReleased(Exception):
    """Another process released the held page first: this release is undone."""


# A decision made against an article that another page changed meanwhile is made again; this
# many times in a row means something else is wrong (the task's retries take over).
DECIDE_ATTEMPTS = 5


def _unlocked(facts: PageFacts, fp: Fingerprint) -> AbstractContextManager[object]:
    return nullcontext()


class PagePipeline:
    def __init__(
        self,
        store: Store,
        index: CandidateIndex,
        params: DedupParams,
        min_words: int,
        decision_lock: DecisionLock = _unlocked,
        rebuild_index: IndexRebuild | None = None,
        page_time_limit: float = 0.0,
        max_text_chars: int = DEFAULT_MAX_TEXT_CHARS,
        page_rules: Mapping[str, PageRules] | None = None,
        story_params: StoryParams | None = None,
        hold_below_words: int = 0,
    ) -> None:
        """``page_time_limit`` > 0: ``prepare`` (and ``process``) give up on a page whose
        extraction takes longer (``pipeline.budget``: raises PageTimedOut, main thread only).
        ``page_rules``: each source's extraction rules, by source name. ``story_params``: how
        new articles are assigned their stories; None: stories are off (NEWSDEDUP_STORIES=0).
        ``hold_below_words`` > 0: a page that would be a new article, with fewer words of its
        own, is held while its source is new (store/held.py; NEWSDEDUP_HOLD_BELOW_WORDS)."""
        self.store = store
        self.index = index
        self.params = params
        self.min_words = min_words
        self.decision_lock = decision_lock
        self.rebuild_index = rebuild_index
        self.page_time_limit = page_time_limit
        self.max_text_chars = max_text_chars
        self.page_rules = dict(page_rules or {})
        self.story_params = story_params
        self.hold_below_words = hold_below_words
        self.observe: StageTimer | None = None  # set by whoever keeps the health histograms
        # Told each held page's outcome once it is released (the crawl's counts).
        self.on_released: Callable[[Page, PageOutcome], None] | None = None
        self.on_release_commit: OnRelease | None = None

    def rules_for(self, page: Page) -> PageRules | None:
        return self.page_rules.get(page.source)

    def process(self, page: Page) -> PageOutcome:
        """Extract, decide and store one page. Raises PageTimedOut when extraction exceeds
        the page's budget, and otherwise only for infrastructure failures (store or index
        unreachable), which the caller retries or records."""
        return self.commit(page, self.prepare(page))

    def prepare(self, page: Page) -> PreparedPage:
        """``prepare_page`` within the page's time budget (the first half of ``process``)."""
        with page_budget(self.page_time_limit):
            return prepare_page(page, self.min_words, self.params, self.max_text_chars, self.rules_for(page))

    def commit(
        self,
        page: Page,
        prepared: PreparedPage,
        repair_index: bool = False,
        on_commit: OnCommit | None = None,
        releasing: Held | None = None,
    ) -> PageOutcome:
        """Decide and store a prepared page (the second half of ``process``).

        ``repair_index``: this page may have been committed before by a try whose index write
        Redis lost. The page then comes back "unchanged" and adds nothing, so the article's
        current version is put in the index again (adding a key twice changes nothing).

        ``releasing``: the held page being judged again (``release_held``): it is not held
        again, its lines were learned when it was held, and its row goes in the same write."""
        started = time.perf_counter()
        if releasing is not None:
            on_commit = self._releasing(releasing, page, on_commit)
        outcome = self._commit(page, prepared, repair_index, on_commit, releasing)
        if self.observe is not None:
            self.observe("extraction", prepared.seconds)
            self.observe("decision", time.perf_counter() - started)
        return outcome

    def without_learned_boilerplate(self, page: Page, prepared: PreparedPage) -> PreparedPage:
        """The prepared page with its source's learned boilerplate lines dropped (store.boilerplate):
        fingerprinted without them, or refused when too few words of its own are left."""
        if isinstance(prepared.extracted, Rejection) or not prepared.lines:
            return prepared
        lines = list(prepared.lines)
        known = self.store.boilerplate.known(page.source, prepared.hashes.keys())
        if not known:
            return prepared
        kept = without_boilerplate(lines, known)
        words = word_count("\n".join(line for line, normalized in kept if normalized))
        if words < self.min_words:
            return replace(
                prepared,
                extracted=Rejection(
                    prepared.extracted.url,
                    "too-short",
                    f"{words} words without page chrome and the source's boilerplate, fewer than {self.min_words}",
                    extra={"words": str(words)},
                ),
                fingerprint=None,
            )
        assert prepared.fingerprint is not None  # prepare_page fingerprints every document
        # The exact hash stays the whole text's: a page re-fetched unchanged is nothing new,
        # although one of its lines became boilerplate since it was last seen.
        fingerprint = replace(fingerprint_lines(kept, self.params), text_hash=prepared.fingerprint.text_hash)
        return replace(prepared, fingerprint=fingerprint, words=words)

    def _releasing(self, held: Held, page: Page, on_commit: OnCommit | None) -> OnCommit:
        def released(connection: Connection, outcome: PageOutcome) -> None:
            if not self.store.held.remove_in(connection, held.id):
                raise AlreadyReleased(page.url)
            if self.on_release_commit is not None:
                self.on_release_commit(connection, page, outcome)
            if on_commit is not None:
                on_commit(connection, outcome)

        return released

    def _commit(
        self,
        page: Page,
        prepared: PreparedPage,
        repair_index: bool,
        on_commit: OnCommit | None,
        releasing: Held | None,
    ) -> PageOutcome:
        prepared = self.without_learned_boilerplate(page, prepared)
        extracted = prepared.extracted
        if isinstance(extracted, Rejection):
            outcome = PageOutcome(
                page.url,
                page.source,
                "rejected",
                reason=f"{extracted.reason}: {extracted.detail}".rstrip(": "),
            )
            self.store.record_rejection(  # and its validators
                page,
                extracted.reason,
                extracted.detail,
                before_commit=None
                if on_commit is None
                else lambda connection, _: on_commit(connection, outcome),
            )
            log.info("rejected %s: %s %s", page.url, extracted.reason, extracted.detail)
            return outcome
        assert prepared.fingerprint is not None  # prepare_page fingerprints every document
        # deferred: extraction pool processes load no SQL code, ≈ 320 ms of imports (bench/import_costs.py)
        from newsdedup.store.store import StaleDecision

        rebuilt = False
        for attempt in range(1, DECIDE_ATTEMPTS + 1):
            try:
                return self._decide_and_store(
                    page,
                    extracted,
                    prepared.fingerprint,
                    repair_index,
                    on_commit,
                    prepared.lines,
                    prepared.words,
                    releasing,
                    prepared.story_terms,
                    prepared.hashes,
                )
            except StaleDecision as exc:
                if attempt == DECIDE_ATTEMPTS:
                    raise
                log.info("%s: deciding again: %s", page.url, exc)
            except IndexMissing as exc:
                if self.rebuild_index is None or rebuilt:
                    raise
                log.error("%s: rebuilding it from the store before deciding", exc)
                self.rebuild_index()
                rebuilt = True
        raise AssertionError("unreachable")

    def _story_input(
        self,
        page: Page,
        document: Document,
        lines: tuple[tuple[str, str], ...],
        terms: ArticleTerms | None = None,
    ) -> StoryInput | None:
        """``terms``: the document's, computed already (``prepare_page_with_story_terms``)."""
        if self.story_params is None:
            return None
        from newsdedup.store.stories import StoryInput  # deferred: pool processes load no SQL code

        return StoryInput(
            terms if terms is not None else _article_terms(page, document, lines), self.story_params
        )

    def _decide_and_store(
        self,
        page: Page,
        document: Document,
        page_fingerprint: Fingerprint,
        repair_index: bool,
        on_commit: OnCommit | None,
        lines: tuple[tuple[str, str], ...],
        words: int,
        releasing: Held | None,
        story_terms: ArticleTerms | None,
        hashes: Mapping[str, str],
    ) -> PageOutcome:
        """``hashes``: ``line_hashes(lines)`` (``PreparedPage.hashes``)."""
        facts = PageFacts(url=document.url, canonical_url=document.canonical_url, source=page.source)
        with self.decision_lock(facts, page_fingerprint):
            found = self.store.candidates(
                document.url, document.canonical_url, self.index.query(page_fingerprint)
            )
            decision = decide(facts, page_fingerprint, found.found, self.params)
            kind = KIND_BY_DECISION[decision.kind]
            if decision.kind == "new" and releasing is None and self._holds(page, words):
                self._hold(page, words, hashes, on_commit)
                held: PageOutcome | None = PageOutcome(
                    page.url,
                    page.source,
                    "held",
                    reason=f"held: {words} words of its own, and its source is new",
                )
            else:
                held = None
                applied = self._apply(
                    page,
                    document,
                    page_fingerprint,
                    decision,
                    found,
                    repair_index,
                    on_commit,
                    lines,
                    releasing,
                    story_terms,
                    hashes,
                )
        if held is not None:
            log.info("held %s: %s", page.url, held.reason)
            self._release_if_warm(page.source)
            return held
        if decision.kind == "new" and releasing is None:
            self.store.boilerplate.learned(page.source)
            self._release_if_warm(page.source)
        log.info("%s %s: %s", kind, page.url, decision.reason)
        return PageOutcome(page.url, page.source, kind, applied.article_id, applied.version, decision.reason)

    def _apply(
        self,
        page: Page,
        document: Document,
        page_fingerprint: Fingerprint,
        decision: Decision,
        found: Candidates,
        repair_index: bool,
        on_commit: OnCommit | None,
        lines: tuple[tuple[str, str], ...],
        releasing: Held | None,
        story_terms: ArticleTerms | None,
        hashes: Mapping[str, str],
    ) -> Applied:
        """Store the decision, with its index write and learned lines, in one transaction."""
        kind = KIND_BY_DECISION[decision.kind]

        def before_commit(connection: Connection, applied: Applied | None) -> None:
            # Inside the store's transaction, before its commit: an index write that fails
            # undoes the page's rows (the page is tried again); one whose rows fail to commit
            # leaves a key the store does not know, which finds nothing.
            assert applied is not None
            if decision.kind == "new" and applied.version == 1 and applied.index_key and releasing is None:
                # A new article (not a URL another writer stored meanwhile) teaches its source
                # which lines recur (dedup.boilerplate); a held page taught it when it was held.
                self.store.boilerplate.learn(connection, page.source, hashes, datetime.now(UTC))
            if applied.index_key:
                self.index.add(applied.index_key, page_fingerprint)
            elif repair_index and decision.article_id:
                for candidate in found.found:
                    if candidate.article_id == decision.article_id and candidate.is_latest:
                        self.index.add(candidate.key, candidate.fingerprint)
                        break
            if on_commit is not None:
                on_commit(
                    connection,
                    PageOutcome(
                        page.url, page.source, kind, applied.article_id, applied.version, decision.reason
                    ),
                )

        return self.store.apply(
            decision,
            page,
            document,
            page_fingerprint,
            before_commit=before_commit,
            story=self._story_input(page, document, lines, story_terms) if decision.kind == "new" else None,
            expected_version=found.current_versions.get(decision.article_id) if decision.article_id else None,
        )

    # --- a new source's short pages (store/held.py) ---

    def _holds(self, page: Page, words: int) -> bool:
        return 0 < words < self.hold_below_words and self.store.held.is_cold(page.source)

    def _hold(self, page: Page, words: int, hashes: Mapping[str, str], on_commit: OnCommit | None) -> None:
        outcome = PageOutcome(page.url, page.source, "held")

        def before_commit(connection: Connection, _: object) -> None:
            # Its lines count at once: the pages held together teach the source as articles do.
            self.store.boilerplate.learn(connection, page.source, hashes, datetime.now(UTC))
            if on_commit is not None:
                on_commit(connection, outcome)

        self.store.hold(page, words, before_commit=before_commit)

    def _release_if_warm(self, source: str) -> None:
        """Once a source has had its first pages, its held pages are judged again."""
        if self.hold_below_words and self.store.held.newly_warm(source):
            self.release_held(sources=[source])

    def release_held(
        self,
        crawl_id: str | None = None,
        sources: Sequence[str] | None = None,
    ) -> list[PageOutcome]:
        """Judge the held pages again (of a crawl, of sources; all when neither is given), with what their sources learned meanwhile: stored, linked or refused as
        any page. The end of a crawl releases its pages, whatever their sources learned."""
        outcomes = []
        for held in self.store.held.waiting(crawl_id, sources):
            try:
                outcome = self._release(held)
            except AlreadyReleased:
                continue
            except Exception:
                # The store or index away, say: the page stays held for the next release.
                log.exception("could not release the held page %s", held.page.url)
                continue
            outcomes.append(outcome)
            if self.on_released is not None:
                self.on_released(held.page, outcome)
        return outcomes

    def _release(self, held: Held) -> PageOutcome:
        page = held.page
        try:
            prepared = self.prepare(page)
        except PageTimedOut:
            prepared = PreparedPage(Rejection(page.final_url, "timed-out", TIMED_OUT))
        return self.commit(page, prepared, releasing=held)
