"""The candidate index: which stored versions might be the same article as a page.

Two kinds of postings, both keyed by opaque caller keys ("articleid:version"):

- LSH bands of the MinHash signature: finds texts whose Jaccard is near or above
  ``lsh_threshold``;
- hashes of long paragraphs: finds containment cases that Jaccard-LSH misses (a trimmed
  copy, a short "old version" of an article that grew). A paragraph shared by more than
  ``MAX_PARAGRAPH_POSTINGS`` keys is site boilerplate and finds nothing.

``InMemoryIndex`` (embedded mode) holds them in datasketch's ``MinHashLSH`` and dicts, for every
stored version (rebuilt from the store at start).
``RedisIndex`` (distributed mode) keeps the same postings in Redis with a compact layout of its
own rather than datasketch's Redis storage, which makes a round trip per band and keeps a
pickled copy of every key: every operation is one Lua script call (one round trip, atomic),
and the bands are cut exactly as datasketch cuts them. Two differences, both for memory: it
holds only a candidate window (the last ``window_days`` of entries: updates of older articles
are found by URL in the store), and posts only the first ``INDEXED_PARAGRAPHS`` long
paragraphs of an entry (a page's paragraphs are all looked up).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Iterable
from functools import cache, lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any, Protocol

from newsdedup.dedup.fingerprint import signature_values, to_minhash
from newsdedup.dedup.types import DedupParams, Fingerprint

if TYPE_CHECKING:  # the client is handed in; dedup never opens a connection itself
    import redis

MAX_PARAGRAPH_POSTINGS = 100


class IndexMissing(Exception):
    """The Redis index is not the one built for this store (flushed, lost, or another
    store's): deciding against it would miss every text match. Rebuild it first."""


class CandidateIndex(Protocol):
    def add(self, key: str, fp: Fingerprint) -> None:
        """Index ``fp`` under ``key``; adding a key that is already there changes nothing."""

    def query(self, fp: Fingerprint) -> set[str]:
        """Keys of LSH candidates and of entries sharing a long paragraph with ``fp``."""

    def remove(self, key: str) -> None:
        """Forget ``key`` (no error if it is unknown)."""

    def __len__(self) -> int:
        """Number of keys indexed."""


# (bands, rows per band) that datasketch's MinHashLSH picks for the default threshold and size:
# known, so that no process loads SciPy's integrate to find them (dedup/datasketch_import.py).
# tests/test_dedup_index.py checks each against datasketch.
KNOWN_BANDS: dict[tuple[float, int], tuple[int, int]] = {(0.2, 128): (28, 2)}


@lru_cache(maxsize=32)
def lsh_bands(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows per band) that datasketch's MinHashLSH picks for this threshold and size."""
    known = KNOWN_BANDS.get((threshold, num_perm))
    if known is not None:
        return known
    # here, not at the top: see dedup/fingerprint.py
    from newsdedup.dedup.datasketch_import import MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    return lsh.b, lsh.r


def _check_size(fp: Fingerprint, params: DedupParams) -> None:
    if len(fp.signature) != 4 * params.num_perm:
        raise ValueError(
            f"fingerprint has {len(fp.signature) // 4} permutations, the index expects "
            f"{params.num_perm}: was it made with other DedupParams?"
        )


class InMemoryIndex:
    """The index in this process's memory (embedded mode); rebuilt from the store at start."""

    def __init__(self, params: DedupParams) -> None:
        # here, not at the top: see dedup/fingerprint.py
        from newsdedup.dedup.datasketch_import import MinHashLSH

        self._params = params
        self._lsh = MinHashLSH(
            threshold=params.lsh_threshold,
            num_perm=params.num_perm,
            params=lsh_bands(params.lsh_threshold, params.num_perm),
        )
        self._paragraphs_of: dict[str, tuple[str, ...]] = {}
        self._keys_with_paragraph: dict[str, set[str]] = {}

    def add(self, key: str, fp: Fingerprint) -> None:
        _check_size(fp, self._params)
        if key in self._paragraphs_of:
            return
        self._lsh.insert(key, to_minhash(fp), check_duplication=False)
        self._paragraphs_of[key] = tuple(set(fp.paragraph_hashes))
        for paragraph in self._paragraphs_of[key]:
            self._keys_with_paragraph.setdefault(paragraph, set()).add(key)

    def query(self, fp: Fingerprint) -> set[str]:
        _check_size(fp, self._params)
        found: set[str] = set(self._lsh.query(to_minhash(fp))) if self._paragraphs_of else set()
        for paragraph in set(fp.paragraph_hashes):
            keys = self._keys_with_paragraph.get(paragraph, ())
            if len(keys) <= MAX_PARAGRAPH_POSTINGS:
                found.update(keys)
        return found

    def remove(self, key: str) -> None:
        paragraphs = self._paragraphs_of.pop(key, None)
        if paragraphs is None:
            return
        self._lsh.remove(key)
        for paragraph in paragraphs:
            keys = self._keys_with_paragraph.get(paragraph)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._keys_with_paragraph[paragraph]

    def __len__(self) -> int:
        return len(self._paragraphs_of)


# --- Redis ---------------------------------------------------------------------------------
#
# Layout (P = basename, g = generation number = floor(time / generation length)):
#
#   P:next                    string   last member id handed out (INCR)
#   P:g:{g}:m                 hash     "n": entries alive, "a": entries ever added, "l": bitmask
#                                      of the shard levels used in this generation
#   P:g:{g}:k:{lv}:{shard}    hash     key → member id (idempotent add, remove)
#   P:g:{g}:r:{id // 128}     hash     id % 128 → key (what a query returns)
#   P:p:{lv}:{shard}          hash     posting field → member ids ("17" or "17,342"), shared by
#                                      every generation filed at level lv; the field is the
#                                      posting's first 6 bytes and 2 bytes of its generation
#                                      (g % 65536); "g": the oldest generation it holds
#
# Postings are spread over 16**lv small hashes, lv chosen so that each holds at most
# POSTINGS_PER_SHARD entries (all live generations together): small hashes are stored by Redis
# as listpacks (a few bytes per field plus the value, where one hashtable entry costs ~70
# bytes). The level follows the number of entries of the generation (and of the one before),
# so a busy index gets more shards without re-hashing what is stored. Ids are sequential, so
# the id → key hashes are dense listpacks too.
#
# The posting hashes are shared by the generations (not one set per generation) because a
# query's cost is the number of hashes it looks into: one HMGET per posting (per level)
# fetches the posting of every live generation, where a hash per generation took one HGET per
# posting per generation, mostly cache misses on millions of keys. Memory stays bounded by the
# window: the per-generation keys expire (EXPIRE) when the last of their entries leaves the
# window; a posting hash's TTL is that of the newest generation it holds, and the fields of
# generations that left the window are dropped ("pruned") by the next add that touches the hash
# (and by drop_expired); queries only ask for fields of generations inside the window.
# The scripts live in dedup/lua/ (package data); each is its parts end to end, read once.
_SCRIPT_PARTS = {
    "add": ("levels", "prune", "marker", "add"),
    "query": ("levels", "marker", "query"),
    "remove": ("levels", "remove"),
    "count": ("count",),
    "sweep": ("prune", "sweep"),
}


@cache
def lua_script(name: str) -> str:
    """The Lua source of the index's script ``name`` (a key of ``_SCRIPT_PARTS``)."""
    folder = resources.files("newsdedup.dedup") / "lua"
    return "\n".join((folder / f"{part}.lua").read_text(encoding="utf-8") for part in _SCRIPT_PARTS[name])


# Only the first few long paragraphs of an entry get postings: enough to find a trimmed copy
# or an old short version (they share the lead), at a fraction of the memory. Queries still
# look up every long paragraph of the page (up to QUERY_PARAGRAPHS).
INDEXED_PARAGRAPHS = 6
QUERY_PARAGRAPHS = 64
# Most entries per posting hash: under Redis's hash-max-listpack-entries (128 by default), so
# that the hashes stay listpacks even while they hold every live generation and one that left
# the window and is not pruned yet. Each generation gets an equal share; a level is the
# smallest one that keeps a generation within its share, so hashes hold between 1/16 of it
# and all of it. (A share of 64 / (generations + 1) wasted memory at small sizes: a 10 k
# index landed one level too high, two postings per hash, 1.7 KB per article.)
POSTINGS_PER_SHARD = 120
DEFAULT_WINDOW_DAYS = 30.0
DEFAULT_GENERATIONS = 2
# Sizes the first generation of an empty index (later ones follow the one before).
DEFAULT_EXPECTED_PER_DAY = 2000
# Shard levels a generation may use (a query looks each posting up once per level).
MAX_LEVELS = 2
# Bytes of a posting kept in its field; the other 2 hold the generation.
_POSTING_BYTES = 6
_SCAN_BATCH = 1000


def marker_key(basename: str) -> str:
    """The hash where ``RedisIndex.mark_complete`` records which store the index was built for."""
    return f"{basename}:marker"


def built_for(client: redis.Redis, basename: str) -> str | None:
    """The identity of the store the index ``basename`` was last built for, or None (never
    built, or Redis was flushed): what the API's health check compares with its store's."""
    owner = client.hget(marker_key(basename), "owner")
    return owner.decode() if isinstance(owner, bytes) else owner


class RedisIndex:
    """The index in Redis, shared by all workers (distributed mode).

    Entries stay findable for ``window_days`` after they were added (at most one generation,
    ``window_days / generations``, longer), then leave the index and their memory is freed:
    the index holds the last ``window_days`` of articles, not all of them. That is safe for
    the service because an update of an older article is still found by its URL (the store's
    URL table, ``Store.candidates_for_url``), and so is a page naming it as canonical; what the
    window gives up is text matching against articles older than the window.

    Every key lives under ``{basename}:`` (layout above). Each operation is one Lua script call
    (atomic, one round trip); the scripts name keys they compute, so this is for a single Redis
    server (or Sentinel), not Redis Cluster. ``now`` is the clock (a fake one in tests): the
    generation an entry belongs to comes from it, not from Redis, while expiry is a TTL counted
    by Redis. Keys must not contain newlines. An index written by the layout before posting
    hashes were shared ("P:g:{g}:{lv}:{shard}") is not read by this one: rebuild it
    (``workers.index_repair.rebuild_index``).
    """

    def __init__(
        self,
        client: redis.Redis,
        params: DedupParams,
        basename: str,
        *,
        window_days: float = DEFAULT_WINDOW_DAYS,
        generations: int = DEFAULT_GENERATIONS,
        expected_per_day: int = DEFAULT_EXPECTED_PER_DAY,
        now: Callable[[], float] = time.time,
        owner: str | None = None,
    ) -> None:
        """``owner`` names the store the index is built for; when given, queries and adds
        raise ``IndexMissing`` unless ``mark_complete`` recorded that owner (after a build)."""
        if not basename or any(c.isspace() for c in basename):
            raise ValueError(f"basename must be a non-empty word, got {basename!r}")
        if not window_days > 0:
            raise ValueError(f"window_days must be positive, got {window_days}")
        if generations < 1:
            raise ValueError(f"generations must be at least 1, got {generations}")
        self._client = client
        self._params = params
        self._prefix = basename
        self._window = window_days * 86400.0
        self._generation = self._window / generations
        # a posting hash holds every live generation (generations + 1 of them) and, until it
        # is pruned, one that left the window
        self._per_shard_and_generation = POSTINGS_PER_SHARD / (generations + 2)
        self._now = now
        self._expected_per_day = expected_per_day
        self._bands, self._rows = lsh_bands(params.lsh_threshold, params.num_perm)
        self._add = client.register_script(lua_script("add"))
        self._remove = client.register_script(lua_script("remove"))
        self._query = client.register_script(lua_script("query"))
        self._count = client.register_script(lua_script("count"))
        self._sweep = client.register_script(lua_script("sweep"))
        self._dropped_before: int | None = None
        self._owner = owner or ""

    # --- what the window means in generations ---
    def _span(self) -> tuple[int, int]:
        """(oldest generation still in the window, current generation)."""
        now = self._now()
        return math.floor((now - self._window) / self._generation), math.floor(now / self._generation)

    def _ttl(self, generation: int) -> int:
        """Seconds until the last entry of ``generation`` leaves the window."""
        return max(1, math.ceil((generation + 1) * self._generation + self._window - self._now()))

    def _postings(self, fp: Fingerprint, paragraphs: int) -> list[bytes]:
        """8-byte postings: the LSH bands, then up to ``paragraphs`` long paragraphs."""
        return _postings(fp, self._bands, self._rows, paragraphs)

    @staticmethod
    def _shard_hex(postings: list[bytes]) -> bytes:
        """The hex of each posting's first 3 bytes, end to end (the shard at level lv is the
        first lv hex digits)."""
        return b"".join(p[:3] for p in postings).hex().encode()

    @staticmethod
    def _key_hash(key: str) -> int:
        return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=3).digest(), "big")

    def _add_args(
        self, key: str, fp: Fingerprint, added_at: float | None
    ) -> list[bytes | str | float] | None:
        _check_size(fp, self._params)
        if not key or "\n" in key:
            raise ValueError(f"index keys must be non-empty and without newlines, got {key!r}")
        oldest, current = self._span()
        generation = current if added_at is None else min(current, math.floor(added_at / self._generation))
        if generation < oldest:
            return None  # already out of the window: nothing to index
        postings = self._postings(fp, INDEXED_PARAGRAPHS)
        tag = (generation % 65536).to_bytes(2, "big")
        return [
            self._prefix,
            key,
            self._key_hash(key),
            generation,
            oldest,
            current,
            self._ttl(generation),
            self._bands,
            MAX_PARAGRAPH_POSTINGS,
            self._bands + INDEXED_PARAGRAPHS,
            self._per_shard_and_generation,
            max(1, round(self._expected_per_day * self._generation / 86400.0)),
            MAX_LEVELS,
            b"".join(p[:_POSTING_BYTES] + tag for p in postings),
            self._shard_hex(postings),
            self._owner,
        ]

    def add(self, key: str, fp: Fingerprint, added_at: float | None = None) -> None:
        """Index ``fp`` under ``key``. ``added_at`` (epoch seconds; default now) places a
        rebuilt entry in its own generation; an entry already out of the window is skipped."""
        args = self._add_args(key, fp, added_at)
        self._drop_expired_generations()
        if args is not None:
            self._checked(self._add, args)

    def add_many(self, entries: Iterable[tuple[str, Fingerprint]], added_at: float | None = None) -> None:
        """``add`` for many entries in one pipelined round trip (rebuilds, bulk loads: they
        come before ``mark_complete``, so the owner is not checked)."""
        self._drop_expired_generations()
        pipe = self._client.pipeline(transaction=False)
        for key, fp in entries:
            args = self._add_args(key, fp, added_at)
            if args is not None:
                self._add(keys=[], args=[*args[:-1], ""], client=pipe)
        pipe.execute()

    def query(self, fp: Fingerprint) -> set[str]:
        _check_size(fp, self._params)
        oldest, current = self._span()
        postings = self._postings(fp, QUERY_PARAGRAPHS)
        found = self._checked(
            self._query,
            [
                self._prefix,
                oldest,
                current,
                self._bands,
                MAX_PARAGRAPH_POSTINGS,
                b"".join(p[:_POSTING_BYTES] for p in postings),
                self._shard_hex(postings),
                self._owner,
            ],
        )
        return {k.decode("utf-8") if isinstance(k, bytes) else k for k in found}

    def _checked(self, script: Callable[..., Any], args: list[bytes | str | float]) -> Any:
        from redis.exceptions import ResponseError  # here: importing dedup loads no redis-py

        try:
            return script(keys=[], args=args)
        except ResponseError as exc:
            if "NEWSDEDUP_INDEX_MISSING" in str(exc):
                raise IndexMissing(
                    f"the Redis index {self._prefix!r} was not built for this store "
                    "(flushed, lost, or another store's)"
                ) from None
            raise

    # --- whether the index is whole ---
    def mark_complete(self, entries: int) -> None:
        """Record that the index now holds every entry of its owner's store (after a build)."""
        self._client.hset(
            marker_key(self._prefix),
            mapping={"owner": self._owner, "entries": entries, "built_at": f"{self._now():.0f}"},
        )

    def marker(self) -> dict[str, str] | None:
        """What ``mark_complete`` recorded (owner, entries, built_at), or None."""
        raw = self._client.hgetall(marker_key(self._prefix))
        if not raw:
            return None
        return {
            (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in raw.items()
        }

    def is_complete(self) -> bool:
        """Whether the index was built for its owner (always true without an owner)."""
        if not self._owner:
            return True
        found = self.marker()
        return found is not None and found.get("owner") == self._owner

    def remove(self, key: str) -> None:
        oldest, current = self._span()
        self._remove(keys=[], args=[self._prefix, key, self._key_hash(key), oldest, current])

    def __len__(self) -> int:
        """Entries inside the window."""
        oldest, current = self._span()
        return int(self._count(keys=[], args=[self._prefix, oldest, current]))

    # --- housekeeping ---
    def drop_expired(self) -> int:
        """Delete the keys of generations that left the window, and their postings; returns
        how many keys were deleted.

        Redis expires them by itself (TTL), and adds prune the posting hashes they touch; this
        frees them at once and is what a fake clock (tests, benchmarks) relies on. Runs on its
        own once per generation per process."""
        oldest, current = self._span()
        dropped = 0
        for meta in self._client.scan_iter(match=f"{self._prefix}:g:*:m", count=_SCAN_BATCH):
            name = meta.decode() if isinstance(meta, bytes) else meta
            generation = int(name.split(":")[-2])
            if generation < oldest:
                dropped += self._unlink(f"{self._prefix}:g:{generation}:*")
        dropped += self._prune_postings(oldest, current)
        self._dropped_before = oldest
        return dropped

    def _unlink(self, pattern: str) -> int:
        batch = list(self._client.scan_iter(match=pattern, count=_SCAN_BATCH))
        return sum(
            self._client.unlink(*batch[i : i + _SCAN_BATCH]) for i in range(0, len(batch), _SCAN_BATCH)
        )

    def _prune_postings(self, oldest: int, current: int) -> int:
        """Prune every posting hash of the generations before ``oldest``; returns how many
        were left empty (and deleted). One script call per SCAN batch: short enough not to
        stall the server."""
        deleted, batch = 0, []
        for name in self._client.scan_iter(match=f"{self._prefix}:p:*", count=_SCAN_BATCH):
            batch.append(name)
            if len(batch) == _SCAN_BATCH:
                deleted += int(self._sweep(keys=[], args=[oldest, current, *batch]))
                batch = []
        if batch:
            deleted += int(self._sweep(keys=[], args=[oldest, current, *batch]))
        return deleted

    def _drop_expired_generations(self) -> None:
        oldest, _ = self._span()
        if self._dropped_before != oldest:
            self.drop_expired()

    def clear(self) -> int:
        """Delete every key of this index (before a rebuild); returns how many keys."""
        return self._unlink(f"{self._prefix}:*")


def _postings(fp: Fingerprint, bands: int, rows: int, paragraphs: int) -> list[bytes]:
    values = signature_values(fp)
    postings = [
        hashlib.blake2b(
            values[band * rows : (band + 1) * rows].tobytes(),
            digest_size=8,
            person=band.to_bytes(2, "little"),
        ).digest()
        for band in range(bands)
    ]
    postings.extend(_paragraph_posting(p) for p in list(dict.fromkeys(fp.paragraph_hashes))[:paragraphs])
    return postings


def query_postings(fp: Fingerprint, params: DedupParams) -> list[bytes]:
    """The postings ``RedisIndex.query`` looks up for ``fp``: its LSH bands and its first
    ``QUERY_PARAGRAPHS`` long paragraphs. They include every posting ``add`` writes for it (the
    bands and the first ``INDEXED_PARAGRAPHS``), so when the index finds one entry for another
    page's query, the two pages have a posting of this list in common (whichever came first):
    what distributed mode's per-story locks are keyed by (workers/locks.py)."""
    _check_size(fp, params)
    bands, rows = lsh_bands(params.lsh_threshold, params.num_perm)
    return _postings(fp, bands, rows, QUERY_PARAGRAPHS)


def _paragraph_posting(paragraph: str) -> bytes:
    if len(paragraph) == 16:
        try:
            return bytes.fromhex(paragraph)  # dedup.fingerprint.paragraph_hash: already 8 random bytes
        except ValueError:
            pass
    return hashlib.blake2b(paragraph.encode("utf-8"), digest_size=8).digest()
