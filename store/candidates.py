"""The dedup look-ups: the stored versions a page might be the same article as, found by its
URLs and by the keys the candidate index returned, and every stored version's fingerprint
(what the index is rebuilt from).

Read by the pipeline through ``Store.candidates`` and ``Store.timed_index_entries``; the
statement is built once, and a version row becomes a ``Fingerprint`` in one place
(``stored_fingerprint``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import BindParameter, Connection, bindparam, literal, null, select, tuple_, union, union_all
from sqlalchemy.orm import Session, aliased

from newsdedup.dedup.types import Candidate, Fingerprint, FoundBy, version_key
from newsdedup.store.database import KEYS_PER_QUERY
from newsdedup.store.models import Article, Url, Version

index_key = version_key


def parse_index_key(key: str) -> tuple[str, int]:
    article_id, _, version = key.rpartition(":")
    if not article_id or not version.isdigit():
        raise ValueError(f"index key {key!r} is not of the form 'article_id:version'")
    return article_id, int(version)


@dataclass(frozen=True)
class Candidates:
    """What ``read_candidates`` found: the candidates, and each found article's current
    version when they were read (``Store.apply`` checks it under the article's row lock)."""

    found: list[Candidate]
    current_versions: dict[str, int]


_CANDIDATE_COLUMNS = (
    Version.article_id,
    Version.version,
    Version.source,
    Version.url,
    Version.text_hash,
    Version.signature,
    Version.shingle_count,
    Version.paragraph_hashes,
    Version.shingles,
    Version.body_shingles,
    Article.current_version,
)


@lru_cache(maxsize=4)
def _candidates_query(with_url: bool, with_keys: bool) -> Any:
    """The statement of ``read_candidates``, built once (building it was most of its cost):
    the versions of the articles found by URL (part 1), then those named by index keys
    (part 2), ordered by part, article and version. Parameters: url, canonical, keys."""
    parts = []
    if with_url:
        here = aliased(Url)
        url: BindParameter[str] = bindparam("url")
        canonical: BindParameter[str] = bindparam("canonical")
        # The articles found by URL, as a derived table: each part an index look-up, then
        # their versions by primary key (an OR of IN (subquery) would scan the versions).
        found = union(
            select(Url.article_id.label("id")).where(Url.url.in_([url, canonical])),
            select(Article.id.label("id")).where(Article.canonical_url == canonical),
        ).subquery()
        parts.append(
            select(
                *_CANDIDATE_COLUMNS,
                literal(1).label("part"),
                here.id.label("url_row"),
                here.relation,
                here.last_text_hash,
                here.last_version,
            )
            .select_from(found)
            .join(Version, Version.article_id == found.c.id)
            .join(Article, Article.id == Version.article_id)
            .outerjoin(here, (here.article_id == Version.article_id) & (here.url == url))
        )
    if with_keys:
        parts.append(
            select(
                *_CANDIDATE_COLUMNS,
                literal(2).label("part"),
                null().label("url_row"),
                null().label("relation"),
                null().label("last_text_hash"),
                null().label("last_version"),
            )
            .join(Article, Article.id == Version.article_id)
            .where(tuple_(Version.article_id, Version.version).in_(bindparam("keys", expanding=True)))
        )
    query = union_all(*parts).subquery()
    return select(query).order_by(query.c.part, query.c.article_id, query.c.version)


def stored_fingerprint(row: Any) -> Fingerprint:
    """The fingerprint of a version row (columns named as in ``Version``). A row read without
    ``body_shingles`` (the index is rebuilt without them) gets none."""
    return Fingerprint(
        text_hash=row.text_hash,
        signature=bytes(row.signature),
        shingle_count=row.shingle_count,
        paragraph_hashes=tuple(row.paragraph_hashes or ()),
        shingles=bytes(row.shingles or b""),
        body_shingles=bytes(getattr(row, "body_shingles", None) or b""),
    )


def _candidate(row: Any, found_by: FoundBy) -> Candidate:
    """A candidate from a row with the columns of ``read_candidates``."""
    return Candidate(
        article_id=row.article_id,
        version=row.version,
        source=row.source,
        url=row.url,
        fingerprint=stored_fingerprint(row),
        is_latest=row.version == row.current_version,
        found_by=found_by,
    )


def read_candidates(
    connection: Connection, url: str | None, canonical_url: str | None, keys: Iterable[str]
) -> Candidates:
    """The versions of the article ``url`` was fetched for ("url") and of the article whose
    canonical URL, or one of whose fetched URLs, is ``canonical_url`` ("canonical"), then the
    stored versions behind index keys ("index"; unknown keys are skipped): in one SELECT
    when the keys are few (one round trip, one snapshot)."""
    wanted = list(dict.fromkeys(parse_index_key(k) for k in keys))
    with_url = url is not None and canonical_url is not None
    if not with_url and not wanted:
        return Candidates([], {})
    chunks = [wanted[i : i + KEYS_PER_QUERY] for i in range(0, len(wanted), KEYS_PER_QUERY)] or [[]]
    statements = [
        (
            _candidates_query(with_url, bool(chunks[0])),
            {"url": url, "canonical": canonical_url, "keys": chunks[0]},
        )
    ]
    statements += [(_candidates_query(False, True), {"keys": chunk}) for chunk in chunks[1:]]
    by_url: list[Candidate] = []
    by_key: dict[tuple[str, int], Candidate] = {}
    current: dict[str, int] = {}
    rows = [row for statement, params in statements for row in connection.execute(statement, params)]
    for row in rows:
        current[row.article_id] = row.current_version
        candidate = _candidate(row, "index")
        if row.part == 2:
            by_key[(row.article_id, row.version)] = candidate
        elif row.url_row is not None:
            by_url.append(
                replace(
                    candidate,
                    found_by="url",
                    url_relation=row.relation,
                    url_text_hash=row.last_text_hash,
                    url_version=row.last_version,
                )
            )
        else:
            by_url.append(replace(candidate, found_by="canonical"))
    return Candidates(by_url + [by_key[key] for key in wanted if key in by_key], current)


def stored_versions(
    session: Session, since: datetime | None = None
) -> Iterator[tuple[str, Fingerprint, datetime]]:
    """Stored versions fetched at or after ``since`` (all when None), oldest first, as (index
    key, fingerprint, fetch time)."""
    query = select(
        Version.article_id,
        Version.version,
        Version.text_hash,
        Version.signature,
        Version.shingle_count,
        Version.paragraph_hashes,
        Version.shingles,
        Version.fetched_at,
    )
    if since is not None:
        query = query.where(Version.fetched_at >= since)
    rows = session.execute(
        query.order_by(Version.fetched_at, Version.article_id, Version.version).execution_options(
            yield_per=1000
        )
    )
    for row in rows:
        yield index_key(row.article_id, row.version), stored_fingerprint(row), row.fetched_at
