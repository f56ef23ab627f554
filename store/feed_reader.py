"""The feed read model: the records of docs/feed.md and docs/http-api.md, and the counts of
/metrics, read from the store's tables.

Apart from the writes (``store.store``) because it is all the API and the ``feed`` command
need, and because it answers in the public records' shape (dicts), not in rows.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from newsdedup.store.counters import CRAWL_COUNTERS, SEQ_COUNTER
from newsdedup.store.database import KEYS_PER_QUERY, Database
from newsdedup.store.models import Article, Counter, Failure, Url, Version
from newsdedup.store.records import feed_record, version_records
from newsdedup.store.search import in_order, matching_ids


class FeedReader:
    """Reads of the feed, one article, its versions, and the store's counts. Thread-safe."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def feed(
        self, after: int = 0, limit: int | None = None, language: str | None = None
    ) -> list[dict[str, Any]]:
        """Feed records with ``seq > after``, oldest first: two queries whatever the page size.
        ``language``: only articles in it (an ISO 639-1 code)."""
        # Plain rows, not ORM objects: building and tracking entities was most of the time
        # of a feed page (feed_record reads attributes, which rows have too).
        query = select(*Article.__table__.columns).where(Article.seq > after).order_by(Article.seq)
        if language is not None:
            query = query.where(Article.language == language.lower())
        if limit is not None:
            query = query.limit(limit)
        with self._db.reading() as session:
            articles = session.execute(query).all()
            urls = _urls_of(session, [a.id for a in articles])
            return [feed_record(a, urls.get(a.id, [])) for a in articles]

    def search(self, query: str, limit: int = 20, offset: int = 0) -> list[dict[str, Any]]:
        """Feed records of the articles holding every word of ``query``, best match first."""
        with self._db.reading() as session:
            ids = matching_ids(session.connection(), query, limit, offset)
            return in_order(self.records(session, ids), ids)

    def records(self, session: Session, article_ids: list[str]) -> list[dict[str, Any]]:
        """Feed records of ``article_ids`` (in no particular order)."""
        articles: list[Any] = []
        for start in range(0, len(article_ids), KEYS_PER_QUERY):
            chunk = article_ids[start : start + KEYS_PER_QUERY]
            articles += session.execute(select(*Article.__table__.columns).where(Article.id.in_(chunk))).all()
        urls = _urls_of(session, [a.id for a in articles])
        return [feed_record(a, urls.get(a.id, [])) for a in articles]

    def article(self, article_id: str) -> dict[str, Any] | None:
        with self._db.reading() as session:
            found = session.get(Article, article_id)
            if found is None:
                return None
            return feed_record(found, _urls_of(session, [article_id]).get(article_id, []))

    def versions(self, article_id: str, after: int = 0, limit: int | None = None) -> list[dict[str, Any]]:
        """The article's versions numbered above ``after``, oldest first, at most ``limit``;
        each with its diff against the version before it."""
        with self._db.reading() as session:
            query = (
                select(Version)
                .where(Version.article_id == article_id, Version.version >= after)
                .order_by(Version.version)
            )
            if limit is not None:
                query = query.limit(limit + 1)
            rows = list(session.scalars(query).all())
            previous = rows.pop(0) if rows and rows[0].version == after else None
            return version_records(rows[:limit] if limit is not None else rows, previous)

    def page_location(self, article_id: str, version: int) -> tuple[str, int] | None:
        """The WARC file and offset of the page version ``version`` of ``article_id`` was made
        of; None when it has none. Raises LookupError when there is no such version."""
        with self._db.reading() as session:
            row = session.execute(
                select(Version.warc_file, Version.warc_offset).where(
                    Version.article_id == article_id, Version.version == version
                )
            ).first()
        if row is None:
            raise LookupError(f"article {article_id!r} has no version {version}")
        if row.warc_file is None or row.warc_offset is None:
            return None
        return row.warc_file, int(row.warc_offset)

    def version_url(self, article_id: str, version: int) -> str | None:
        """The URL version ``version`` of ``article_id`` was fetched at (None: no such version)."""
        with self._db.reading() as session:
            return session.scalar(
                select(Version.url).where(Version.article_id == article_id, Version.version == version)
            )

    def last_seq(self) -> int:
        """The highest seq handed out so far (0 for an empty store)."""
        with self._db.reading() as session:
            return session.scalar(select(Counter.value).where(Counter.name == SEQ_COUNTER)) or 0

    def stats(self) -> dict[str, int]:
        """Row counts for metrics and the demo: articles, versions, urls (total and
        ``urls_<relation>``), duplicates (alternate + syndicated URLs), failures (all stages)
        and rejections (the failures of stage 'extract')."""
        with self._db.reading() as session:
            counts = {
                "articles": session.scalar(select(func.count()).select_from(Article)) or 0,
                "versions": session.scalar(select(func.count()).select_from(Version)) or 0,
                "urls": 0,
                "failures": session.scalar(select(func.count()).select_from(Failure)) or 0,
            }
            for relation in ("original", "alternate", "syndicated", "revision"):
                counts[f"urls_{relation}"] = 0
            for relation, count in session.execute(select(Url.relation, func.count()).group_by(Url.relation)):
                counts[f"urls_{relation}"] = count
                counts["urls"] += count
            # Pages merged into an article as copies (print/AMP alternates, syndication).
            counts["duplicates"] = counts["urls_alternate"] + counts["urls_syndicated"]
            counts["rejections"] = (
                session.scalar(select(func.count()).select_from(Failure).where(Failure.stage == "extract"))
                or 0
            )
            for name, value in session.execute(
                select(Counter.name, Counter.value).where(Counter.name.in_(CRAWL_COUNTERS))
            ):
                counts[name] = value
            return counts


def _urls_of(session: Session, article_ids: list[str]) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = {}  # rows with the columns of Url
    for start in range(0, len(article_ids), KEYS_PER_QUERY):
        chunk = article_ids[start : start + KEYS_PER_QUERY]
        for row in session.execute(
            select(*Url.__table__.columns).where(Url.article_id.in_(chunk)).order_by(Url.id)
        ):
            grouped.setdefault(row.article_id, []).append(row)
    return grouped
