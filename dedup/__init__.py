"""Near-duplicate detection: normalize → shingles → MinHash → LSH candidates → verify → Decision.

Pure: knows nothing of Celery, Scrapy or SQL. The Redis index talks to a client it is given.
"""
from dedup.types import Candidate, DedupParams, Decision, Fingerprint, PageFacts
from dedup.fingerprint import Similarity, fingerprint, similarity
from dedup.decide import decide
from dedup.index import CandidateIndex, InMemoryIndex, IndexMissing, RedisIndex, query_postings

__all__ = [
    "Candidate", "DedupParams", "Decision", "Fingerprint", "PageFacts",
    "Similarity", "fingerprint", "similarity", "decide", "CandidateIndex", "InMemoryIndex", "IndexMissing", "RedisIndex",
    "query_postings",
]
