"""Fingerprints (what dedup keeps of a text) and the similarity of two of them.

Shingles are runs of ``shingle_size`` words inside one normalized paragraph (a paragraph
shorter than that is one shingle). A shingle's 32-bit hash mixes the CRC-32s of its words in
order (``shingle_hashes``: numpy over the whole text at once, several times faster than the
sha1 per shingle it replaces). Nothing depends on Python's
``hash()`` or the process, so the values are the same in every process and Python version.
The MinHash is datasketch's (scheme "affine32", seed 1), so signatures are comparable across
processes and storable as ``num_perm`` little-endian uint32.

Changing how shingles are hashed changes every signature and exact shingle set: fingerprints
stored before cannot be compared with new ones (recompute them from the stored texts and
rebuild the index). tests/test_dedup_fingerprint.py pins the hashes, so such a change is seen.

Exact shingles: MinHash estimates are noisy when one text is much smaller than the other
(a two-paragraph "old version" inside the full article: a containment estimated from a
Jaccard of 0.1 is off by ±0.2). So the fingerprint also carries the exact shingle hashes
(``Fingerprint.shingles``, sorted little-endian uint32) for texts of at most
``EXACT_SHINGLE_LIMIT`` shingles, nearly every news article (≤ 8 KB each). When both sides
have them, ``similarity`` is exact; otherwise it falls back to the MinHash estimate.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from newsdedup.dedup.normalize import normalize_paragraph
from newsdedup.dedup.types import DedupParams, Fingerprint

if TYPE_CHECKING:
    import numpy as np

    from newsdedup.dedup.datasketch_import import MinHash

# numpy and datasketch are imported where they are used (# deferred): the processes that only
# store or send pages (the crawl of distributed mode, the API) import this package through the
# store's types but never hash anything, and are spared ≈ 155 ms of imports for numpy and
# ≈ 1.3 s for datasketch with SciPy's integrate (bench/import_costs.py, least of 5 runs,
# 2026-12-06, commit b3e8b7b, a busy 2-core machine; ≈ 0.19 s since dedup/datasketch_import.py
# defers SciPy's integrate).

# Texts with more distinct shingles keep only the MinHash signature.
EXACT_SHINGLE_LIMIT = 2000
# Paragraphs shorter than this are not hashed for the paragraph postings: short lines
# ("Follow us on Twitter") are shared by every article of a site.
PARAGRAPH_MIN_WORDS = 8
# Lines shorter than this (normalized words) are "short lines": headings, captions, credits
# ("This story first appeared on ..."), bylines, "Print" or "Back to the article". Body lines
# are longer and end like a sentence; a page whose only new lines are not body lines brings no
# new material (Fingerprint.body_shingles).
BODY_LINE_WORDS = 12
_SENTENCE_END = re.compile(r"[.!?…:。！？][\"'”’“‘»«)\]」』]*$")
# A line this long is body text even without a full stop (no headline is that long).
BODY_LINE_ANY_END_WORDS = 25
_SCHEME = "affine32"
_SIGNATURE_DTYPE = "<u4"  # numpy dtype: little-endian uint32
# Fills the window of a paragraph shorter than a shingle ("a b" → "a b <pad>").
_MAX_HASH32 = 0xFFFFFFFF  # an empty set's MinHash value (datasketch's)
_PAD = 0x9E3779B97F4A7C15  # above 2**32: no CRC-32 equals it
_MIX1 = 0xBF58476D1CE4E5B9
_MIX2 = 0x94D049BB133111EB


@dataclass(frozen=True)
class Similarity:
    """How alike two texts a and b are, on their sets of shingles A and B."""

    jaccard: float  # |A∩B| / |A∪B|
    a_in_b: float  # |A∩B| / |A|: share of a found in b (1.0: a is contained in b)
    b_in_a: float  # |A∩B| / |B|
    exact: bool  # computed from exact shingles, not estimated from MinHash

    @property
    def containment(self) -> float:
        """The larger of the two containments."""
        return max(self.a_in_b, self.b_in_a)


@lru_cache(maxsize=8)
def _permutations(num_perm: int) -> tuple[np.ndarray, np.ndarray]:
    # Generating permutations costs more than hashing a short text: do it once per size.
    from newsdedup.dedup.datasketch_import import MinHash  # deferred (see above)

    return MinHash(num_perm=num_perm, scheme=_SCHEME).permutations


def paragraph_hash(normalized_paragraph: str) -> str:
    """Stable short hash of one normalized paragraph (16 hex digits)."""
    return hashlib.blake2b(normalized_paragraph.encode("utf-8"), digest_size=8).hexdigest()


@lru_cache(maxsize=1)
def _mix_constants() -> tuple[np.uint64, ...]:
    import numpy as np  # deferred: ≈ 155 ms (see above)

    return tuple(np.uint64(n) for n in (30, _MIX1, 27, _MIX2, 31))


def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer, elementwise (uint64 arithmetic wraps, as intended)."""
    shift_30, mix1, shift_27, mix2, shift_31 = _mix_constants()
    values = (values ^ (values >> shift_30)) * mix1
    values = (values ^ (values >> shift_27)) * mix2
    return values ^ (values >> shift_31)


def _shingle_windows(paragraphs: list[str], shingle_size: int) -> tuple[np.ndarray, list[int]]:
    """The hashes of every paragraph's shingles in order, end to end, and how many each has.

    A word's value is the CRC-32 of its UTF-8 bytes; a shingle's hash mixes the values of
    its words in order (splitmix64's finalizer after each, the high 32 bits kept). Every
    paragraph's words are laid end to end, each paragraph followed by ``shingle_size - 1``
    pad values, so that a window starting inside a paragraph never reaches into the next
    one, and a paragraph shorter than a shingle is one padded window.
    """
    import numpy as np  # deferred: ≈ 155 ms (see above)

    values: list[int] = []
    starts: list[int] = []
    counts: list[int] = []
    pad = [_PAD] * (shingle_size - 1)
    for paragraph in paragraphs:
        # Normalized paragraphs hold single spaces between words and no others.
        words = paragraph.encode("utf-8").split()
        if not words:
            counts.append(0)
            continue
        first = len(values)
        count = max(1, len(words) - shingle_size + 1)
        counts.append(count)
        starts.extend(range(first, first + count))
        values.extend(map(zlib.crc32, words))
        values.extend(pad)
    if not starts:
        return np.empty(0, dtype=np.uint32), counts
    words_array = np.array(values, dtype=np.uint64)
    windows = np.array(starts, dtype=np.intp)
    combined = np.full(len(windows), shingle_size, dtype=np.uint64)
    for offset in range(shingle_size):
        combined = _mix(combined ^ words_array[windows + offset])
    return (combined >> np.uint64(32)).astype(np.uint32), counts


def shingle_hashes(paragraphs: list[str], shingle_size: int, in_order: bool = False) -> np.ndarray:
    """Distinct 32-bit hashes of the word shingles of normalized paragraphs, sorted
    (``in_order``: all of them, in the order of the words; see ``_shingle_windows``)."""
    import numpy as np  # deferred: ≈ 155 ms (see above)

    hashes, _ = _shingle_windows(paragraphs, shingle_size)
    return hashes if in_order else np.unique(hashes)


def minhash_values(hashes: np.ndarray, num_perm: int) -> np.ndarray:
    """The MinHash hash values of a set of 32-bit shingle hashes: what datasketch's
    ``MinHash(num_perm, hashfunc=int, scheme="affine32").update_batch(hashes)`` holds, computed
    in one numpy step (datasketch builds a Python int per hash and checks each one first).
    Its affine32 scheme: each value is pre-mixed with MurmurHash3's 32-bit finalizer, then
    permutation k maps it to ``a_k * h + b_k`` modulo 2**32; a permutation's value is the least
    over the set, 2**32 - 1 for an empty set. tests/test_dedup_fingerprint.py compares the
    two on real texts."""
    import numpy as np  # deferred: ≈ 155 ms (see above)

    if not len(hashes):
        return np.full(num_perm, _MAX_HASH32, dtype=np.uint32)
    a, b = _permutations(num_perm)
    values = hashes.astype(np.uint32).reshape(-1, 1)
    values = values ^ (values >> np.uint32(16))
    values = values * np.uint32(0x85EBCA6B)
    values = values ^ (values >> np.uint32(13))
    values = values * np.uint32(0xC2B2AE35)
    values = values ^ (values >> np.uint32(16))
    return (values * a + b).min(axis=0)


def fingerprint(text: str, params: DedupParams) -> Fingerprint:
    """Fingerprint of an extracted article text (paragraphs separated by newlines)."""
    return fingerprint_lines(normalized_lines(text), params)


def normalized_lines(text: str) -> list[tuple[str, str]]:
    """Each line of the text with its normalized form ("" for chrome lines), in order."""
    return [(line, normalize_paragraph(line)) for line in text.splitlines()]


def is_body_line(line: str, normalized: str) -> bool:
    """A line of the article's body: a sentence of at least BODY_LINE_WORDS words, not a
    heading, a label or a credit (a headline of twelve words has no full stop)."""
    words = len(normalized.split())
    return words >= BODY_LINE_ANY_END_WORDS or (
        words >= BODY_LINE_WORDS and bool(_SENTENCE_END.search(line.rstrip()[-8:]))
    )


def _packed(hashes: np.ndarray) -> bytes:
    return hashes.astype(_SIGNATURE_DTYPE).tobytes()


def fingerprint_lines(lines: list[tuple[str, str]], params: DedupParams) -> Fingerprint:
    """Fingerprint of a text given as ``normalized_lines``, for callers that looked at the
    normalized lines themselves."""
    import numpy as np  # deferred: ≈ 155 ms (see above)

    if params.shingle_size < 1:
        raise ValueError(f"shingle_size must be at least 1, got {params.shingle_size}")
    paragraphs = [normalized for _, normalized in lines if normalized]
    # Every paragraph's shingles once, in order: the text's set, its body lines' set and each
    # line's own are cut from them (a window never crosses a paragraph's end).
    in_order, counts = _shingle_windows(paragraphs, params.shingle_size)
    bounds = np.concatenate(([0], np.cumsum(counts, dtype=np.intp)))
    hashes = np.unique(in_order)
    body_lines = [
        index
        for index, (line, normalized) in enumerate((line, n) for line, n in lines if n)
        if is_body_line(line, normalized)
    ]
    body = (
        np.unique(np.concatenate([in_order[bounds[i] : bounds[i + 1]] for i in body_lines]))
        if body_lines
        else np.empty(0, dtype=np.uint32)
    )
    words = [len(p.split()) for p in paragraphs]
    hashed = [(p, n) for p, n in zip(paragraphs, words) if n >= PARAGRAPH_MIN_WORDS]
    exact = len(hashes) <= EXACT_SHINGLE_LIMIT
    return Fingerprint(
        text_hash=hashlib.sha256("\n".join(paragraphs).encode("utf-8")).hexdigest(),
        signature=_packed(minhash_values(hashes, params.num_perm)),
        shingle_count=len(hashes),
        paragraph_hashes=tuple(paragraph_hash(p) for p, _ in hashed),
        shingles=_packed(hashes) if exact else b"",
        body_shingles=_packed(body),
        # Shingles a paragraph of n words holds (repeats within one paragraph are rare).
        paragraph_shingle_counts=tuple(max(1, n - params.shingle_size + 1) for _, n in hashed),
        # The shingle hashes of each normalized line, in the order of its words.
        line_shingles=tuple(_packed(in_order[bounds[i] : bounds[i + 1]]) for i in range(len(paragraphs)))
        if exact
        else (),
    )


def shingle_array(packed: bytes) -> np.ndarray:
    """Packed shingle hashes (``Fingerprint.shingles``, ``body_shingles``) as a numpy array."""
    import numpy as np  # deferred: ≈ 155 ms (see above)

    return np.frombuffer(packed, dtype=_SIGNATURE_DTYPE)


def signature_values(fp: Fingerprint) -> np.ndarray:
    """The MinHash hash values of a fingerprint, as datasketch holds them."""
    import numpy as np  # deferred: ≈ 155 ms (see above)

    return np.frombuffer(fp.signature, dtype=_SIGNATURE_DTYPE).astype(np.uint32)


def to_minhash(fp: Fingerprint) -> MinHash:
    """A datasketch MinHash holding the fingerprint's signature (for MinHashLSH)."""
    from newsdedup.dedup.datasketch_import import MinHash  # deferred (see above)

    values = signature_values(fp)
    return MinHash(hashvalues=values, permutations=_permutations(len(values)), scheme=_SCHEME)


def similarity(a: Fingerprint, b: Fingerprint) -> Similarity:
    """Jaccard and containments of two fingerprints: exact when both carry their shingles,
    else estimated from MinHash, with |A∩B| = J(|A|+|B|)/(1+J)."""
    import numpy as np  # deferred: ≈ 155 ms (see above)

    if a.shingle_count == 0 or b.shingle_count == 0:
        same = 1.0 if a.text_hash == b.text_hash else 0.0
        return Similarity(same, same, same, exact=True)
    if a.shingles and b.shingles:
        shingles_a = np.frombuffer(a.shingles, dtype=_SIGNATURE_DTYPE)
        shingles_b = np.frombuffer(b.shingles, dtype=_SIGNATURE_DTYPE)
        common = len(np.intersect1d(shingles_a, shingles_b, assume_unique=True))
        union = len(shingles_a) + len(shingles_b) - common
        return Similarity(common / union, common / len(shingles_a), common / len(shingles_b), exact=True)
    if len(a.signature) != len(b.signature):
        raise ValueError(
            f"cannot compare signatures of {len(a.signature) // 4} and {len(b.signature) // 4} "
            "permutations: fingerprints were made with different num_perm"
        )
    jaccard = float(np.count_nonzero(signature_values(a) == signature_values(b))) / (len(a.signature) // 4)
    # The shingles both have, estimated from the Jaccard and the two counts.
    shared = jaccard * (a.shingle_count + b.shingle_count) / (1.0 + jaccard)
    return Similarity(
        jaccard,
        min(1.0, shared / a.shingle_count),
        min(1.0, shared / b.shingle_count),
        exact=False,
    )
