"""What the web console (newsdedup/api/console/) reads beyond the feed: article lists by filter,
an article's URLs, versions and decisions, and the latest failures of a source.

Lists carry no texts (a page of fifty titles, not fifty articles), and every query is bounded
by a limit, so a page costs the same at a hundred articles and at a hundred thousand.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, select, union_all

from newsdedup.store.database import KEYS_PER_QUERY, Database
from newsdedup.store.models import Article, DecisionRow, Failure, Url, Version
from newsdedup.store.search import matching_ids


@dataclass(frozen=True)
class ArticleFilter:
    source: str | None = None
    language: str | None = None
    published_from: datetime | None = None
    published_until: datetime | None = None
    with_versions: bool = False
    with_copies: bool = False
    query: str | None = None  # full-text words


_COPY = and_(Url.article_id == Article.id, Url.relation != "original")


class ConsoleReader:
    def __init__(self, db: Database) -> None:
        self._db = db

    def articles(self, wanted: ArticleFilter, before: int | None, limit: int) -> list[Any]:
        """Up to ``limit`` articles (no texts), newest change first, with seq below ``before``;
        with ``query``, the best matches first (``before`` is then an offset)."""
        copies = (
            select(func.count()).select_from(Url).where(_COPY).correlate(Article).scalar_subquery()
        ).label("copies")
        columns = (
            Article.id,
            Article.seq,
            Article.title,
            Article.source,
            Article.language,
            Article.published_at,
            Article.current_version,
            Article.canonical_url,
            copies,
        )
        query = select(*columns)
        if wanted.source:
            query = query.where(Article.source == wanted.source)
        if wanted.language:
            query = query.where(Article.language == wanted.language.lower())
        if wanted.published_from is not None:
            query = query.where(Article.published_at >= wanted.published_from)
        if wanted.published_until is not None:
            query = query.where(Article.published_at < wanted.published_until)
        if wanted.with_versions:
            query = query.where(Article.current_version > 1)
        if wanted.with_copies:
            query = query.where(exists().where(_COPY))
        with self._db.reading() as session:
            if wanted.query:
                # Best matches first, filtered afterwards: a page of matches, then the filters.
                ids = matching_ids(session.connection(), wanted.query, limit * 4, before or 0)
                rows = session.execute(query.where(Article.id.in_(ids))).all()
                rank = {article_id: n for n, article_id in enumerate(ids)}
                return sorted(rows, key=lambda row: rank[row.id])[:limit]
            if before is not None:
                query = query.where(Article.seq < before)
            return list(session.execute(query.order_by(Article.seq.desc()).limit(limit)).all())

    def urls(self, article_id: str) -> list[Any]:
        with self._db.reading() as session:
            return list(
                session.execute(
                    select(Url.url, Url.relation, Url.source, Url.first_seen, Url.last_seen, Url.last_version)
                    .where(Url.article_id == article_id)
                    .order_by(Url.id)
                ).all()
            )

    def decisions(self, article_id: str) -> list[Any]:
        """The latest decision about each URL that was judged to be (or to make) this article."""
        with self._db.reading() as session:
            return list(
                session.execute(
                    select(*DecisionRow.__table__.columns)
                    .where(DecisionRow.article_id == article_id)
                    .order_by(DecisionRow.decided_at)
                ).all()
            )

    def versions(self, article_id: str, newest: int) -> list[Any]:
        """The metadata (no texts) of the article's ``newest`` latest versions, oldest first."""
        with self._db.reading() as session:
            rows = session.execute(
                select(
                    Version.version,
                    Version.title,
                    Version.url,
                    Version.source,
                    Version.fetched_at,
                    Version.similarity,
                    Version.warc_file,
                )
                .where(Version.article_id == article_id)
                .order_by(Version.version.desc())
                .limit(newest)
            ).all()
        return list(reversed(rows))

    def version_texts(self, article_id: str, numbers: tuple[int, int]) -> dict[int, Any]:
        with self._db.reading() as session:
            rows = session.execute(
                select(Version.version, Version.title, Version.text).where(
                    Version.article_id == article_id, Version.version.in_(numbers)
                )
            ).all()
        return {row.version: row for row in rows}

    def latest_failures(self, sources: list[str], per_source: int) -> dict[str, list[Any]]:
        """The latest ``per_source`` failures of each source: URL, stage, reason, when. One
        statement: a UNION ALL of one index-ordered, limited read per source."""
        found: dict[str, list[Any]] = {source: [] for source in sources}
        if not sources:
            return found
        parts = [
            select(
                select(
                    Failure.id,
                    Failure.source,
                    Failure.url,
                    Failure.stage,
                    Failure.reason,
                    Failure.detail,
                    Failure.at,
                )
                .where(Failure.source == source)
                .order_by(Failure.id.desc())
                .limit(per_source)
                .subquery()
            )
            for source in sources
        ]
        with self._db.reading() as session:
            for start in range(0, len(parts), KEYS_PER_QUERY // 10):
                for row in session.execute(union_all(*parts[start : start + KEYS_PER_QUERY // 10])):
                    found[row.source].append(row)
        # UNION ALL promises no order: newest first again.
        return {source: sorted(rows, key=lambda row: row.id, reverse=True) for source, rows in found.items()}
