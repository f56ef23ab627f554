"""Story assignment: which news event an article reports. Pure: no SQL, no Celery.

A one-pass, incremental clusterer in the manner of Miranda et al. (EMNLP 2018, "Multilingual
Clustering of Streaming News"): each article is described by TF-IDF vectors of its words, of
its name-like tokens (capitalized words not opening a sentence, runs of them, numbers) and of
its headline's words; a story by the sum of its articles' vectors (its centroid), each
weighted with the document frequencies of when it was assigned.
An article joins the most similar recent story of its language when the weighted cosine
similarity, damped by the time between them, reaches ``StoryParams.threshold``; otherwise it
opens a story of its own. No batch re-clustering: once assigned, an article moves only when
its whole story is merged into another (``StoryDecision.merge``).

Document frequencies are counted per bucket of a fixed-size sketch (``FrequencySketch``,
``DF_BUCKETS`` counters: memory stays bounded whatever the number of distinct terms; a rare
term sharing a bucket reads a count or two too many). They are the caller's to keep (the store
keeps them, updated in arrival order), so that two processes, or a reprocessing of the archive,
that see the same pages in the same order make the same stories.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import operator
import re
import unicodedata
import zlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from operator import itemgetter
from typing import Literal

import numpy as np
import numpy.typing as npt

from newsdedup.dedup.background import (
    WORDS_PER_ARTICLE,
    WORDS_PER_HEADLINE,
    language_key,
    term_shares,
    word_frequencies,
)
from newsdedup.dedup.normalize import _CJK_RANGES, normalize_paragraph

# Feature families, as prefixes of the term keys the document frequencies are kept under.
WORD, NAME, TITLE = "w", "n", "t"
FAMILIES = (WORD, NAME, TITLE)

_WORD_RE = re.compile(r"\w+")
# A name-like token: a capital letter then letters (Korea, NASA, McConnell), or a number with
# two digits or more (2013, 7.8, 140). Taken from the text as written: case is the only cue.
_NAME_TOKEN = re.compile(r"[^\W\d_][\w'’-]*|\d[\d.,]*\d")
_NAME_SPLIT = re.compile(f"({_NAME_TOKEN.pattern})")
_SENTENCE_END = re.compile(r"[.!?:;\"“”«»—–]\s*$")
_MIN_WORD_CHARS = 3
# Document frequencies are counted in this many buckets of 32 bits (8 MiB). Changing it changes
# every store's statistics: the store refuses a snapshot of another size (store/stories.py).
DF_BUCKETS = 1 << 21
# Every this many articles, stories whose last article is more than twice the window older than
# the article being assigned leave the index of recent stories: it stays bounded.
PRUNE_EVERY = 1000


@dataclass(frozen=True)
class StoryParams:
    """How stories are made (docs/how-it-works.md#stories). Calibrated by ``bench/stories.py``."""

    threshold: float = 0.15  # an article joins a story at this weighted similarity or above
    merge_threshold: float = 0.25  # two stories both this close to one article become one
    window_days: float = 30.0  # stories whose articles are all further away in time are not candidates
    time_scale_days: float = 30.0  # similarity is damped by exp(-½ (Δdays / scale)²)
    word_weight: float = 0.35
    name_weight: float = 0.40
    title_weight: float = 0.25
    profile_terms: int = 200  # terms a story's centroid keeps per family (bounded size)
    key_terms: int = 16  # an article's strongest terms, by which candidate stories are found
    # and its headline's strongest terms too: a text's strongest terms are often the page's
    # leftovers (a caption, a site's own links), its headline hardly ever.
    title_key_terms: int = 8
    candidate_limit: int = 30  # stories scored per article: those sharing the most key terms
    # A story must share this many of the article's key terms to be a candidate: one shared
    # term is often a common word while the document frequencies are young (a new store).
    min_shared_keys: int = 2
    # While few articles are counted, document frequencies cannot tell common words from rare
    # ones: both thresholds are raised by the factor (1 + cold_start / articles counted).
    cold_start: float = 5.0
    # Document frequencies start as if this many articles of the language had been counted,
    # each term held by the share of them its frequency in the language says (dedup/background.py).
    # 0: the store's own counts alone.
    background_documents: float = 500.0


@dataclass(frozen=True)
class ArticleTerms:
    """What story assignment knows of one article: term frequencies per family, its time and
    language."""

    words: Mapping[str, int]
    names: Mapping[str, int]
    title: Mapping[str, int]
    at: datetime
    language: str | None

    def families(self) -> dict[str, Mapping[str, int]]:
        return {WORD: self.words, NAME: self.names, TITLE: self.title}

    # What an assignment derives from the terms alone, computed once. An extraction process
    # computes them with the terms (``warm``), and they travel with them: the crawling process,
    # which assigns one article at a time, only reads them.

    @cached_property
    def keys(self) -> tuple[str, ...]:
        """Every distinct term, family-prefixed (what the document frequencies count): family by
        family in ``families`` order, each family's in its order."""
        return tuple([f"{family}:{term}" for family, terms in self.families().items() for term in terms])

    @cached_property
    def tfs(self) -> tuple[float, ...]:
        """The sub-linear term frequency of each of ``keys``: 1 + log n."""
        log = math.log
        return tuple(
            [1.0 + log(n) if n > 0 else 0.0 for terms in self.families().values() for n in terms.values()]
        )

    @cached_property
    def buckets(self) -> npt.NDArray[np.uint32]:
        """``FrequencySketch.buckets`` of ``keys``."""
        return FrequencySketch.buckets(self.keys)

    @cached_property
    def unique_buckets(self) -> npt.NDArray[np.uint32]:
        """The buckets the article is counted in (each once)."""
        return np.unique(self.buckets)

    def warm(self) -> ArticleTerms:
        """The terms with what an assignment derives from them computed (see ``keys``)."""
        for name in ("keys", "tfs", "buckets", "unique_buckets"):
            getattr(self, name)
        return self

    def family_slices(self) -> dict[str, slice]:
        """Where each family's terms lie in ``keys`` and ``tfs``."""
        found, start = {}, 0
        for family, terms in self.families().items():
            found[family] = slice(start, start + len(terms))
            start += len(terms)
        return found


# Per family, term -> weight: an article's TF-IDF vector (sub-linear TF, L2-normalized per
# family), or a story's centroid (the sum of its articles' vectors).
Vectors = dict[str, dict[str, float]]


@dataclass
class StoryProfile:
    """A story's centroid (the sum of its articles' vectors, each weighted with the document
    frequencies of when it was stored; the largest ``profile_terms`` per family kept), the
    vectors of its central article (whose headline is the story's title), and its time span."""

    story_id: str
    families: Vectors
    first_at: datetime
    last_at: datetime
    article_count: int
    created: int  # creation order: the older of two merged stories survives
    central: Vectors = field(default_factory=dict)
    central_id: str = ""
    # The centroid's norm per family, computed once per load: an article is scored against
    # up to ``candidate_limit`` stories of a few hundred terms each.
    _norms: dict[str, float] = field(default_factory=dict, repr=False, compare=False)

    def norm(self, family: str) -> float:
        if family not in self._norms:
            self._norms[family] = _norm(self.families.get(family, {}))
        return self._norms[family]

    def add(self, article_id: str, vectors: Vectors, at: datetime, limit: int) -> bool:
        """Add an article; True when it becomes the story's central article."""
        self._norms.clear()
        _add_into(self.families, vectors, limit)
        self.first_at = min(self.first_at, at)
        self.last_at = max(self.last_at, at)
        self.article_count += 1
        if self.central_id and _closeness(self.central, self.families) >= _closeness(vectors, self.families):
            return False
        self.central, self.central_id = _top_vectors(vectors, limit), article_id
        return True

    def absorb(self, other: StoryProfile, limit: int) -> None:
        self._norms.clear()
        _add_into(self.families, other.families, limit)
        self.first_at = min(self.first_at, other.first_at)
        self.last_at = max(self.last_at, other.last_at)
        self.article_count += other.article_count

    def to_json(self) -> dict[str, object]:
        return {"c": self.families, "m": self.central, "i": self.central_id}

    @classmethod
    def from_json(
        cls,
        story_id: str,
        data: Mapping[str, object],
        first_at: datetime,
        last_at: datetime,
        count: int,
        created: int,
    ) -> StoryProfile:
        families = data.get("c", {})
        central = data.get("m", {})
        assert isinstance(families, dict) and isinstance(central, dict)
        return cls(story_id, families, first_at, last_at, count, created, central, str(data.get("i", "")))


@dataclass(frozen=True)
class StoryDecision:
    kind: Literal["join", "new"]
    story_id: str | None  # the story joined (None: a new one)
    score: float
    merge: tuple[str, ...] = field(default=())  # stories that become ``story_id``


@dataclass(frozen=True)
class DocumentFrequencies:
    """The inverse document frequency of each term one article needs, and how many articles
    were counted (the background's included)."""

    idfs: Mapping[str, float]
    documents: int


class FrequencySketch:
    """How many articles hold a term, per bucket of its hash (``DF_BUCKETS`` of them), and how
    many articles were counted: the document frequencies, in bounded memory."""

    def __init__(self, counts: npt.NDArray[np.uint32] | None = None, documents: int = 0) -> None:
        self.counts = np.zeros(DF_BUCKETS, dtype=np.uint32) if counts is None else counts
        self.documents = documents

    @staticmethod
    def buckets(keys: Sequence[str]) -> npt.NDArray[np.uint32]:
        """The buckets of ``keys``, in their order (``unique_buckets`` for counting): the low bits
        of each key's CRC-32 (blake2b cost 4 times as much; no cache: on articles of many
        languages most terms missed it, and a miss cost twice the hash)."""
        crc32 = zlib.crc32
        hashes = np.array([crc32(key.encode("utf-8")) for key in keys], dtype=np.uint32)
        return hashes & np.uint32(DF_BUCKETS - 1)

    def add(self, unique_buckets: npt.NDArray[np.uint32]) -> None:
        """Count one more article holding each bucket (each once: ``np.unique``)."""
        self.counts[unique_buckets] += 1
        self.documents += 1

    def frequencies(
        self,
        keys: Sequence[str],
        buckets: npt.NDArray[np.uint32],
        plus_one: bool = False,
        background: npt.NDArray[np.float64] | None = None,
        background_documents: float = 0.0,
    ) -> DocumentFrequencies:
        """The document frequencies of ``keys`` (their ``buckets``); ``plus_one``: with an
        article holding them all counted too (the one being assigned, not added yet);
        ``background``: each key's share of articles in its language (dedup/background.py),
        counted as ``background_documents`` articles more."""
        found = self.counts[buckets].astype(np.int64)
        if plus_one:
            found += 1
        documents = self.documents + plus_one
        weighed: list[float] | list[int]
        if background is not None and background_documents > 0:
            weighed = (found + background_documents * background).tolist()
            documents += int(background_documents)
        else:
            weighed = found.tolist()
        # Smoothed, and never below 1: a term every article has still counts a little.
        log, total = math.log, documents + 1
        idfs = dict(zip(keys, [log(total / (count + 1)) + 1.0 for count in weighed], strict=True))
        return DocumentFrequencies(idfs, documents)


def article_terms(
    title: str, text: str, at: datetime, language: str | None, text_lines: Sequence[str] | None = None
) -> ArticleTerms:
    """``text_lines``: ``normalize_paragraph`` of each line of ``text``, when the caller has them
    already (dedup fingerprinted the same lines): the same terms, without normalizing twice."""
    return ArticleTerms(
        words=Counter(_words(text, text_lines)),
        names=Counter(_names(text)),
        title=Counter(_words(title)),
        at=at,
        language=(language or "").lower() or None,
    )


def background_of(terms: ArticleTerms, params: StoryParams) -> tuple[npt.NDArray[np.float64] | None, float]:
    """The ``background`` and ``background_documents`` arguments of ``FrequencySketch.frequencies``
    for the article's ``keys``: none when switched off or when the language has no word list."""
    if params.background_documents <= 0:
        return None, 0.0
    code = language_key(terms.language)
    words = word_frequencies(code) if code is not None else None
    if words is None:
        return None, 0.0
    # Words and headline words are single tokens; only names hold runs of words.
    shares = [
        term_shares(terms.words, words, WORDS_PER_ARTICLE),
        term_shares(terms.names, words, WORDS_PER_ARTICLE, phrases=True),
        term_shares(terms.title, words, WORDS_PER_HEADLINE),
    ]
    return np.concatenate(shares), params.background_documents


def term_hash(key: str) -> int:
    """A family-prefixed term as a signed 64-bit key (the store keys its statistics by it)."""
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "big", signed=True)


def article_vectors(terms: ArticleTerms, df: DocumentFrequencies) -> Vectors:
    """The article's TF-IDF vector per family, L2-normalized."""
    vectors: Vectors = {}
    idf = df.idfs
    keys, tfs = terms.keys, terms.tfs
    for family, part in terms.family_slices().items():
        counts = terms.families()[family]
        weights = [tf * idf[key] for tf, key in zip(tfs[part], keys[part], strict=True)]
        vector = dict(zip(counts, weights, strict=True))
        norm = _norm(vector)
        vectors[family] = {t: v / norm for t, v in vector.items()} if norm else {}
    return vectors


def key_terms(vectors: Vectors, terms: ArticleTerms, count: int, title_count: int = 0) -> list[str]:
    """The article's ``count`` strongest name and word terms and its ``title_count`` strongest
    headline terms (ties by term): a story that shares too few of them with the article is not
    a candidate for it. ``vectors``: ``article_vectors`` of ``terms`` (a weight for every term,
    in the order of ``terms.keys``, whose keys are read rather than made again)."""
    keys, at = terms.keys, terms.family_slices()
    weighted = [
        item
        for family in (NAME, WORD)
        for item in zip(vectors[family].values(), keys[at[family]], strict=True)
    ]
    title = list(zip(vectors[TITLE].values(), keys[at[TITLE]], strict=True))
    return [
        key
        for found, limit in ((weighted, count), (title, title_count))
        for _, key in _strongest(found, limit)
    ]


def _strongest(items: Sequence[tuple[float, str]], limit: int) -> list[tuple[float, str]]:
    """The ``limit`` (weight, key) pairs of the greatest weights, ties by key: what
    ``heapq.nsmallest(limit, items, key=lambda item: (-item[0], item[1]))`` returns for distinct
    keys, from two sorts in C (stable: the second keeps the keys' order among equal weights)
    instead of a Python key function called for every item."""
    return sorted(sorted(items, key=itemgetter(1)), key=itemgetter(0), reverse=True)[:limit]


def similarity(
    vectors: Vectors,
    at: datetime,
    story: StoryProfile,
    params: StoryParams,
    norms: Mapping[str, float] | None = None,
) -> float:
    """Weighted cosine of the article's vectors and the story's centroid, damped by time
    (``norms``: the article's vectors' norms, when computed once for several stories)."""
    weights = {WORD: params.word_weight, NAME: params.name_weight, TITLE: params.title_weight}
    norms = norms if norms is not None else {family: _norm(vector) for family, vector in vectors.items()}
    score = sum(
        weights[family] * _cosine(vector, story.families.get(family, {}), norms[family], story.norm(family))
        for family, vector in vectors.items()
    )
    return score * _time_factor(at, story, params)


def decide_story(
    vectors: Vectors, at: datetime, candidates: Sequence[StoryProfile], params: StoryParams, documents: int
) -> StoryDecision:
    """Join the closest candidate at ``threshold`` or above, else open a new story. When a
    second candidate is at ``merge_threshold`` too, and so is the first, the article shows the
    two to be one event: the younger is merged into the older, which the article joins."""
    norms = {family: _norm(vector) for family, vector in vectors.items()}
    scored = sorted(
        (
            (similarity(vectors, at, story, params, norms), story)
            for story in candidates
            if in_window(at, story, params)
        ),
        key=lambda item: (-item[0], item[1].created),
    )
    raised = 1.0 + params.cold_start / max(documents, 1)
    threshold, merge_threshold = params.threshold * raised, params.merge_threshold * raised
    if not scored or scored[0][0] < threshold:
        return StoryDecision("new", None, scored[0][0] if scored else 0.0)
    best_score, best = scored[0]
    merging = [story for score, story in scored[1:] if score >= merge_threshold]
    if best_score < merge_threshold or not merging:
        return StoryDecision("join", best.story_id, best_score)
    group = sorted([best, *merging], key=lambda story: story.created)
    return StoryDecision("join", group[0].story_id, best_score, tuple(s.story_id for s in group[1:]))


def new_profile(story_id: str, vectors: Vectors, at: datetime, created: int, limit: int) -> StoryProfile:
    # What ``add`` makes of a first article, its strongest terms picked once for both.
    central = _top_vectors(vectors, limit)
    families = {family: dict(vector) for family, vector in central.items()}
    return StoryProfile(story_id, families, at, at, 1, created, central, story_id)


# --- features ---


_CJK = re.compile("[" + "".join(f"{chr(low)}-{chr(high)}" for low, high in _CJK_RANGES) + "]")


def _is_cjk(char: str) -> bool:
    codepoint = ord(char)
    return any(low <= codepoint <= high for low, high in _CJK_RANGES)


def _words(text: str, lines: Sequence[str] | None = None) -> list[str]:
    """Words of the normalized text (dedup's normalization: chrome lines dropped), at least
    three characters; runs of Chinese and Japanese characters, which have no spaces, become
    character bigrams (dedup gives each such character a token of its own)."""
    found: list[str] = []
    for normalized in lines if lines is not None else map(normalize_paragraph, text.splitlines()):
        if not _CJK.search(normalized):
            # Most lines: no character-run handling, one pass in C over the tokens.
            found.extend(token for token in normalized.split() if len(token) >= _MIN_WORD_CHARS)
            continue
        run: list[str] = []
        for token in [*normalized.split(), ""]:
            if len(token) == 1 and _is_cjk(token):
                run.append(token)
                continue
            if run:
                # one character alone stays a term; a run of them becomes its bigrams
                found.extend(a + b for a, b in itertools.pairwise(run)) if len(run) > 1 else found.extend(run)
                run = []
            if len(token) >= _MIN_WORD_CHARS:
                found.append(token)
    return found


def _names(text: str) -> list[str]:
    """Name-like tokens: capitalized words that do not open a sentence, runs of two or more of
    them as one term too ("south korea"), and numbers of two digits or more."""
    found: list[str] = []
    for line in unicodedata.normalize("NFKC", text).splitlines():
        # One C call per line: [between, token, between, token, ..., tail]. Most tokens are
        # lower-case words, which only end a run of names.
        parts = _NAME_SPLIT.split(line)
        previous = ""  # the name just before, when the run of names goes on
        for i in range(1, len(parts), 2):
            token = parts[i]
            if token[0].isdigit():
                found.append(token.replace(",", ""))
                previous = ""
                continue
            if len(token) < 2 or not token[0].isupper():
                previous = ""
                continue
            # What lies between the previous token and this one: a sentence ends there or not
            # (a single space, by far the most common, never ends one: no regex for it).
            between = parts[i - 1]
            folded = token.casefold()
            if i == 1 or (between != " " and _SENTENCE_END.search(between)):
                previous = folded  # opens a sentence: not a name alone, but it may open a run
                continue
            found.append(folded)
            if previous and between.strip() == "":
                found.append(f"{previous} {folded}")
            previous = folded
    return found


def _norm(vector: Mapping[str, float]) -> float:
    # The products summed in the same order as ``sum(v * v for v in ...)``, without a generator.
    values = vector.values()
    return math.sqrt(sum(map(operator.mul, values, values)))


def _cosine(
    a: Mapping[str, float],
    b: Mapping[str, float],
    norm_a: float | None = None,
    norm_b: float | None = None,
) -> float:
    if not a or not b:
        return 0.0
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    dot = sum(value * large.get(term, 0.0) for term, value in small.items())
    if dot == 0.0:
        return 0.0
    return dot / ((norm_a if norm_a is not None else _norm(a)) * (norm_b if norm_b is not None else _norm(b)))


def _gap_days(at: datetime, story: StoryProfile) -> float:
    if story.first_at <= at <= story.last_at:
        return 0.0
    nearest = story.first_at if at < story.first_at else story.last_at
    return abs((at - nearest).total_seconds()) / 86400.0


def in_window(at: datetime, story: StoryProfile, params: StoryParams) -> bool:
    return _gap_days(at, story) <= params.window_days


def _time_factor(at: datetime, story: StoryProfile, params: StoryParams) -> float:
    if math.isinf(params.time_scale_days):
        return 1.0
    return math.exp(-0.5 * (_gap_days(at, story) / params.time_scale_days) ** 2)


def _add_into(sums: Vectors, vectors: Mapping[str, Mapping[str, float]], limit: int) -> None:
    for family, vector in vectors.items():
        family_sums = sums.setdefault(family, {})
        for term, weight in vector.items():
            family_sums[term] = family_sums.get(term, 0.0) + weight
        sums[family] = _top(family_sums, limit)


def _top_vectors(vectors: Vectors, limit: int) -> Vectors:
    return {family: _top(dict(vector), limit) for family, vector in vectors.items()}


def _closeness(vectors: Vectors, centroid: Vectors) -> float:
    """How central an article is: the summed cosine of its vectors with the centroid's."""
    return sum(_cosine(vector, centroid.get(family, {})) for family, vector in vectors.items())


def _top(sums: dict[str, float], limit: int) -> dict[str, float]:
    if len(sums) <= limit:
        return sums
    # The ``limit`` greatest weights, ties by term, as heapq.nsmallest(limit, sums.items(),
    # key=lambda item: (-item[1], item[0])) picks them: two sorts in C (see ``_strongest``).
    return dict(sorted(sorted(sums.items()), key=itemgetter(1), reverse=True)[:limit])


# --- one assignment, against any keeper of the statistics and profiles ---


@dataclass(frozen=True)
class Assignment:
    decision: StoryDecision
    story: StoryProfile  # the story the article is in now, its centroid updated
    merged: tuple[StoryProfile, ...]  # the stories merged into it (before the merge)
    keys: tuple[str, ...]  # the article's key terms: the story is found by these from now on
    central: bool  # the article is the story's central one now: its headline is the story's title


class StoryState:
    """What one assignment reads: document frequencies and candidate stories. The store keeps
    them in tables (store/stories.py); ``MemoryStories`` in a dict, for the benchmark."""

    def frequencies(self, terms: ArticleTerms) -> DocumentFrequencies:
        """The document frequencies of the article's ``terms``, this article counted."""
        raise NotImplementedError

    def candidates(self, keys: Sequence[str], language: str | None, at: datetime) -> list[StoryProfile]:
        """Live stories of ``language`` within the time window of ``at`` sharing a key term,
        those sharing the most first (then the oldest), at most ``candidate_limit``."""
        raise NotImplementedError


def assign(
    terms: ArticleTerms, state: StoryState, params: StoryParams, article_id: str, created: int
) -> Assignment:
    """Assign one article whose terms ``state`` has already counted: the decision, and the
    profile the caller keeps for the story it is in now (a new story's id is the article's)."""
    df = state.frequencies(terms)
    vectors = article_vectors(terms, df)
    keys = tuple(key_terms(vectors, terms, params.key_terms, params.title_key_terms))
    candidates = state.candidates(keys, terms.language, terms.at)
    decision = decide_story(vectors, terms.at, candidates, params, df.documents)
    by_id = {story.story_id: story for story in candidates}
    if decision.story_id is None:
        story = new_profile(article_id, vectors, terms.at, created, params.profile_terms)
        return Assignment(decision, story, (), keys, True)
    story = by_id[decision.story_id]
    merged = tuple(by_id[story_id] for story_id in decision.merge)
    for other in merged:
        story.absorb(other, params.profile_terms)
    central = story.add(article_id, vectors, terms.at, params.profile_terms)
    return Assignment(decision, story, merged, keys, central)


class MemoryStories(StoryState):
    """The statistics and profiles in memory: the same assignments as the store's on the same
    articles in the same order (bench/stories.py compares them)."""

    def __init__(self, params: StoryParams) -> None:
        self.params = params
        self.sketch = FrequencySketch()
        self.profiles: dict[str, StoryProfile] = {}
        self.language: dict[str, str | None] = {}
        self.keys: dict[str, set[str]] = {}  # key term -> stories
        self.merged_into: dict[str, str] = {}
        self.created = 0

    def frequencies(self, terms: ArticleTerms) -> DocumentFrequencies:
        # Counted already (``add``), so no plus one.
        background = background_of(terms, self.params)
        return self.sketch.frequencies(terms.keys, terms.buckets, False, *background)

    def candidates(self, keys: Sequence[str], language: str | None, at: datetime) -> list[StoryProfile]:
        shared = Counter(story for key in keys for story in self.keys.get(key, ()))
        found = [
            s
            for s in shared
            if shared[s] >= self.params.min_shared_keys
            and self.language[s] == language
            and in_window(at, self.profiles[s], self.params)
        ]
        found.sort(key=lambda s: (-shared[s], self.profiles[s].created))
        return [self.profiles[s] for s in found[: self.params.candidate_limit]]

    def add(self, article_id: str, terms: ArticleTerms) -> Assignment:
        self.sketch.add(terms.unique_buckets)
        self.created += 1
        done = assign(terms, self, self.params, article_id, self.created)
        story_id = done.story.story_id
        self.profiles[story_id] = done.story
        self.language.setdefault(story_id, terms.language)
        for other in done.merged:
            self.merged_into[other.story_id] = story_id
            del self.profiles[other.story_id]
            for stories in self.keys.values():
                if other.story_id in stories:
                    stories.discard(other.story_id)
                    stories.add(story_id)
        for key in done.keys:
            self.keys.setdefault(key, set()).add(story_id)
        if self.sketch.documents % PRUNE_EVERY == 0:  # as store/stories.py does
            before = terms.at - timedelta(days=2 * self.params.window_days)
            old = {s for s, p in self.profiles.items() if p.last_at < before}
            for stories in self.keys.values():
                stories -= old
        return done
