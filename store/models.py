"""SQLAlchemy models of every table of the store: articles and their versions and URLs, the
workers' staging, per-source health. The schema itself is created by the Alembic migrations in
``store/migrations``; these classes must stay in step with them (tests/test_store.py compares)."""

from __future__ import annotations

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
    __table_args__ = (
        UniqueConstraint("seq", name="uq_articles_seq"),
        # The console's article list of one source, newest first (migration 0015).
        Index("ix_articles_source_seq", "source", "seq"),
    )

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


class StoryFrequencyLog(Base):
    """The buckets of ``dedup.stories.FrequencySketch`` each assigned article counted (number
    ``doc`` of ``counters.story_docs``): what a process adds to its copy of the sketch to catch
    up with the others. Rows older than the newest snapshot are deleted when it is written."""

    __tablename__ = "story_frequency_log"

    doc: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    buckets: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)  # sorted little-endian uint32


class StoryFrequencySnapshot(Base):
    """The whole sketch (zlib-compressed little-endian uint32 counts) once ``doc`` articles were
    counted: where a process that starts, or fell behind the log, begins."""

    __tablename__ = "story_frequency_snapshots"

    doc: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    buckets: Mapped[int] = mapped_column(BigInteger, nullable=False)  # DF_BUCKETS it was made with
    counts: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)


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
    # The console's latest failures of a source (migration 0015).
    __table_args__ = (Index("ix_failures_source_id", "source", "id"),)

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(Text, nullable=False, index=True)
    source: Mapped[str] = mapped_column(String(200), nullable=False)
    crawl_id: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    stage: Mapped[str] = mapped_column(String(16), nullable=False, index=True)
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


class SourceLine(Base):
    """A normalized line of a source's articles and on how many different articles it was seen:
    the source's learned boilerplate (dedup.boilerplate). Bounded per source (store.boilerplate)."""

    __tablename__ = "source_lines"

    source: Mapped[str] = mapped_column(String(200), primary_key=True)
    line_hash: Mapped[str] = mapped_column(String(16), primary_key=True)
    pages: Mapped[int] = mapped_column(Integer, nullable=False)
    sample: Mapped[str] = mapped_column(Text, nullable=False)  # the line as first seen, cut
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class SinkCursor(Base):
    """Where one sink of the sources file stands in the feed (delivery/): ``seq`` is the last
    feed seq the sink confirmed or passed over; it only moves after the sink confirmed."""

    __tablename__ = "sink_cursors"

    sink: Mapped[str] = mapped_column(String(200), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_failure: Mapped[str | None] = mapped_column(Text)
    # Failed attempts by class (timeout, http_5xx, http_429, connection, refused, ...): they only grow.
    failures: Mapped[dict[str, int]] = mapped_column(JsonList, nullable=False, default=dict)


class DeadLetter(Base):
    """A feed record a sink refused for good (a 4xx, an address it may not reach), with why;
    ``newsdedup sinks replay`` sends them again."""

    __tablename__ = "dead_letters"
    __table_args__ = (Index("ix_dead_letters_sink_seq", "sink", "seq"),)

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    sink: Mapped[str] = mapped_column(String(200), nullable=False)
    seq: Mapped[int] = mapped_column(BigInteger, nullable=False)
    article_id: Mapped[str] = mapped_column(String(32), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class StagedPage(Base):
    """One fetched page of one crawl, until a worker has processed it (and after, for counts)."""

    __tablename__ = "staged_pages"
    __table_args__ = (
        UniqueConstraint("crawl_id", "url", name="uq_staged_pages_crawl_url"),
        Index("ix_staged_pages_crawl_state", "crawl_id", "state"),
        Index("ix_staged_pages_state_updated", "state", "updated_at"),
    )

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    crawl_id: Mapped[str] = mapped_column(String(64), nullable=False)
    url: Mapped[str] = mapped_column(Text, nullable=False)
    final_url: Mapped[str] = mapped_column(Text, nullable=False)
    source: Mapped[str] = mapped_column(String(200), nullable=False)
    status: Mapped[int] = mapped_column(Integer, nullable=False)
    headers: Mapped[str] = mapped_column(Text, nullable=False)  # JSON object
    html: Mapped[str | None] = mapped_column(Text)  # emptied once done
    hints: Mapped[str] = mapped_column(Text, nullable=False)  # JSON object
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False)  # pending | done | failed
    outcome: Mapped[str | None] = mapped_column(String(16))  # PageOutcome.kind when done
    article_id: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text, nullable=False, default="")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # last task message sent
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)  # a worker's lease
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    # Where the crawl archived the page's raw response (Page.archive), if it did.
    warc_file: Mapped[str | None] = mapped_column(Text)
    warc_offset: Mapped[int | None] = mapped_column(BigInteger)


# Per-source health (store/source_health.py writes and reads them).
class SourceHealthRow(Base):
    __tablename__ = "source_health"

    source: Mapped[str] = mapped_column(String(200), primary_key=True)
    first_crawl_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_crawl_id: Mapped[str | None] = mapped_column(String(64))
    last_crawl_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_crawl_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_crawl_outcome: Mapped[str | None] = mapped_column(String(200))
    last_page_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_article_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SourceCount(Base):
    __tablename__ = "source_counts"
    __table_args__ = (
        Index("ix_source_counts_crawl_id", "crawl_id"),
        Index("ix_source_counts_hour", "hour"),
    )

    source: Mapped[str] = mapped_column(String(200), primary_key=True)
    crawl_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    event: Mapped[str] = mapped_column(String(24), primary_key=True)
    reason: Mapped[str] = mapped_column(String(24), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, nullable=False)


class StageTiming(Base):
    __tablename__ = "stage_timings"

    stage: Mapped[str] = mapped_column(String(24), primary_key=True)
    bucket: Mapped[int] = mapped_column(
        Integer, primary_key=True
    )  # index in source_health.BUCKETS; len = +Inf
    count: Mapped[int] = mapped_column(BigInteger, nullable=False)
    seconds: Mapped[float] = mapped_column(Float, nullable=False)


class DecisionRow(Base):
    """The latest dedup decision about one fetched URL, and why (migration 0015).

    One row per URL, replaced when the URL is fetched again: the space is bounded by the
    ``urls`` table's. ``reason`` is what ``crawl --explain`` prints, cut at REASON_CHARS.
    """

    __tablename__ = "decisions"

    url: Mapped[str] = mapped_column(Text, primary_key=True)
    article_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("articles.id", ondelete="CASCADE"), nullable=False, index=True
    )
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    relation: Mapped[str] = mapped_column(String(16), nullable=False)
    source: Mapped[str] = mapped_column(String(200), nullable=False)
    similarity: Mapped[float | None] = mapped_column(Float)
    containment: Mapped[float | None] = mapped_column(Float)
    matched_version: Mapped[int | None] = mapped_column(Integer)
    # The article's version once the page was stored (the one it made, or the current one).
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


REASON_CHARS = 500


class ConsoleSession(Base):
    """A web console login (newsdedup/api/console/): logging out deletes it, so a copy of the
    cookie is worth nothing afterwards. ``id`` is the SHA-256 of the cookie's secret."""

    __tablename__ = "console_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    csrf: Mapped[str] = mapped_column(String(64), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)


class HeldPage(Base):
    """A new source's short page, waiting until the source's boilerplate is known (store/held.py)."""

    __tablename__ = "held_pages"
    __table_args__ = (
        UniqueConstraint("source", "url", name="uq_held_pages_source_url"),
        Index("ix_held_pages_crawl", "crawl_id"),
        Index("ix_held_pages_held_at", "held_at"),
    )

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(200), nullable=False)
    crawl_id: Mapped[str] = mapped_column(String(64), nullable=False)
    url: Mapped[str] = mapped_column(Text, nullable=False)
    final_url: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[int] = mapped_column(Integer, nullable=False)
    headers: Mapped[str] = mapped_column(Text, nullable=False)  # JSON object
    html: Mapped[str] = mapped_column(Text, nullable=False)
    hints: Mapped[str] = mapped_column(Text, nullable=False)  # JSON object
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    warc_file: Mapped[str | None] = mapped_column(Text)
    warc_offset: Mapped[int | None] = mapped_column(BigInteger)
    words: Mapped[int] = mapped_column(Integer, nullable=False)  # its own words when held
    held_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
