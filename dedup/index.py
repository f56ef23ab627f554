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
from functools import lru_cache
from typing import TYPE_CHECKING, Protocol

from datasketch import MinHashLSH

from dedup.fingerprint import signature_values, to_minhash
from dedup.types import DedupParams, Fingerprint

if TYPE_CHECKING:  # the client is handed in; dedup never opens a connection itself
    import redis

MAX_PARAGRAPH_POSTINGS = 100


class CandidateIndex(Protocol):
    def add(self, key: str, fp: Fingerprint) -> None:
        """Index ``fp`` under ``key``; adding a key that is already there changes nothing."""

    def query(self, fp: Fingerprint) -> set[str]:
        """Keys of LSH candidates and of entries sharing a long paragraph with ``fp``."""

    def remove(self, key: str) -> None:
        """Forget ``key`` (no error if it is unknown)."""

    def __len__(self) -> int:
        """Number of keys indexed."""


@lru_cache(maxsize=32)
def lsh_bands(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows per band) that datasketch's MinHashLSH picks for this threshold and size."""
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
        self._params = params
        self._lsh = MinHashLSH(
            threshold=params.lsh_threshold, num_perm=params.num_perm,
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
#   P:g:{g}:{lv}:{shard}      hash     posting (8 binary bytes) → member ids ("17" or "17,342");
#                                      shard: the posting's first lv hex digits
#   P:g:{g}:k:{lv}:{shard}    hash     key → member id (idempotent add, remove)
#   P:g:{g}:r:{id // 128}     hash     id % 128 → key (what a query returns)
#
# Postings are spread over 16**lv small hashes per generation, lv chosen so that each holds
# about POSTINGS_PER_SHARD entries: small hashes are stored by Redis as listpacks (a few bytes
# per field plus the value, where one hashtable entry costs ~70 bytes). The level follows the
# number of entries of the generation (and of the one before), so a busy index gets more
# shards without re-hashing what is stored. Ids are sequential, so the id → key hashes are
# dense listpacks too. Every key of generation g expires (EXPIRE) when the last of its entries
# leaves the candidate window; queries skip generations already out of the window.
_LEVEL_LUA = """
local function levels(mask)
  local found = {}
  for lv = 0, 6 do
    if bit.band(mask, bit.lshift(1, lv)) ~= 0 then found[#found + 1] = lv end
  end
  return found
end
local function key_shard(P, gen, lv, kh)
  local kbits = math.max(0, 4 * lv - 5)
  return P .. ':g:' .. gen .. ':k:' .. lv .. ':' .. math.floor(kh / 2 ^ (24 - kbits))
end
-- (member id, key→id hash) of key in generation gen, or nil
local function find(P, gen, key, kh)
  local mask = redis.call('HGET', P .. ':g:' .. gen .. ':m', 'l')
  if not mask then return nil end
  for _, lv in ipairs(levels(tonumber(mask))) do
    local kk = key_shard(P, gen, lv, kh)
    local id = redis.call('HGET', kk, key)
    if id then return id, kk end
  end
  return nil
end
"""
# ARGV: P, key, key hash (24 bits), generation, oldest live generation, ttl, bands, paragraph
# cap, postings per article (for sizing), postings per shard, expected entries per
# generation (sizes an empty index's first one), most levels per generation, then the postings.
_ADD = _LEVEL_LUA + """
local P, key, kh = ARGV[1], ARGV[2], tonumber(ARGV[3])
local g, gmin, ttl = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local bands, cap, per_article, per_shard = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])
local expected, max_levels = tonumber(ARGV[11]), tonumber(ARGV[12])
for gen = gmin, g do
  if find(P, gen, key, kh) then return 0 end
end
local meta = P .. ':g:' .. g .. ':m'
local added = tonumber(redis.call('HGET', meta, 'a') or '0')
local mask = tonumber(redis.call('HGET', meta, 'l') or '0')
local function level_for(articles)
  local level = 0
  while level < 6 and 16 ^ level < articles * per_article / per_shard do level = level + 1 end
  return level
end
local lv
if mask == 0 then
  -- a new generation is sized like the one before it, or by the expected rate if none
  local before = tonumber(redis.call('HGET', P .. ':g:' .. (g - 1) .. ':m', 'a') or '0')
  if before == 0 then before = expected end
  lv = level_for(before)
else
  local used = levels(mask)
  lv = used[#used]
  -- a generation that outgrows its size gets a bigger level, at most max_levels in all (a
  -- query looks each posting up once per level); past that its hashes just get fuller
  if #used < max_levels then lv = math.max(lv, level_for(added + 1)) end
end
local id = redis.call('INCR', P .. ':next')
redis.call('HSET', meta, 'a', added + 1, 'l', bit.bor(mask, bit.lshift(1, lv)))
redis.call('HINCRBY', meta, 'n', 1)
redis.call('EXPIRE', meta, ttl)
local kk = key_shard(P, g, lv, kh)
redis.call('HSET', kk, key, id)
redis.call('EXPIRE', kk, ttl)
local rk = P .. ':g:' .. g .. ':r:' .. math.floor(id / 128)
redis.call('HSET', rk, tostring(id % 128), key)
redis.call('EXPIRE', rk, ttl)
local base = P .. ':g:' .. g .. ':' .. lv .. ':'
for i = 13, #ARGV, 2 do
  local field = ARGV[i]
  local sk = base .. string.sub(ARGV[i + 1], 1, lv)
  local current = redis.call('HGET', sk, field)
  if not current then
    redis.call('HSET', sk, field, id)
  else
    local _, count = string.gsub(current, ',', '')
    -- a paragraph already shared by more than `cap` keys is boilerplate: stop growing it
    if (i - 11) / 2 <= bands or count < cap then
      redis.call('HSET', sk, field, current .. ',' .. id)
    end
  end
  redis.call('EXPIRE', sk, ttl)
end
return 1
"""
# ARGV: P, oldest live generation, generation, bands, paragraph cap, the postings' 8 bytes
# end to end, the hex of their first 3 bytes end to end (two arguments whatever the number of
# postings: less to encode and parse than two per posting). Each posting's field and each
# level's shard suffixes are cut once, not once per generation.
_QUERY = _LEVEL_LUA + """
local P, gmin, g = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local bands, cap = tonumber(ARGV[4]), tonumber(ARGV[5])
local packed, hex = ARGV[6], ARGV[7]
local sub = string.sub
local n = #packed / 8
local fields = {}
for i = 1, n do fields[i] = sub(packed, 8 * i - 7, 8 * i) end
local suffixes = {}
local hits, para = {}, {}
for gen = gmin, g do
  local mask = redis.call('HGET', P .. ':g:' .. gen .. ':m', 'l')
  if mask then
    for _, lv in ipairs(levels(tonumber(mask))) do
      local base = P .. ':g:' .. gen .. ':' .. lv .. ':'
      local suffix = suffixes[lv]
      if not suffix then
        suffix = {}
        for i = 1, n do suffix[i] = sub(hex, 6 * i - 5, 6 * i - 6 + lv) end
        suffixes[lv] = suffix
      end
      for i = 1, n do
        local value = redis.call('HGET', base .. suffix[i], fields[i])
        if value then
          local list = hits
          if i > bands then list = para[i] or {}; para[i] = list end
          for id in string.gmatch(value, '[^,]+') do list[#list + 1] = gen; list[#list + 1] = id end
        end
      end
    end
  end
end
for _, list in pairs(para) do
  if #list / 2 <= cap then
    for j = 1, #list do hits[#hits + 1] = list[j] end
  end
end
local seen, found = {}, {}
for j = 1, #hits, 2 do
  local gen, id = hits[j], tonumber(hits[j + 1])
  local tag = gen .. ':' .. id
  if not seen[tag] then
    seen[tag] = true
    local key = redis.call('HGET', P .. ':g:' .. gen .. ':r:' .. math.floor(id / 128), tostring(id % 128))
    if key then found[#found + 1] = key end
  end
end
return found
"""
# ARGV: P, key, key hash, oldest live generation, generation. The postings of a removed entry
# stay until their generation expires; they point to an id without a key and find nothing.
_REMOVE = _LEVEL_LUA + """
local P, key, kh = ARGV[1], ARGV[2], tonumber(ARGV[3])
for gen = tonumber(ARGV[4]), tonumber(ARGV[5]) do
  local id, kk = find(P, gen, key, kh)
  if id then
    redis.call('HDEL', kk, key)
    id = tonumber(id)
    redis.call('HDEL', P .. ':g:' .. gen .. ':r:' .. math.floor(id / 128), tostring(id % 128))
    redis.call('HINCRBY', P .. ':g:' .. gen .. ':m', 'n', -1)
    return 1
  end
end
return 0
"""
# ARGV: P, oldest live generation, generation.
_COUNT = """
local total = 0
for gen = tonumber(ARGV[2]), tonumber(ARGV[3]) do
  total = total + tonumber(redis.call('HGET', ARGV[1] .. ':g:' .. gen .. ':m', 'n') or '0')
end
return total
"""

# Only the first few long paragraphs of an entry get postings: enough to find a trimmed copy
# or an old short version (they share the lead), at a fraction of the memory. Queries still
# look up every long paragraph of the page (up to QUERY_PARAGRAPHS).
INDEXED_PARAGRAPHS = 6
QUERY_PARAGRAPHS = 64
# Target entries per posting hash: well below Redis's hash-max-listpack-entries (128 by
# default), so that the hashes stay listpacks.
POSTINGS_PER_SHARD = 64
DEFAULT_WINDOW_DAYS = 30.0
DEFAULT_GENERATIONS = 2
# Sizes the first generation of an empty index (later ones follow the one before).
DEFAULT_EXPECTED_PER_DAY = 2000
# Shard levels a generation may use (a query looks each posting up once per level).
MAX_LEVELS = 2


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
    by Redis. Keys must not contain newlines.
    """

    def __init__(
        self,
        client: "redis.Redis",
        params: DedupParams,
        basename: str,
        *,
        window_days: float = DEFAULT_WINDOW_DAYS,
        generations: int = DEFAULT_GENERATIONS,
        expected_per_day: int = DEFAULT_EXPECTED_PER_DAY,
        now: Callable[[], float] = time.time,
    ) -> None:
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
        self._now = now
        self._expected_per_day = expected_per_day
        self._bands, self._rows = lsh_bands(params.lsh_threshold, params.num_perm)
        self._add = client.register_script(_ADD)
        self._remove = client.register_script(_REMOVE)
        self._query = client.register_script(_QUERY)
        self._count = client.register_script(_COUNT)
        self._dropped_before: int | None = None

    # --- what the window means in generations ---
    def _span(self) -> tuple[int, int]:
        """(oldest generation still in the window, current generation)."""
        now = self._now()
        return math.floor((now - self._window) / self._generation), math.floor(now / self._generation)

    def _ttl(self, generation: int) -> int:
        """Seconds until the last entry of ``generation`` leaves the window."""
        return max(1, math.ceil((generation + 1) * self._generation + self._window - self._now()))

    def _postings(self, fp: Fingerprint, paragraphs: int) -> list[bytes]:
        """Postings as script arguments: for each (LSH bands first, then paragraphs) its 8
        bytes and the hex of its first 3 (the shard at level lv is the first lv hex digits)."""
        values = signature_values(fp)
        postings = []
        for band in range(self._bands):
            chunk = values[band * self._rows:(band + 1) * self._rows].tobytes()
            postings.append(hashlib.blake2b(chunk, digest_size=8, person=band.to_bytes(2, "little")).digest())
        for paragraph in list(dict.fromkeys(fp.paragraph_hashes))[:paragraphs]:
            postings.append(_paragraph_posting(paragraph))
        return [part for posting in postings for part in (posting, posting[:3].hex().encode())]

    @staticmethod
    def _key_hash(key: str) -> int:
        return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=3).digest(), "big")

    def _add_args(self, key: str, fp: Fingerprint, added_at: float | None) -> list[object] | None:
        _check_size(fp, self._params)
        if not key or "\n" in key:
            raise ValueError(f"index keys must be non-empty and without newlines, got {key!r}")
        oldest, current = self._span()
        generation = current if added_at is None else min(current, math.floor(added_at / self._generation))
        if generation < oldest:
            return None  # already out of the window: nothing to index
        return [
            self._prefix, key, self._key_hash(key), generation, oldest, self._ttl(generation),
            self._bands, MAX_PARAGRAPH_POSTINGS, self._bands + INDEXED_PARAGRAPHS, POSTINGS_PER_SHARD,
            max(1, round(self._expected_per_day * self._generation / 86400.0)), MAX_LEVELS,
            *self._postings(fp, INDEXED_PARAGRAPHS),
        ]

    def add(self, key: str, fp: Fingerprint, added_at: float | None = None) -> None:
        """Index ``fp`` under ``key``. ``added_at`` (epoch seconds; default now) places a
        rebuilt entry in its own generation; an entry already out of the window is skipped."""
        args = self._add_args(key, fp, added_at)
        self._drop_expired_generations()
        if args is not None:
            self._add(keys=[], args=args)

    def add_many(self, entries: Iterable[tuple[str, Fingerprint]], added_at: float | None = None) -> None:
        """``add`` for many entries in one pipelined round trip (rebuilds, bulk loads)."""
        self._drop_expired_generations()
        pipe = self._client.pipeline(transaction=False)
        for key, fp in entries:
            args = self._add_args(key, fp, added_at)
            if args is not None:
                self._add(keys=[], args=args, client=pipe)
        pipe.execute()

    def query(self, fp: Fingerprint) -> set[str]:
        _check_size(fp, self._params)
        oldest, current = self._span()
        postings = self._postings(fp, QUERY_PARAGRAPHS)
        found = self._query(keys=[], args=[
            self._prefix, oldest, current, self._bands, MAX_PARAGRAPH_POSTINGS,
            b"".join(postings[0::2]), b"".join(postings[1::2]),
        ])
        return {k.decode("utf-8") if isinstance(k, bytes) else k for k in found}

    def remove(self, key: str) -> None:
        oldest, current = self._span()
        self._remove(keys=[], args=[self._prefix, key, self._key_hash(key), oldest, current])

    def __len__(self) -> int:
        """Entries inside the window."""
        oldest, current = self._span()
        return int(self._count(keys=[], args=[self._prefix, oldest, current]))

    # --- housekeeping ---
    def drop_expired(self) -> int:
        """Delete the keys of generations that left the window; returns how many keys.

        Redis expires them by itself (TTL); this frees them at once and is what a fake clock
        (tests, benchmarks) relies on. Runs on its own once per generation per process."""
        oldest, _ = self._span()
        dropped = 0
        for meta in self._client.scan_iter(match=f"{self._prefix}:g:*:m", count=1000):
            name = meta.decode() if isinstance(meta, bytes) else meta
            generation = int(name.split(":")[-2])
            if generation >= oldest:
                continue
            batch = list(self._client.scan_iter(match=f"{self._prefix}:g:{generation}:*", count=1000))
            for start in range(0, len(batch), 1000):
                dropped += self._client.unlink(*batch[start:start + 1000])
        self._dropped_before = oldest
        return dropped

    def _drop_expired_generations(self) -> None:
        oldest, _ = self._span()
        if self._dropped_before != oldest:
            self.drop_expired()

    def clear(self) -> int:
        """Delete every key of this index (before a rebuild); returns how many keys."""
        batch = list(self._client.scan_iter(match=f"{self._prefix}:*", count=1000))
        return sum(self._client.unlink(*batch[i:i + 1000]) for i in range(0, len(batch), 1000))


def _paragraph_posting(paragraph: str) -> bytes:
    if len(paragraph) == 16:
        try:
            return bytes.fromhex(paragraph)  # dedup.fingerprint.paragraph_hash: already 8 random bytes
        except ValueError:
            pass
    return hashlib.blake2b(paragraph.encode("utf-8"), digest_size=8).digest()
