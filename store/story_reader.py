"""The stories read model: the records of docs/http-api.md#stories, read from the store.

What changes whenever an article changes (its sources, its publication time) is read from
the articles and their URLs, not kept on the story: a story record is always up to date.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from newsdedup.store.database import KEYS_PER_QUERY, Database
from newsdedup.store.feed_reader import FeedReader
from newsdedup.store.models import Article, Story, Url
from newsdedup.store.records import iso


class StoryReader:
    """Stories by last change, and one story with its articles. Thread-safe."""

    def __init__(self, db: Database, feed_reader: FeedReader) -> None:
        self._db = db
        self._feed_reader = feed_reader

    def stories(self, after: int = 0, limit: int | None = None) -> list[dict[str, Any]]:
        """Story records with ``seq > after``, oldest change first (merged stories included:
        they say ``merged_into``)."""
        query = (
            select(Story.id, Story.seq, Story.title, Story.merged_into)
            .where(Story.seq > after)
            .order_by(Story.seq)
        )
        if limit is not None:
            query = query.limit(limit)
        with self._db.reading() as session:
            rows = session.execute(query).all()
            members = _members(session, [row.id for row in rows])
        return [_story_record(row, members.get(row.id, ([], set()))) for row in rows]

    def story(self, story_id: str) -> dict[str, Any] | None:
        """One story record with ``articles`` (feed records); None when unknown."""
        with self._db.reading() as session:
            row = session.execute(
                select(Story.id, Story.seq, Story.title, Story.merged_into).where(Story.id == story_id)
            ).first()
            if row is None:
                return None
            members = _members(session, [story_id]).get(story_id, ([], set()))
        record = _story_record(row, members)
        articles = [self._feed_reader.article(article_id) for article_id in record["article_ids"]]
        record["articles"] = [article for article in articles if article is not None]
        return record


def _story_record(row: Any, members: tuple[list[Any], set[str]]) -> dict[str, Any]:
    articles, sources = members
    published = [a.published_at or a.created_at for a in articles]
    return {
        "id": row.id,
        "title": row.title,
        "first_published_at": iso(min(published)) if published else None,
        "last_published_at": iso(max(published)) if published else None,
        "sources": sorted(sources),
        "article_count": len(articles),
        "article_ids": [a.id for a in articles],
        "seq": row.seq,
        "merged_into": row.merged_into,
    }


def _members(session: Any, story_ids: Sequence[str]) -> dict[str, tuple[list[Any], set[str]]]:
    """Each story's articles (oldest publication first) and the sources of their URLs."""
    found: dict[str, tuple[list[Any], set[str]]] = {}
    for start in range(0, len(story_ids), KEYS_PER_QUERY):
        chunk = list(story_ids[start : start + KEYS_PER_QUERY])
        for article in session.execute(
            select(
                Article.id, Article.story_id, Article.published_at, Article.created_at, Article.source
            ).where(Article.story_id.in_(chunk))
        ):
            entry = found.setdefault(article.story_id, ([], set()))
            entry[0].append(article)
            entry[1].add(article.source)
        for story_id, source in session.execute(
            select(Article.story_id, Url.source)
            .join(Url, Url.article_id == Article.id)
            .where(Article.story_id.in_(chunk))
        ):
            found[story_id][1].add(source)
    for articles, _ in found.values():
        articles.sort(key=lambda a: (a.published_at or a.created_at, a.id))
    return found
