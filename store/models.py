"""SQLAlchemy models of the article store. The schema itself is created by the Alembic
migrations in ``store/migrations``; these classes must stay in step with them."""

from __future__ import annotations

import importlib
import pkgutil
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# SQLite only auto-increments an ``INTEGER PRIMARY KEY`` column; PostgreSQL wants BIGINT.
AutoId = BigInteger().with_variant(Integer(), "sqlite")
JsonList = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, on both databases.

    SQLite keeps no time zone, so values come back naive; we store UTC and put the zone
    back on the way out, so callers always compare aware datetimes.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class Article(Base):
    """One canonical article at its latest state: the feed is a range scan on ``seq``."""

    __tablename__ = "articles"
    __table_args__ = (UniqueConstraint("seq", name="uq_articles_seq"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, nullable=False)
    canonical_url: Mapped[str] = mapped_column(Text, nullable=False, index=True)
    source: Mapped[str] = mapped_column(String(200), nullable=False)
    current_version: Mapped[int] = mapped_column(Integer, nullable=False)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    authors: Mapped[list[str]] = mapped_column(JsonList, nullable=False)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    modified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    language: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    # The story (news event) of the article (store/stories.py); None where stories are off.
    story_id: Mapped[str | None] = mapped_column(String(32), index=True)


class Story(Base):
    """A news event: the articles whose ``story_id`` names it. ``profile`` is its centroid
    (dedup.stories.StoryProfile as JSON); a merged story keeps its row, pointing at the story
    it became (``merged_into``), so that its id stays resolvable."""

    __tablename__ = "stories"
    __table_args__ = (UniqueConstraint("seq", name="uq_stories_seq"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, nullable=False)  # the stories' own change counter
    created: Mapped[int] = mapped_column(BigInteger, nullable=False)  # creation order
    language: Mapped[str | None] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(Text, nullable=False)
    central_article_id: Mapped[str] = mapped_column(String(32), nullable=False)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    article_count: Mapped[int] = mapped_column(Integer, nullable=False)
    merged_into: Mapped[str | None] = mapped_column(String(32))
    profile: Mapped[str] = mapped_column(Text, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class StoryTerm(Base):
    """How many stored articles hold a term (by ``dedup.stories.term_hash``): the document
    frequencies of story assignment, counted in the order articles were stored."""

    __tablename__ = "story_terms"

    term: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    df: Mapped[int] = mapped_column(BigInteger, nullable=False)


class StoryKey(Base):
    """The index of recent stories: a story is a candidate for an article sharing one of these
    terms with it (each member's strongest terms). Stories past the time window leave it."""

    __tablename__ = "story_keys"

    term: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    story_id: Mapped[str] = mapped_column(String(32), primary_key=True, index=True)


class Version(Base):
    """One text of an article; what the LSH index is rebuilt from and candidates are built of."""

    __tablename__ = "versions"

    article_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    authors: Mapped[list[str]] = mapped_column(JsonList, nullable=False)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    modified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    language: Mapped[str | None] = mapped_column(String(16))
    url: Mapped[str] = mapped_column(Text, nullable=False)
    source: Mapped[str] = mapped_column(String(200), nullable=False)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    similarity: Mapped[float | None] = mapped_column(Float)
    text_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    signature: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    shingle_count: Mapped[int] = mapped_column(Integer, nullable=False)
    paragraph_hashes: Mapped[list[str]] = mapped_column(JsonList, nullable=False)
    # Exact shingle hashes of short texts (dedup.Fingerprint.shingles), b"" for long ones.
    shingles: Mapped[bytes] = mapped_column(LargeBinary, nullable=False, default=b"")
    # The WARC record of the page this version was made of (archive/): a file name in the
    # archive folder (or an imported file's path or URL) and the record's offset. None when
    # the archive was off, the file was pruned, or the version predates migration 0009.
    warc_file: Mapped[str | None] = mapped_column(Text, nullable=True, index=True)
    warc_offset: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # Exact shingle hashes of the body lines (dedup.Fingerprint.body_shingles), b"" for long
    # texts; NULL for versions stored before migration 0011.
    body_shingles: Mapped[bytes | None] = mapped_column(LargeBinary)


class Url(Base):
    """Every URL fetched for an article; a URL belongs to one article."""

    __tablename__ = "urls"
    __table_args__ = (
        UniqueConstraint("url", name="uq_urls_url"),
        Index("ix_urls_article_id", "article_id"),
    )

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(Text, nullable=False)
    article_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("articles.id", ondelete="CASCADE"), nullable=False
    )
    relation: Mapped[str] = mapped_column(String(16), nullable=False)
    source: Mapped[str] = mapped_column(String(200), nullable=False)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    last_text_hash: Mapped[str | None] = mapped_column(String(64))
    # The article version this URL's text last matched (None before migration 0004).
    last_version: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Counter(Base):
    """Named counters; the ``seq`` row is the feed's change counter (its row lock orders commits)."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, nullable=False)


class Failure(Base):
    """A page that could not be used, with the stage and the reason."""

    __tablename__ = "failures"

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(Text, nullable=False, index=True)
    source: Mapped[str] = mapped_column(String(200), nullable=False)
    crawl_id: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    stage: Mapped[str] = mapped_column(String(16), nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    detail: Mapped[str] = mapped_column(Text, nullable=False, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class FetchState(Base):
    """HTTP validators of the last processed fetch, and what a discovery document listed."""

    __tablename__ = "fetch_state"

    url: Mapped[str] = mapped_column(Text, primary_key=True)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    links: Mapped[list[str] | None] = mapped_column(JsonList)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


def load_all_models() -> None:
    """Import every module of the store package, so ``Base.metadata`` holds all tables
    (other modules, such as ``store.staging``, declare tables of their own on ``Base``)."""
    from newsdedup import store  # deferred: the package imports this module

    for module in pkgutil.iter_modules(store.__path__):
        if module.name != "migrations":
            importlib.import_module(f"newsdedup.store.{module.name}")
