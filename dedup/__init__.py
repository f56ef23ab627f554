"""Near-duplicate detection: normalize → shingles → MinHash → LSH candidates → verify → Decision.

Pure: knows nothing of Celery, Scrapy or SQL. The Redis index talks to a client it is given.
"""

from dedup.decide import decide
from dedup.fingerprint import Similarity, fingerprint, similarity
from dedup.index import CandidateIndex, IndexMissing, InMemoryIndex, RedisIndex, query_postings
from dedup.types import Candidate, Decision, DedupParams, Fingerprint, PageFacts

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
