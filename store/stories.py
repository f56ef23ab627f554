"""Story assignment inside a new article's write transaction (docs/how-it-works.md#stories).

The decision is ``dedup.stories.assign``; this module keeps what it reads (document
frequencies, the index of recent stories, their centroids) in the store's tables, so that
every process of a cluster, and a reprocessing of the archive, sees the same statistics.

Assignments are made one at a time: the first statement takes the ``story_seq`` counter row
(``UPDATE ... RETURNING``), whose lock is held until the page's transaction commits. So pages
are assigned in the order their transactions reach that row, each seeing every earlier
assignment, the same in embedded mode (one writer) and distributed mode (workers on
PostgreSQL). Lock order within a page's write: the article rows, then ``story_seq``, then the
feed's ``seq`` counter last (store/store.py), the same in every write: no deadlock.
"""

from __future__ import annotations

import base64
import json
import sys
import weakref
import zlib
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, Engine, Select, bindparam, delete, func, insert, select, update

from newsdedup.dedup.stories import (
    DF_BUCKETS,
    PRUNE_EVERY,
    ArticleTerms,
    DocumentFrequencies,
    FrequencySketch,
    StoryParams,
    StoryProfile,
    StoryState,
    Vectors,
    assign,
    background_of,
    term_hash,
)
from newsdedup.store.counters import STORY_DOCS_COUNTER, STORY_SEQ_COUNTER
from newsdedup.store.database import driver_sql
from newsdedup.store.models import (
    Article,
    Story,
    StoryFrequencyLog,
    StoryFrequencySnapshot,
    StoryKey,
    UTCDateTime,
)


@dataclass(frozen=True)
class StoryInput:
    """What a new article's write needs to assign it a story."""

    terms: ArticleTerms
    params: StoryParams


@dataclass(frozen=True)
class StoryAssigned:
    story_id: str
    moved_article_ids: tuple[str, ...]  # articles of merged stories: now in ``story_id``, new seqs due


# Plain SQL for the statements every assignment runs (the counters, the frequency log): through
# the driver, each costs a fifth of the CPU SQLAlchemy's execution of a built statement adds.
_NEXT = "UPDATE counters SET value = value + 1 WHERE name = {p} RETURNING value"
# Built once, with expanding parameters: building a statement with a few hundred literal
# terms per article cost more CPU than running it (bench/story_scale.py).
_SHARED = func.count().label("shared")


def _candidates_query(language_known: bool) -> Select[str, int, int]:
    return (
        select(StoryKey.story_id, Story.created, _SHARED)
        .join(Story, Story.id == StoryKey.story_id)
        .where(
            StoryKey.term.in_(bindparam("terms", expanding=True)),
            Story.merged_into.is_(None),
            Story.language == bindparam("language") if language_known else Story.language.is_(None),
            Story.last_at >= bindparam("since", type_=UTCDateTime()),
            Story.first_at <= bindparam("until", type_=UTCDateTime()),
        )
        .group_by(StoryKey.story_id, Story.created)
        .having(bindparam("min_shared") <= _SHARED)
        .order_by(_SHARED.desc(), Story.created)
        .limit(bindparam("limit"))
    )


_CANDIDATES = {True: _candidates_query(True), False: _candidates_query(False)}
_PROFILES = select(
    Story.id, Story.profile, Story.first_at, Story.last_at, Story.article_count, Story.created
).where(Story.id.in_(bindparam("ids", expanding=True)))


# Prebuilt too: the columns set come from the parameters' keys (two shapes of the update).
_INSERT_STORY = insert(Story)
_UPDATE_STORY = update(Story).where(Story.id == bindparam("story_id"))


def _next(connection: Connection, name: str) -> int:
    return int(connection.exec_driver_sql(driver_sql(connection, _NEXT), (name,)).scalar_one())


def profile_json(profile: StoryProfile) -> str:
    """A story's centroid and central article as stored: the terms as JSON, their weights as
    one run of little-endian doubles in base64 (exact, and a fifth of the CPU of writing each
    weight as a JSON number: a few hundred of them are written per article). A centroid equal
    to its central article's vectors (a story of one article, most stories) is written once,
    without "m": half the bytes."""
    terms: dict[str, list[list[object]]] = {}
    weights = array("d")
    parts = [("c", profile.families)]
    if not _same_in_order(profile.central, profile.families):
        parts.append(("m", profile.central))
    for part, vectors in parts:
        terms[part] = [[family, list(vector)] for family, vector in vectors.items()]
        for vector in vectors.values():
            weights.extend(vector.values())
    if sys.byteorder != "little":
        weights.byteswap()
    data = {
        "v": 2,
        "i": profile.central_id,
        **terms,
        "f": base64.b64encode(weights.tobytes()).decode("ascii"),
    }
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _same_in_order(first: Vectors, second: Vectors) -> bool:
    """The same terms and weights in the same order: what a copy of ``second`` reads back as
    (a similarity sums its terms in their order)."""
    return list(first) == list(second) and all(
        list(vector.items()) == list(second[family].items()) for family, vector in first.items()
    )


def _profile_data(text: str) -> dict[str, object]:
    """What ``StoryProfile.from_json`` reads, from either form stored (plain JSON before)."""
    data = json.loads(text)
    if data.get("v") != 2:
        return data  # plain JSON: written before the weights were packed
    weights = array("d")
    weights.frombytes(base64.b64decode(data["f"]))
    if sys.byteorder != "little":
        weights.byteswap()
    values = iter(weights)
    found: dict[str, object] = {"i": data["i"]}
    for part in ("c", "m"):
        if part in data:
            found[part] = {family: {term: next(values) for term in terms} for family, terms in data[part]}
    if "m" not in found:
        # The centroid written once for both: the central article's own copy (a centroid
        # changes in place as articles join; the central article's vectors do not).
        centroid = found["c"]
        assert isinstance(centroid, dict)
        found["m"] = {family: dict(vector) for family, vector in centroid.items()}
    return found


class _StoredStories(StoryState):
    def __init__(self, connection: Connection, frequencies: DocumentFrequencies, params: StoryParams) -> None:
        self.connection = connection
        self.counted = frequencies  # the article's terms' document frequencies, this article counted
        self.params = params

    def _hash(self, key: str) -> int:
        return term_hash(key)

    def frequencies(self, terms: ArticleTerms) -> DocumentFrequencies:
        return self.counted  # read when they were counted (_count_terms)

    def candidates(self, keys: Sequence[str], language: str | None, at: datetime) -> list[StoryProfile]:
        if not keys:
            return []
        window = timedelta(days=self.params.window_days)
        query = _CANDIDATES[language is not None]
        values = {
            "terms": sorted({self._hash(key) for key in keys}),
            "language": language,
            "since": at - window,
            "until": at + window,
            "limit": self.params.candidate_limit,
            "min_shared": self.params.min_shared_keys,
        }
        if language is None:
            del values["language"]
        ids = [row.story_id for row in self.connection.execute(query, values)]
        return load_profiles(self.connection, ids)


def load_profiles(connection: Connection, story_ids: Sequence[str]) -> list[StoryProfile]:
    """The stories' centroids, in the order of ``story_ids``."""
    if not story_ids:
        return []
    rows = {row.id: row for row in connection.execute(_PROFILES, {"ids": list(story_ids)})}
    return [
        StoryProfile.from_json(
            row.id, _profile_data(row.profile), row.first_at, row.last_at, row.article_count, int(row.created)
        )
        for row in (rows[story_id] for story_id in story_ids)
    ]


def assign_story(
    connection: Connection, article_id: str, title: str, story: StoryInput, now: datetime
) -> StoryAssigned:
    """Assign the new article ``article_id`` (not inserted yet) its story, and write what changed:
    the document frequencies, the story's row (a new one, or the centroid, time span, count and
    title of the one it joins), merged stories, the index of recent stories."""
    params, terms = story.params, story.terms
    seq = _next(connection, STORY_SEQ_COUNTER)  # first: the lock that orders assignments
    documents = _next(connection, STORY_DOCS_COUNTER)
    frequencies = _count_terms(connection, documents, terms, background_of(terms, params))
    state = _StoredStories(connection, frequencies, params)
    done = assign(terms, state, params, article_id, seq)
    profile = done.story
    moved: list[str] = []
    for other in done.merged:
        moved.extend(
            _merge(connection, other.story_id, profile.story_id, _next(connection, STORY_SEQ_COUNTER), now)
        )
    values = {
        "seq": _next(connection, STORY_SEQ_COUNTER) if done.merged else seq,
        "first_at": profile.first_at,
        "last_at": profile.last_at,
        "article_count": profile.article_count,
        "profile": profile_json(profile),
        "updated_at": now,
    }
    if done.decision.kind == "new":
        values.update(
            id=profile.story_id,
            created=seq,
            language=terms.language,
            title=title,
            central_article_id=article_id,
            merged_into=None,
        )
        connection.execute(_INSERT_STORY, values)
    elif done.central:
        values.update(story_id=profile.story_id, central_article_id=article_id, title=title)
        connection.execute(_UPDATE_STORY, values)
    else:
        values.update(story_id=profile.story_id)
        connection.execute(_UPDATE_STORY, values)
    _add_keys(connection, profile.story_id, sorted({term_hash(key) for key in done.keys}))
    if documents % PRUNE_EVERY == 0:
        prune_index(connection, terms.at - timedelta(days=2 * params.window_days))
    return StoryAssigned(profile.story_id, tuple(sorted(moved)))


# Plain SQL run by the driver: where SQLAlchemy's per-row parameter processing cost more CPU
# than the statement (bench/story_scale.py). SQLite runs one statement per key (executemany, in
# process: cheap); PostgreSQL is sent every key in one array, one statement instead of ≈ 20
# (each an execute in a server process: bench/throughput.py, distributed).
_ADD_KEYS = "INSERT INTO story_keys (term, story_id) VALUES ({p}, {p}) ON CONFLICT DO NOTHING"
_ADD_KEYS_POSTGRESQL = (
    "INSERT INTO story_keys (term, story_id) SELECT unnest(%s::bigint[]), %s ON CONFLICT DO NOTHING"
)


# --- document frequencies: the store's log and snapshots, each process's copy of the sketch ---

# A snapshot of the sketch is written every this many articles; the log before it is deleted.
SNAPSHOT_EVERY = 5000
_LOG_ROWS = "SELECT doc, buckets FROM story_frequency_log WHERE doc > {p} AND doc <= {p}"
_LATEST_SNAPSHOT = (
    select(StoryFrequencySnapshot.doc, StoryFrequencySnapshot.buckets, StoryFrequencySnapshot.counts)
    .where(StoryFrequencySnapshot.doc <= bindparam("upto"))
    .order_by(StoryFrequencySnapshot.doc.desc())
    .limit(1)
)
_LOG_INSERT = "INSERT INTO story_frequency_log (doc, buckets) VALUES ({p}, {p})"
# The copy each process keeps per engine (one store), brought up to date under story_seq's lock.
_SKETCHES: weakref.WeakKeyDictionary[Engine, FrequencySketch] = weakref.WeakKeyDictionary()


def _decode_buckets(data: bytes) -> npt.NDArray[np.uint32]:
    return np.frombuffer(data, dtype="<u4").astype(np.uint32)


def _load_snapshot(connection: Connection, upto: int) -> FrequencySketch:
    row = connection.execute(_LATEST_SNAPSHOT, {"upto": upto}).first()
    if row is None:
        return FrequencySketch()
    if row.buckets != DF_BUCKETS:
        raise RuntimeError(
            f"the store's story statistics have {row.buckets} buckets, this version counts {DF_BUCKETS}"
        )
    counts = np.frombuffer(zlib.decompress(row.counts), dtype="<u4").astype(np.uint32)
    return FrequencySketch(counts, int(row.doc))


def synced_sketch(connection: Connection, upto: int) -> FrequencySketch:
    """This process's copy of the sketch with the first ``upto`` articles counted, exactly: the
    log's rows since the copy's last, or the newest snapshot and the log after it. Called with
    the ``story_seq`` lock held: every earlier assignment is committed (or undone) by then."""
    sketch = _SKETCHES.get(connection.engine)
    if sketch is None or sketch.documents > upto:
        sketch = _load_snapshot(connection, upto)
    if sketch.documents < upto:
        log_rows = driver_sql(connection, _LOG_ROWS)
        rows = connection.exec_driver_sql(log_rows, (sketch.documents, upto)).all()
        if len(rows) != upto - sketch.documents:  # the log was cut by a newer snapshot
            sketch = _load_snapshot(connection, upto)
            rows = connection.exec_driver_sql(log_rows, (sketch.documents, upto)).all()
            if len(rows) != upto - sketch.documents:
                raise RuntimeError(f"the story statistics' log misses articles up to {upto}")
        for row in sorted(rows, key=lambda row: row.doc):
            sketch.add(_decode_buckets(row.buckets))
    _SKETCHES[connection.engine] = sketch
    return sketch


def _count_terms(
    connection: Connection,
    documents: int,
    terms: ArticleTerms,
    background: tuple[npt.NDArray[np.float64] | None, float] = (None, 0.0),
) -> DocumentFrequencies:
    """Count article number ``documents`` as holding ``terms``; their document frequencies,
    this article counted. The process's copy of the sketch learns of it from the log next time
    (after the commit: an assignment that is undone leaves no trace in it)."""
    sketch = synced_sketch(connection, documents - 1)
    keys, buckets, unique = terms.keys, terms.buckets, terms.unique_buckets
    connection.exec_driver_sql(
        driver_sql(connection, _LOG_INSERT), (documents, unique.astype("<u4").tobytes())
    )
    if documents % SNAPSHOT_EVERY == 0:
        counts = sketch.counts.copy()
        counts[unique] += 1
        connection.execute(delete(StoryFrequencySnapshot))
        connection.execute(
            insert(StoryFrequencySnapshot).values(
                doc=documents, buckets=DF_BUCKETS, counts=zlib.compress(counts.astype("<u4").tobytes(), 1)
            )
        )
        # This article's row stays: a copy at documents - 1 catches up from it.
        connection.execute(delete(StoryFrequencyLog).where(StoryFrequencyLog.doc < documents))
    return sketch.frequencies(keys, buckets, True, *background)


def _add_keys(connection: Connection, story_id: str, hashes: list[int]) -> None:
    if not hashes:
        return
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(_ADD_KEYS_POSTGRESQL, (hashes, story_id))
    else:
        connection.exec_driver_sql(driver_sql(connection, _ADD_KEYS), [(h, story_id) for h in hashes])


def _merge(connection: Connection, absorbed: str, survivor: str, seq: int, now: datetime) -> list[str]:
    """Story ``absorbed`` becomes ``survivor``: its articles move (their ids returned: each gets a
    new feed seq), its id points at the survivor, its keys are the survivor's."""
    moved = [
        row.id
        for row in connection.execute(
            update(Article)
            .where(Article.story_id == absorbed)
            .values(story_id=survivor)
            .returning(Article.id)
        )
    ]
    connection.execute(
        update(Story)
        .where(Story.id == absorbed)
        .values(merged_into=survivor, seq=seq, article_count=0, profile="{}", updated_at=now)
    )
    connection.execute(update(Story).where(Story.merged_into == absorbed).values(merged_into=survivor))
    keys = [
        row.term for row in connection.execute(select(StoryKey.term).where(StoryKey.story_id == absorbed))
    ]
    connection.execute(delete(StoryKey).where(StoryKey.story_id == absorbed))
    _add_keys(connection, survivor, sorted(keys))
    return moved


def prune_index(connection: Connection, before: datetime) -> int:
    """Stories whose last article is older than ``before`` leave the index of recent stories."""
    old = select(Story.id).where(Story.last_at < before)
    return connection.execute(delete(StoryKey).where(StoryKey.story_id.in_(old))).rowcount or 0
