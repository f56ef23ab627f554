"""The candidate index, in memory and in the real Redis: same behaviour for both."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from newsdedup.dedup import CandidateIndex, DedupParams, InMemoryIndex, RedisIndex, fingerprint

PARAMS = DedupParams()

_SUBJECTS = [
    "The council",
    "The ministry",
    "A spokesperson for the port",
    "Local traders",
    "The union",
    "Police",
    "The regional court",
    "Hospital managers",
    "The mayor's office",
    "Residents",
]
_VERBS = [
    "said on Monday that",
    "warned that",
    "confirmed that",
    "denied reports that",
    "announced that",
    "told reporters that",
    "argued in a statement that",
    "insisted that",
]
_CLAUSES = [
    "the budget for the new bridge would rise by {n} percent",
    "{n} jobs were at risk after the closure of the northern plant",
    "the harbour would stay closed to cargo ships for {n} days",
    "a decision on the school merger was expected within {n} weeks",
    "water prices would be frozen until at least {n}",
    "the strike had cost the airport about {n} million euros",
    "{n} families had been moved to temporary housing after the fire",
    "the inquiry had received more than {n} written submissions",
]


def _words(rng: random.Random) -> str:
    return " ".join(
        "".join(rng.choice("bcdfghklmnprstvz") + rng.choice("aeiou") for _ in range(rng.randint(2, 4)))
        for _ in range(10)
    )


def article(seed: int, paragraphs: int = 6) -> str:
    """A made-up news text: varied sentences, different for each seed."""
    rng = random.Random(seed)
    lines = [f"Report {seed}: {rng.choice(_SUBJECTS)} under pressure"]
    for _ in range(paragraphs):
        # Made-up words between the templates keep unrelated texts from sharing word 3-grams
        # (a handful of templates alone would look alike to a 0.2 LSH).
        sentences = [
            f"{_words(rng)} {rng.choice(_SUBJECTS).lower()} {rng.choice(_VERBS)} {_words(rng)} "
            f"{rng.choice(_CLAUSES).format(n=rng.randint(2, 9000))} {_words(rng)}."
            for _ in range(rng.randint(2, 3))
        ]
        lines.append(" ".join(sentences))
    return "\n".join(lines)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def index(request: pytest.FixtureRequest) -> Iterator[CandidateIndex]:
    if request.param == "memory":
        yield InMemoryIndex(PARAMS)
        return
    import redis

    client = redis.Redis.from_url(request.getfixturevalue("redis_url"))
    yield RedisIndex(client, PARAMS, basename="test-dedup")
    client.close()


def test_near_duplicate_is_found_and_unrelated_text_is_not(index: CandidateIndex) -> None:
    for n in range(20):
        index.add(f"a{n}:1", fingerprint(article(n), PARAMS))
    copy = "By a staff reporter\n" + article(7) + "\nThis article first appeared in the Courier."
    assert "a7:1" in index.query(fingerprint(copy, PARAMS))
    assert index.query(fingerprint(article(999), PARAMS)) == set()


def test_containment_cases_are_found_through_shared_paragraphs(index: CandidateIndex) -> None:
    full = article(3, paragraphs=12)
    index.add("full:1", fingerprint(full, PARAMS))
    short_old_version = "\n".join(full.split("\n")[:2])  # far below the LSH threshold in Jaccard
    assert "full:1" in index.query(fingerprint(short_old_version, PARAMS))


def test_adding_a_key_twice_changes_nothing(index: CandidateIndex) -> None:
    fp = fingerprint(article(1), PARAMS)
    index.add("a1:1", fp)
    index.add("a1:1", fp)
    index.add("a1:1", fingerprint(article(2), PARAMS))  # an existing key keeps its first entry
    assert len(index) == 1
    assert index.query(fp) == {"a1:1"}
    assert index.query(fingerprint(article(2), PARAMS)) == set()


def test_removed_keys_are_no_longer_found(index: CandidateIndex) -> None:
    fp = fingerprint(article(5), PARAMS)
    index.add("a5:1", fp)
    index.add("a5:2", fingerprint(article(5) + "\nA late correction was added to this report.", PARAMS))
    index.remove("a5:1")
    index.remove("never-added")
    assert len(index) == 1
    assert index.query(fp) == {"a5:2"}


def test_paragraphs_every_article_shares_find_nothing(index: CandidateIndex) -> None:
    footer = "The Harbour Gazette is an independent newsroom funded by readers like you, not by advertisers."
    for n in range(120):
        index.add(
            f"g{n}:1", fingerprint(f"Story {n}\nShort item number {n} about the harbour.\n{footer}", PARAMS)
        )
    other = fingerprint(article(42) + "\n" + footer, PARAMS)
    assert index.query(other) == set()


def test_fingerprints_of_other_params_are_refused(index: CandidateIndex) -> None:
    with pytest.raises(ValueError, match="permutations"):
        index.add("x:1", fingerprint(article(1), DedupParams(num_perm=64)))


def test_redis_index_is_shared_between_clients_and_kept_apart_by_basename(redis_url: str) -> None:
    import redis

    fp = fingerprint(article(11), PARAMS)
    with redis.Redis.from_url(redis_url) as writer, redis.Redis.from_url(redis_url) as reader:
        RedisIndex(writer, PARAMS, basename="prod").add("a11:1", fp)
        assert RedisIndex(reader, PARAMS, basename="prod").query(fp) == {"a11:1"}
        assert RedisIndex(reader, PARAMS, basename="other").query(fp) == set()
        assert all(key.startswith(b"prod:") for key in reader.keys("*"))


# --- the candidate window of the Redis index (a fake clock, no sleeping) ---

DAY = 86400.0


class FakeClock:
    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def windowed(redis_url: str) -> Iterator[tuple[RedisIndex, FakeClock, object]]:
    import redis

    client = redis.Redis.from_url(redis_url)
    clock = FakeClock()
    yield RedisIndex(client, PARAMS, basename="win", window_days=30, generations=6, now=clock), clock, client
    client.close()


def test_entries_are_found_inside_the_window_and_not_after_it(windowed) -> None:
    index, clock, _ = windowed
    old, recent = fingerprint(article(1), PARAMS), fingerprint(article(2), PARAMS)
    index.add("old:1", old)
    clock.t += 20 * DAY
    index.add("recent:1", recent)
    clock.t += 9 * DAY  # old is 29 days old: still inside
    assert index.query(old) == {"old:1"}
    assert len(index) == 2
    clock.t += 7 * DAY  # 36 days: out (window 30 + at most one 5-day generation)
    assert index.query(old) == set()
    assert index.query(recent) == {"recent:1"}
    assert len(index) == 1


def test_a_key_that_left_the_window_can_be_indexed_again(windowed) -> None:
    index, clock, _ = windowed
    fp = fingerprint(article(3), PARAMS)
    index.add("a3:1", fp)
    clock.t += 40 * DAY
    index.add("a3:1", fp)
    assert index.query(fp) == {"a3:1"}
    assert len(index) == 1


def test_memory_stops_growing_once_old_generations_leave(windowed) -> None:
    index, clock, client = windowed
    keys_per_window = []
    for day in range(0, 120):
        index.add(f"d{day}:1", fingerprint(article(1000 + day), PARAMS))
        clock.t += DAY
        if day % 30 == 29:
            keys_per_window.append(client.dbsize())
    assert len(index) <= 36
    # Once the first window is full, the number of Redis keys stops growing.
    assert max(keys_per_window[1:]) <= keys_per_window[0] * 1.3
    # Every key but the id counter carries a TTL no longer than the window plus a generation.
    ttls = [client.ttl(key) for key in client.keys("win:g:*") + client.keys("win:p:*")]
    assert ttls and all(0 < ttl <= 35 * DAY + 1 for ttl in ttls)
    # The shared posting hashes hold no generation that had left the window at the last add.
    oldest = int((clock.t - DAY - 30 * DAY) // (5 * DAY))
    for shard in client.keys("win:p:*"):
        assert int(client.hget(shard, "g")) >= oldest
        assert all(_generation_of(field) >= oldest for field in client.hkeys(shard) if len(field) == 8)


def _generation_of(posting_field: bytes) -> int:
    """The generation a posting field was filed in (its last 2 bytes: generation % 65536; the
    fake clock's generations are well below that)."""
    return int.from_bytes(posting_field[-2:], "big")


def test_adds_prune_postings_of_generations_that_left_the_window(windowed, monkeypatch) -> None:
    # drop_expired's sweep off: adds alone keep the shared posting hashes inside the window.
    index, clock, client = windowed
    monkeypatch.setattr(index, "_prune_postings", lambda oldest, current: 0)
    fp = fingerprint(article(6), PARAMS)
    index.add("old:1", fp)
    shards = sorted(client.keys("win:p:*"))
    clock.t += 40 * DAY
    index.add("new:1", fp)  # the same postings: the same hashes
    assert sorted(client.keys("win:p:*")) == shards
    current = int(clock.t // (5 * DAY))
    for shard in shards:
        assert int(client.hget(shard, "g")) == current
        assert {_generation_of(field) for field in client.hkeys(shard) if len(field) == 8} == {current}
    assert index.query(fp) == {"new:1"}


def test_a_posting_hash_turned_hashtable_by_boilerplate_goes_back_to_a_listpack(
    windowed, monkeypatch
) -> None:
    # A paragraph many entries share makes a long value, which turns its hash into a (bigger)
    # hashtable; Redis never converts it back, the prune that drops the value does.
    index, clock, client = windowed
    monkeypatch.setattr(index, "_prune_postings", lambda oldest, current: 0)
    footer = "The Harbour Gazette is an independent newsroom funded by readers like you, not by advertisers."
    index.add_many([(f"g{n}:1", fingerprint(f"Item {n}\n{footer}", PARAMS)) for n in range(40)])
    hashtables = [k for k in client.keys("win:p:*") if client.object("encoding", k) == b"hashtable"]
    assert hashtables
    clock.t += 40 * DAY
    index.add("new:1", fingerprint(f"Item 0\n{footer}", PARAMS))  # g0's postings: the same hashes
    current = int(clock.t // (5 * DAY))
    touched = [k for k in client.keys("win:p:*") if int(client.hget(k, "g")) == current]
    assert set(touched) & set(hashtables)
    assert all(client.object("encoding", k) == b"listpack" and client.ttl(k) > 0 for k in touched)
    assert index.query(fingerprint(f"Item 0\n{footer}", PARAMS)) == {"new:1"}


def test_entries_rebuilt_with_their_age_land_in_their_generation(windowed) -> None:
    index, clock, _ = windowed
    fp_old, fp_new = fingerprint(article(4), PARAMS), fingerprint(article(5), PARAMS)
    index.add_many([("a4:1", fp_old)], added_at=clock.t - 60 * DAY)  # long out of the window
    index.add_many([("a5:1", fp_new)], added_at=clock.t - 10 * DAY)
    assert index.query(fp_old) == set()
    assert index.query(fp_new) == {"a5:1"}
    clock.t += 26 * DAY  # a5 is now 36 days old
    assert index.query(fp_new) == set()


def test_window_arguments_are_checked(redis_url: str) -> None:
    import redis

    with redis.Redis.from_url(redis_url) as client:
        with pytest.raises(ValueError, match="window_days"):
            RedisIndex(client, PARAMS, basename="w", window_days=0)
        with pytest.raises(ValueError, match="generations"):
            RedisIndex(client, PARAMS, basename="w", generations=0)


def test_clear_deletes_every_key_of_the_index_and_no_other(windowed) -> None:
    index, _, client = windowed
    client.set("other:key", "kept")
    index.add_many([(f"c{n}:1", fingerprint(article(n), PARAMS)) for n in range(5)])
    assert len(index) == 5
    assert index.clear() > 0
    assert len(index) == 0 and index.query(fingerprint(article(1), PARAMS)) == set()
    assert client.keys("*") == [b"other:key"]


def test_a_reader_finds_entries_filed_at_a_level_it_has_not_seen_yet(redis_url: str) -> None:
    # Another worker's adds that give a generation its first entries or a new shard level
    # (more, smaller posting hashes) are found by a reader that queried before them.
    import redis

    with redis.Redis.from_url(redis_url) as writer_client, redis.Redis.from_url(redis_url) as reader_client:
        clock = FakeClock()
        writer = RedisIndex(writer_client, PARAMS, basename="lv", expected_per_day=1, now=clock)
        reader = RedisIndex(reader_client, PARAMS, basename="lv", expected_per_day=1, now=clock)
        assert reader.query(fingerprint(article(0), PARAMS)) == set()  # caches "no generation"
        writer.add("first:1", fingerprint(article(0), PARAMS))
        assert reader.query(fingerprint(article(0), PARAMS)) == {"first:1"}
        masks_before = writer_client.hget("lv:g:" + str(int(clock.t // (15 * DAY))) + ":m", "l")
        writer.add_many([(f"m{n}:1", fingerprint(article(100 + n), PARAMS)) for n in range(400)])
        masks_after = writer_client.hget("lv:g:" + str(int(clock.t // (15 * DAY))) + ":m", "l")
        assert masks_before != masks_after  # a level was added
        for n in (0, 100, 399):
            assert f"m{n}:1" in reader.query(fingerprint(article(100 + n), PARAMS))
        writer.remove("first:1")
        assert reader.query(fingerprint(article(0), PARAMS)) == set()


def test_the_known_bands_are_the_ones_datasketch_picks() -> None:
    from datasketch import MinHashLSH

    from newsdedup.dedup.index import KNOWN_BANDS

    assert (DedupParams().lsh_threshold, DedupParams().num_perm) in KNOWN_BANDS
    for (threshold, num_perm), bands in KNOWN_BANDS.items():
        lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        assert (lsh.b, lsh.r) == bands


# Run in a fresh interpreter: which modules a process loads is the point.
_DEFERRED_INTEGRATE = """
import sys
from newsdedup.dedup import DedupParams, InMemoryIndex, fingerprint
from newsdedup.dedup.index import lsh_bands

text = " ".join(f"word{n}" for n in range(300))
index = InMemoryIndex(DedupParams())
index.add("a", fingerprint(text, DedupParams()))
assert index.query(fingerprint(text, DedupParams())) == {"a"}
loaded = sorted(name for name in sys.modules if name.startswith("scipy.integrate."))
print("deferred:", loaded)

# A threshold whose bands are not known loads the real module; so does anyone else's use.
from datasketch import MinHashLSH
assert lsh_bands(0.5, 64) == (MinHashLSH(threshold=0.5, num_perm=64).b, MinHashLSH(threshold=0.5, num_perm=64).r)
import scipy.integrate
from scipy.integrate import trapezoid
assert abs(scipy.integrate.quad(lambda x: x, 0.0, 1.0)[0] - 0.5) < 1e-9
assert trapezoid([1.0, 1.0], [0.0, 2.0]) == 2.0
print("real:", type(sys.modules["scipy.integrate"]).__name__, "quadpack" in str(sorted(sys.modules)))
"""


def test_hashing_and_indexing_leave_scipy_integrate_unloaded_until_something_uses_it() -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", _DEFERRED_INTEGRATE], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert lines[0] == "deferred: []"
    assert lines[1] == "real: module True"
