"""Near-duplicate detection: normalize → shingles → MinHash → LSH candidates → verify → Decision.

Pure: knows nothing of Celery, Scrapy or SQL. The Redis index talks to a client it is given.

The names below are loaded on first use (PEP 562): the store and the crawling process only
need ``dedup.types``, and should not pay for numpy's import at start-up.
"""
from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from dedup.types import Candidate, DedupParams, Decision, Fingerprint, PageFacts

if TYPE_CHECKING:
    from dedup.decide import decide
    from dedup.fingerprint import Similarity, fingerprint, similarity
    from dedup.index import CandidateIndex, InMemoryIndex, RedisIndex

_LAZY = {
    "Similarity": "dedup.fingerprint", "fingerprint": "dedup.fingerprint", "similarity": "dedup.fingerprint",
    "decide": "dedup.decide",
    "CandidateIndex": "dedup.index", "InMemoryIndex": "dedup.index", "RedisIndex": "dedup.index",
}

__all__ = [
    "Candidate", "DedupParams", "Decision", "Fingerprint", "PageFacts",
    "Similarity", "fingerprint", "similarity", "decide", "CandidateIndex", "InMemoryIndex", "RedisIndex",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dedup' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
