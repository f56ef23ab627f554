"""The candidate index: which stored versions might be the same article as a page.

Two kinds of postings, both keyed by opaque caller keys ("articleid:version"):

- LSH bands of the MinHash signature: finds texts whose Jaccard is near or above
  ``lsh_threshold``;
- hashes of long paragraphs: finds containment cases that Jaccard-LSH misses (a trimmed
  copy, a short "old version" of an article that grew). A paragraph shared by more than
  ``MAX_PARAGRAPH_POSTINGS`` keys is site boilerplate and finds nothing.

``InMemoryIndex`` (embedded mode) holds them in datasketch's ``MinHashLSH`` and dicts.
``RedisIndex`` (distributed mode) keeps the same postings in Redis with a lean layout of its
own rather than datasketch's Redis storage, which makes a round trip per band and keeps a
pickled copy of every key: here every operation is one Lua script call (one round trip,
atomic), and the bands are cut exactly as datasketch cuts them, so both indexes find the same
candidates.
"""
from __future__ import annotations

import hashlib
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


# Postings are fields of a few Redis hashes (one per band, one for paragraphs) whose value is
# the "\n"-joined list of keys: about 70 bytes per posting, where one Redis set per bucket costs
# ~300. Scripts run atomically in one round trip. KEYS[1] = set of all keys, KEYS[2] = hash
# key → its postings ("hashname field" lines), KEYS[3..] = posting hashes; ARGV = key, number
# of band postings, cap, then one field per posting hash.
_ADD = """
if redis.call('SADD', KEYS[1], ARGV[1]) == 0 then return 0 end
local bands, cap = tonumber(ARGV[2]), tonumber(ARGV[3])
local record = {}
for i = 3, #KEYS do
  local field = ARGV[i + 1]
  local current = redis.call('HGET', KEYS[i], field)
  if not current then
    redis.call('HSET', KEYS[i], field, ARGV[1])
    record[#record + 1] = KEYS[i] .. ' ' .. field
  else
    local _, count = string.gsub(current, '\\n', '')
    -- a paragraph already shared by more than `cap` keys is boilerplate: stop growing it
    if i - 2 <= bands or count < cap then
      redis.call('HSET', KEYS[i], field, current .. '\\n' .. ARGV[1])
      record[#record + 1] = KEYS[i] .. ' ' .. field
    end
  end
end
redis.call('HSET', KEYS[2], ARGV[1], table.concat(record, '\\n'))
return 1
"""
_REMOVE = """
if redis.call('SREM', KEYS[1], ARGV[1]) == 0 then return 0 end
local record = redis.call('HGET', KEYS[2], ARGV[1]) or ''
redis.call('HDEL', KEYS[2], ARGV[1])
for line in string.gmatch(record, '[^\\n]+') do
  local name, field = string.match(line, '^(%S+) (%S+)$')
  local current = redis.call('HGET', name, field)
  if current then
    local kept = {}
    for member in string.gmatch(current, '[^\\n]+') do
      if member ~= ARGV[1] then kept[#kept + 1] = member end
    end
    if #kept == 0 then redis.call('HDEL', name, field)
    else redis.call('HSET', name, field, table.concat(kept, '\\n')) end
  end
end
return 1
"""
# KEYS = posting hashes; ARGV = number of band postings, cap, one field per posting hash.
_QUERY = """
local bands, cap = tonumber(ARGV[1]), tonumber(ARGV[2])
local seen, found = {}, {}
for i = 1, #KEYS do
  local current = redis.call('HGET', KEYS[i], ARGV[i + 2])
  if current then
    local members = {}
    for member in string.gmatch(current, '[^\\n]+') do members[#members + 1] = member end
    if i <= bands or #members <= cap then
      for _, member in ipairs(members) do
        if not seen[member] then seen[member] = true; found[#found + 1] = member end
      end
    end
  end
end
return found
"""


class RedisIndex:
    """The index in Redis, shared by all workers (distributed mode).

    Layout, every key under ``basename`` so that tests and production never collide:

    - ``{basename}:keys``: set of all indexed keys;
    - ``{basename}:b:{band}``: hash, band value (16 hex digits) → "\\n"-joined keys;
    - ``{basename}:p``: hash, paragraph hash → "\\n"-joined keys (at most
      ``MAX_PARAGRAPH_POSTINGS + 1``: beyond that the paragraph is boilerplate and finds nothing);
    - ``{basename}:m``: hash, key → the postings holding it (so that it can be removed).

    Every operation is one Lua script call: atomic and one round trip. The scripts touch keys
    they read from ``{basename}:m``, so this is for a single Redis server (or Sentinel), not
    Redis Cluster. Memory: ≈ 5.5 KB per article with the defaults (measured on 1000 texts); entries
    leave with ``remove`` when the store drops a version. Keys must not contain newlines.
    """

    def __init__(self, client: "redis.Redis", params: DedupParams, basename: str) -> None:
        if not basename or any(c.isspace() for c in basename):
            raise ValueError(f"basename must be a non-empty word, got {basename!r}")
        self._client = client
        self._params = params
        self._prefix = basename
        self._bands, self._rows = lsh_bands(params.lsh_threshold, params.num_perm)
        self._add = client.register_script(_ADD)
        self._remove = client.register_script(_REMOVE)
        self._query = client.register_script(_QUERY)

    def _postings(self, fp: Fingerprint) -> tuple[list[str], list[str]]:
        """(hash names, fields): the band postings first, then the paragraph postings."""
        values = signature_values(fp)
        names, fields = [], []
        for band in range(self._bands):
            chunk = values[band * self._rows:(band + 1) * self._rows].tobytes()
            names.append(f"{self._prefix}:b:{band}")
            fields.append(hashlib.blake2b(chunk, digest_size=8).hexdigest())
        for paragraph in dict.fromkeys(fp.paragraph_hashes):
            names.append(f"{self._prefix}:p")
            fields.append(paragraph)
        return names, fields

    def add(self, key: str, fp: Fingerprint) -> None:
        _check_size(fp, self._params)
        if not key or "\n" in key:
            raise ValueError(f"index keys must be non-empty and without newlines, got {key!r}")
        names, fields = self._postings(fp)
        self._add(
            keys=[f"{self._prefix}:keys", f"{self._prefix}:m", *names],
            args=[key, self._bands, MAX_PARAGRAPH_POSTINGS, *fields],
        )

    def query(self, fp: Fingerprint) -> set[str]:
        _check_size(fp, self._params)
        names, fields = self._postings(fp)
        found = self._query(keys=names, args=[self._bands, MAX_PARAGRAPH_POSTINGS, *fields])
        return {k.decode("utf-8") if isinstance(k, bytes) else k for k in found}

    def remove(self, key: str) -> None:
        self._remove(keys=[f"{self._prefix}:keys", f"{self._prefix}:m"], args=[key])

    def __len__(self) -> int:
        return int(self._client.scard(f"{self._prefix}:keys"))
