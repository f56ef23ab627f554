"""The values dedup works with. Plain data: no Celery, Scrapy or SQL anywhere in dedup/."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

DecisionKind = Literal["new", "unchanged", "duplicate", "version"]
Relation = Literal["original", "alternate", "syndicated", "revision"]
FoundBy = Literal["url", "canonical", "index"]


@dataclass(frozen=True)
class DedupParams:
    """Thresholds; the defaults come from Settings (calibrated by bench/dedup_calibration.py)."""

    num_perm: int = 128
    shingle_size: int = 3
    lsh_threshold: float = 0.2
    duplicate_jaccard: float = 0.8
    duplicate_containment: float = 0.85
    version_jaccard: float = 0.2
    version_containment: float = 0.5
    # A same-source page at a new URL is a version only when it keeps at least this share of
    # the article's body (its body lines' shingles); 0 turns the rule off (the rules before 0.2).
    version_body_kept: float = 0.5
    # Two texts whose only common ground lies in one paragraph (a sentence, a paragraph, or the
    # start of one), each with a body of its own, are different articles (a shared wire lead);
    # False: only when they share that paragraph verbatim (the rule before 0.2).
    shared_passage_apart: bool = True


@dataclass(frozen=True)
class Fingerprint:
    """What dedup keeps of one text. Storable: ``signature`` is bytes (num_perm little-endian uint32)."""

    text_hash: str  # hex sha256 of the normalized text
    signature: bytes  # MinHash hash values
    shingle_count: int  # number of distinct shingles (for containment estimates)
    paragraph_hashes: tuple[str, ...]  # hashes of the normalized paragraphs long enough to count
    # Exact shingle hashes (sorted little-endian uint32) for texts of at most
    # dedup.fingerprint.EXACT_SHINGLE_LIMIT shingles, else b"". Lets similarity() be exact where
    # MinHash is noisy (a short text against a long one). Optional: b"" falls back to MinHash.
    shingles: bytes = b""
    # The exact shingle hashes of the text's body lines (paragraphs of at least
    # dedup.fingerprint.BODY_LINE_WORDS words, not headings, labels, credits or calls to
    # action): whether a text brings new material, or tells something of its own. Stored with
    # ``shingles`` (b"" for long texts, and for versions stored before it was kept).
    body_shingles: bytes = b""
    # Of the page being judged only (fingerprint() fills it, the store does not keep it): the
    # number of shingles of each paragraph of ``paragraph_hashes``, to tell whether all two
    # texts share is one paragraph.
    paragraph_shingle_counts: tuple[int, ...] = ()
    # Of the page being judged only, like ``paragraph_shingle_counts``, and only for texts with
    # exact shingles: the shingle hashes of each line of the text, in word order (packed like
    # ``shingles``), to tell whether all two texts share is one passage of one paragraph: a
    # sentence, a paragraph of its own, or the start of one.
    line_shingles: tuple[bytes, ...] = ()


@dataclass(frozen=True)
class PageFacts:
    """What decide() needs to know of the page being judged."""

    url: str  # normalized URL the page was fetched at
    canonical_url: str  # normalized canonical URL the page names (or url)
    source: str


def version_key(article_id: str, version: int) -> str:
    """The key a stored version has in the candidate index: ``"article_id:version"``."""
    return f"{article_id}:{version}"


@dataclass(frozen=True)
class Candidate:
    """One stored version of an article that might be the same as the page."""

    article_id: str
    version: int
    source: str  # source of the page this version came from
    url: str  # URL this version was fetched at
    fingerprint: Fingerprint
    is_latest: bool  # the article's current version
    # How this candidate was found: "url" (the page's URL was fetched before for this
    # article), "canonical" (the page's canonical URL is the article's), "index" (LSH or
    # paragraph postings).
    found_by: FoundBy = "index"
    # For found_by="url": how the page's URL relates to the article and the hash of the text
    # last seen at it. A re-fetched alternate or syndicated URL is judged against these, so
    # a copy that merely follows the original's update makes no version of its own.
    url_relation: Relation | None = None
    url_text_hash: str | None = None
    url_version: int | None = None  # the version the URL's text last matched

    @property
    def key(self) -> str:
        return version_key(self.article_id, self.version)


@dataclass(frozen=True)
class Decision:
    kind: DecisionKind
    article_id: str | None  # None only for "new"
    relation: Relation  # how the page's URL relates to the article
    similarity: float | None = None  # estimated Jaccard against the matched version
    containment: float | None = None
    reason: str = ""  # one sentence a human can read ("near-duplicate of ... ")
    matched_version: int | None = None  # the stored version the page was judged the same as
