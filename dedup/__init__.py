"""Near-duplicate detection: normalize → shingles → MinHash → LSH candidates → verify → Decision.

Pure: knows nothing of Celery, Scrapy or SQL. The Redis index talks to a client it is given.
"""

from newsdedup.dedup.decide import decide
from newsdedup.dedup.fingerprint import Similarity, fingerprint, similarity
from newsdedup.dedup.index import CandidateIndex, IndexMissing, InMemoryIndex, RedisIndex, query_postings
from newsdedup.dedup.types import Candidate, Decision, DedupParams, Fingerprint, PageFacts

__all__ = [
    "Candidate",
    "CandidateIndex",
    "Decision",
    "DedupParams",
    "Fingerprint",
    "InMemoryIndex",
    "IndexMissing",
    "PageFacts",
    "RedisIndex",
    "Similarity",
    "decide",
    "fingerprint",
    "query_postings",
    "similarity",
]
