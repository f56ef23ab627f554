"""The article store's writes: one SQLAlchemy Engine per process, every write one transaction.

Ordering of the feed: ``seq`` comes from ``UPDATE counters SET value = value + 1 ...
RETURNING value`` inside the page's transaction. The counter row stays locked until that
transaction commits, so seqs commit in the order they were handed out and a reader that
follows ``seq > cursor`` never skips a lower seq that commits later. Because the counter is
transactional, a rolled-back write gives its seq back: seqs have no gaps.

The counter row is the one thing every writer of the cluster shares, so it is taken last
(PostgreSQL; SQLite runs one write at a time, and a new article takes its seq with its insert):
inside one write the article row is locked first (``FOR UPDATE``), the rows are written (a
new article with a placeholder seq), and only then is the seq handed out and set, one
statement before COMMIT. The counter is held for that statement and the commit, whatever
the page (``bench/README.md``, scaleout). The same order in every write: no deadlock.
"""

from __future__ import annotations

import logging
import secrets
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Connection, Table, bindparam, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from newsdedup.dedup.types import Candidate, Fingerprint
from newsdedup.store.boilerplate import Boilerplate
from newsdedup.store.candidates import Candidates, index_key, read_candidates, stored_versions
from newsdedup.store.counters import CRAWL_COUNTERS, SEQ_COUNTER, STORE_ID_COUNTER
from newsdedup.store.database import (
    KEYS_PER_QUERY,
    WRITE_ATTEMPTS,
    Database,
    archive_columns,
    is_retryable,
    prebuilt,
    utcnow,
)
from newsdedup.store.failure_log import FailureLog, add_failure
from newsdedup.store.feed_reader import FeedReader
from newsdedup.store.fetch_state import FetchStates, upsert_validators
from newsdedup.store.held import HeldPages
from newsdedup.store.models import REASON_CHARS, Article, Counter, DecisionRow, Url, Version
from newsdedup.store.stories import StoryInput, assign_story
from newsdedup.store.story_reader import StoryReader

if TYPE_CHECKING:  # plain data the store only reads
    from newsdedup.dedup.types import Decision
    from newsdedup.extract.document import Document
    from newsdedup.fetched.page import Page

log = logging.getLogger(__name__)

# The counter's next value set as an article's seq, in one statement (PostgreSQL).
_SEQ_AND_ARTICLE = text(
    "WITH s AS (UPDATE counters SET value = value + 1 WHERE name = :name RETURNING value) "
    "UPDATE articles SET seq = s.value, updated_at = :now FROM s WHERE articles.id = :id RETURNING s.value"
)


class StaleDecision(Exception):
    """The article a decision names changed (another version) between the candidates' read and
    the write: the page must be decided again against what the article is now."""


# Called inside a page's write transaction, after its rows are written and before the seq is
# handed out: the pipeline adds the page to the index and marks its staging row done here, so
# that the page's commit makes all of it true at once.
BeforeCommit = Callable[[Connection, "Applied | None"], None]


@dataclass(frozen=True)
class Applied:
    article_id: str
    version: int
    seq: int | None  # the new seq if the feed record changed, else None
    index_key: str | None  # a new "article_id:version" key to add to the LSH index, else None


class Store:
    """One object per process; thread-safe; every write is one transaction.

    The page writes and the dedup look-ups are its own methods; the other parts, on the same
    database, are attributes: ``feed_reader`` (``FeedReader``: the feed, articles, versions,
    counts), ``failure_log`` (``FailureLog``), ``fetch_states`` (``FetchStates``: the
    conditional-GET state), ``boilerplate`` (``Boilerplate``: each source's learned lines) and
    ``held`` (``HeldPages``: a new source's short pages, waiting).
    """

    def __init__(self, database_url: str, ping_on_checkout: bool = True) -> None:
        self.db = Database(database_url, ping_on_checkout)
        self.database_url = database_url
        self.engine = self.db.engine
        self._writer = self.db.writer
        # The parts other than the page writes, on the same database.
        self.feed_reader = FeedReader(self.db)
        self.failure_log = FailureLog(self.db)
        self.fetch_states = FetchStates(self.db)
        self.boilerplate = Boilerplate(self.db)
        self.held = HeldPages(self.db, self.boilerplate)
        self.story_reader = StoryReader(self.db, self.feed_reader)
        # Seconds the seq counter was held by this process's writes, and how many: the part
        # of a page's store work that every writer of the cluster waits for in turn.
        self.counter_seconds = 0.0
        self.counter_writes = 0

    @classmethod
    def open(cls, database_url: str, migrate: bool = True, ping_on_checkout: bool = True) -> Store:
        """``ping_on_checkout``: see ``store.engine.make_engine``."""
        store = cls(database_url, ping_on_checkout)
        if migrate:
            store.migrate()
        return store

    def migrate(self) -> None:
        """Bring the schema to the newest migration (``alembic upgrade head``)."""
        self.db.migrate()

    def close(self) -> None:
        self.db.close()

    def ping(self) -> bool:
        """True when the database answers (for /healthz)."""
        return self.db.ping()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- dedup look-ups ---

    def candidates_for_url(self, url: str, canonical_url: str) -> list[Candidate]:
        """Versions of the article ``url`` was fetched for ("url"), and of the article whose
        canonical URL, or one of whose fetched URLs, is ``canonical_url`` ("canonical")."""
        return self.candidates(url, canonical_url, ()).found

    def candidates_by_keys(self, keys: Iterable[str]) -> list[Candidate]:
        """The stored versions behind LSH keys ("article_id:version"); unknown keys are skipped."""
        return self.candidates(None, None, keys).found

    def candidates(self, url: str | None, canonical_url: str | None, keys: Iterable[str]) -> Candidates:
        """``candidates_for_url(url, canonical_url)`` followed by ``candidates_by_keys(keys)``,
        in one SELECT (one round trip, one snapshot): the candidate read of a page."""
        with self.db.read_once() as connection:
            return read_candidates(connection, url, canonical_url, keys)

    def index_entries(self) -> Iterator[tuple[str, Fingerprint]]:
        """Every stored version as (index key, fingerprint): what the LSH index is rebuilt from."""
        for key, stored, _ in self.timed_index_entries():
            yield key, stored

    def timed_index_entries(
        self, since: datetime | None = None
    ) -> Iterator[tuple[str, Fingerprint, datetime]]:
        """Stored versions fetched at or after ``since`` (all when None), oldest first, with
        their fetch time: a windowed index is rebuilt from these."""
        with self.db.reading() as session:
            yield from stored_versions(session, since)

    # --- writes ---

    def apply(
        self,
        decision: Decision,
        page: Page,
        doc: Document,
        fp: Fingerprint,
        *,
        expected_version: int | None = None,
        before_commit: BeforeCommit | None = None,
        story: StoryInput | None = None,
    ) -> Applied:
        """Record what dedup decided about one page, and the page's HTTP validators, in one
        transaction. Idempotent: a page applied twice (a redelivered task) adds no second
        article, version or URL row. The validators are saved with the page, never before it:
        a page that failed is fetched in full next time instead of answering 304 and being lost.

        ``expected_version``: the current version of the decision's article when the page's
        candidates were read; if the article has another one now (a concurrent writer gave it
        a new version), nothing is written and ``StaleDecision`` is raised. ``before_commit``
        runs inside the transaction once the rows are written (see ``BeforeCommit``).
        ``story``: a new article is assigned its story in the same transaction (store/stories.py);
        None: stories are off, and the article has none."""
        if decision.kind != "new" and not decision.article_id:
            raise ValueError(f"a {decision.kind!r} decision needs the article_id it refers to")
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            counter_taken: float | None = None
            try:
                with self._writer.begin() as connection:
                    # The first try trusts a "new" decision (made under the page's URL lock);
                    # a retry after a lost race looks the URL up.
                    write = _PageWrite(
                        connection, decision, page, doc, fp, check_url=attempt > 1, story=story
                    )
                    applied = write.run(expected_version)
                    connection.execute(
                        prebuilt(connection, "upsert_decision", _decision_upsert),
                        _decision_row(decision, doc, page, applied, write.now),
                    )
                    upsert_validators(connection, page.url, page.validators, write.now)
                    if before_commit is not None:
                        before_commit(connection, applied)
                    if write.seq is not None:  # taken with the article's insert (SQLite)
                        counter_taken = write.seq_taken
                        applied = replace(applied, seq=write.seq)
                    elif write.needs_seq:
                        counter_taken = time.perf_counter()
                        applied = replace(
                            applied, seq=self._hand_out_seq(connection, applied.article_id, write.now)
                        )
                    if counter_taken is not None:
                        # Articles whose story was merged into this one's: their records changed.
                        for moved in write.moved_article_ids:
                            self._hand_out_seq(connection, moved, write.now)
                if counter_taken is not None:  # committed: the counter is free again
                    self.counter_seconds += time.perf_counter() - counter_taken
                    self.counter_writes += 1
                return applied
            except DBAPIError as exc:
                if attempt == WRITE_ATTEMPTS or not is_retryable(exc):
                    raise
                log.info("retrying the write of %s after a lost race: %s", doc.url, exc.orig)
        raise AssertionError("unreachable")

    def _hand_out_seq(self, connection: Connection, article_id: str, now: datetime) -> int:
        """The article's new seq, from the counter: the write's last statements before COMMIT."""
        if connection.dialect.name == "postgresql":  # one statement: one round trip less under the counter
            return int(
                connection.execute(
                    _SEQ_AND_ARTICLE, {"name": SEQ_COUNTER, "id": article_id, "now": now}
                ).scalar_one()
            )
        seq = connection.execute(_NEXT_SEQ).scalar_one()
        connection.execute(_SET_SEQ, {"article_id": article_id, "new_seq": seq, "now": now})
        return int(seq)

    def record_rejection(
        self, page: Page, reason: str, detail: str, before_commit: BeforeCommit | None = None
    ) -> None:
        """A page extraction refused (stage 'extract'), and its validators (it is done with:
        an unchanged page need not be fetched and refused again)."""
        with self._writer.begin() as connection:
            now = utcnow()
            connection.execute(
                add_failure(page.url, page.source, page.crawl_id, "extract", reason, detail, now)
            )
            upsert_validators(connection, page.url, page.validators, now)
            if before_commit is not None:
                before_commit(connection, None)

    def hold(self, page: Page, words: int, before_commit: BeforeCommit | None = None) -> None:
        """Hold a new source's short page (store/held.py) instead of storing it."""
        with self._writer.begin() as connection:
            self.held.hold_in(connection, page, words, utcnow())
            if before_commit is not None:
                before_commit(connection, None)

    def touch(self, url: str) -> bool:
        """A page answered 304 Not Modified: note that it was seen (no seq). False when unknown."""
        with self.db.writer.begin() as connection:
            result = connection.execute(update(Url).where(Url.url == url).values(last_seen=utcnow()))
            return bool(result.rowcount)

    # --- the archive of raw pages ---

    def archived_versions(self, files: Sequence[str]) -> int:
        """How many versions point into the WARC files ``files``."""
        with self.db.reading() as session:
            return sum(
                session.scalar(
                    select(func.count())
                    .select_from(Version)
                    .where(Version.warc_file.in_(files[start : start + KEYS_PER_QUERY]))
                )
                or 0
                for start in range(0, len(files), KEYS_PER_QUERY)
            )

    def forget_archive_files(self, files: Sequence[str]) -> int:
        """The WARC files ``files`` are deleted: their versions keep no location. Returns how
        many versions had one."""
        forgotten = 0
        with self.db.writer.begin() as connection:
            for start in range(0, len(files), KEYS_PER_QUERY):
                result = connection.execute(
                    update(Version)
                    .where(Version.warc_file.in_(files[start : start + KEYS_PER_QUERY]))
                    .values(warc_file=None, warc_offset=None)
                )
                forgotten += result.rowcount or 0
        return forgotten

    def identity(self) -> str:
        """This store's id: random, made when first asked and kept in the ``counters`` table.
        The Redis index records the id of the store it was built from (dedup.RedisIndex)."""
        with self.db.reading() as session:
            value = session.scalar(select(Counter.value).where(Counter.name == STORE_ID_COUNTER))
        if value is None:
            try:
                with self.db.writing() as session:
                    session.add(Counter(name=STORE_ID_COUNTER, value=secrets.randbits(62)))
            except IntegrityError:
                pass  # another process made it first: theirs is the one
            with self.db.reading() as session:
                value = session.scalar(select(Counter.value).where(Counter.name == STORE_ID_COUNTER))
        return f"{value:016x}"

    def add_crawl_counts(self, counts: Mapping[str, int]) -> None:
        """Add what one crawl fetched to the store-wide totals (``CRAWL_COUNTERS``)."""
        unknown = set(counts) - set(CRAWL_COUNTERS)
        if unknown:
            raise ValueError(f"unknown crawl counter(s): {', '.join(sorted(unknown))}")
        with self.db.writing() as session:
            for name, delta in counts.items():
                if delta:
                    session.execute(
                        update(Counter).where(Counter.name == name).values(value=Counter.value + delta)
                    )


def _decision_row(
    decision: Decision, doc: Document, page: Page, applied: Applied, now: datetime
) -> dict[str, Any]:
    """The page's decision as its URL's row of ``decisions`` (replacing the one of its last fetch)."""
    return dict(
        url=doc.url,
        article_id=applied.article_id,
        kind=decision.kind,
        relation=decision.relation,
        source=page.source,
        similarity=decision.similarity,
        containment=decision.containment,
        matched_version=decision.matched_version,
        version=applied.version,
        reason=decision.reason[:REASON_CHARS],
        decided_at=now,
    )


def _decision_upsert(insert: Callable[[Any], Any]) -> Any:
    table = cast(Table, DecisionRow.__table__)
    statement = insert(table)
    return statement.on_conflict_do_update(
        index_elements=["url"],
        set_={
            column.name: statement.excluded[column.name] for column in table.columns if column.name != "url"
        },
    )


# Built once: a statement built per page (``insert(Model).values(...)``) cost more CPU than
# running it. The rows' values are passed as parameters.
_INSERT_ARTICLE = insert(cast(Table, Article.__table__))
_INSERT_VERSION = insert(cast(Table, Version.__table__))
_INSERT_URL = insert(cast(Table, Url.__table__))
# The seq's two statements where they cannot be one (SQLite): the counter, then the article.
_NEXT_SEQ = (
    update(Counter)
    .where(Counter.name == SEQ_COUNTER)
    .values(value=Counter.value + 1)
    .returning(Counter.value)
)
_SET_SEQ = (
    update(Article)
    .where(Article.id == bindparam("article_id"))
    .values(seq=bindparam("new_seq"), updated_at=bindparam("now"))
)


def _placeholder_seq() -> int:
    """A new article's seq until the counter gives it its own, in the same transaction: negative
    (no feed cursor is below 0), random (the column is unique), never seen by any reader."""
    return -1 - secrets.randbits(62)


class _PageWrite:
    """The writes of one ``Store.apply``, inside its transaction (Core statements, no ORM).

    Reads first (the article row locked), then the writes; the seq is handed out afterwards
    by ``Store.apply`` when ``needs_seq``: see the lock order in the module docstring.
    """

    def __init__(
        self,
        connection: Connection,
        decision: Decision,
        page: Page,
        doc: Document,
        fp: Fingerprint,
        check_url: bool = True,
        story: StoryInput | None = None,
    ) -> None:
        self.connection = connection
        self.story = story
        self.moved_article_ids: tuple[str, ...] = ()
        self.decision = decision
        self.page = page
        self.doc = doc
        self.fp = fp
        self.check_url = check_url
        self.now = utcnow()
        self.needs_seq = False
        # The new article's seq when it was taken with its insert (SQLite), and when.
        self.seq: int | None = None
        self.seq_taken: float | None = None

    def run(self, expected_version: int | None = None) -> Applied:
        if self.decision.kind == "new":
            owner = self._url_owner() if self.check_url else None
            if owner is None:
                return self._create_article()
            # Redelivered (or raced): this URL already belongs to an article, which wins.
            return self._update_article(owner, "version", None)
        return self._update_article(self.decision.article_id or "", self.decision.kind, expected_version)

    def _url_owner(self) -> str | None:
        return self.connection.scalar(select(Url.article_id).where(Url.url == self.doc.url))

    def _create_article(self) -> Applied:
        article_id = uuid.uuid4().hex
        doc = self.doc
        story_id = None
        if self.story is not None:
            assigned = assign_story(self.connection, article_id, doc.title, self.story, self.now)
            story_id, self.moved_article_ids = assigned.story_id, assigned.moved_article_ids
        if self.connection.dialect.name == "sqlite":
            # SQLite runs one write at a time (a writer's BEGIN IMMEDIATE holds the lock until
            # COMMIT), so where in the write the seq is taken changes nothing of the order seqs
            # commit in. Taken first, it is the article's seq from its insert: the full-text
            # index, keyed by seq, reads the text once instead of three times (the insert, then
            # a delete and an insert again when a placeholder seq is replaced).
            self.seq_taken = time.perf_counter()
            self.seq = int(self.connection.execute(_NEXT_SEQ).scalar_one())
        self.connection.execute(
            _INSERT_ARTICLE,
            dict(
                id=article_id,
                seq=self.seq if self.seq is not None else _placeholder_seq(),
                canonical_url=doc.canonical_url,
                source=self.page.source,
                current_version=1,
                title=doc.title,
                text=doc.text,
                authors=list(doc.authors),
                published_at=doc.published_at,
                modified_at=doc.modified_at,
                language=doc.language,
                created_at=self.now,
                updated_at=self.now,
                story_id=story_id,
            ),
        )
        # The article first: the version and URL rows refer to it.
        self.connection.execute(_INSERT_VERSION, self._version_row(article_id, 1, similarity=None))
        self.connection.execute(_INSERT_URL, self._new_url_row(article_id, "original", 1))
        self.needs_seq = self.seq is None
        return Applied(article_id, 1, None, index_key(article_id, 1))

    def _update_article(self, article_id: str, kind: str, expected_version: int | None) -> Applied:
        article = self.connection.execute(
            select(Article.id, Article.canonical_url, Article.source, Article.current_version)
            .where(Article.id == article_id)
            .with_for_update()
        ).first()
        if article is None:
            raise LookupError(f"article {article_id} named by the decision is not in the store")
        if expected_version is not None and article.current_version != expected_version:
            raise StaleDecision(
                f"article {article_id} is at version {article.current_version} now, "
                f"the decision was made against version {expected_version}"
            )
        # Read after the article's lock (a statement of its own, so a fresh snapshot): a racing
        # writer may have added the URL meanwhile. The text of the current version, too.
        current_hash, url_row, url_text_hash = self.connection.execute(
            select(
                select(Version.text_hash)
                .where(Version.article_id == article.id, Version.version == article.current_version)
                .scalar_subquery(),
                select(Url.id).where(Url.url == self.doc.url).scalar_subquery(),
                select(Url.last_text_hash).where(Url.url == self.doc.url).scalar_subquery(),
            )
        ).one()
        # The same text as the current version is no new version (a redelivered page), and
        # neither is a URL whose own text has not changed since it was last seen there (a
        # "new" decision raced by another writer for this URL lands here as "version").
        adds_version = (
            kind == "version"
            and current_hash != self.fp.text_hash
            and (url_row is None or url_text_hash != self.fp.text_hash)
        )
        adds_url = url_row is None
        claims_canonical = self._takes_canonical_claim(article)
        is_canonical_page = self.doc.url == article.canonical_url
        takes_source = is_canonical_page and article.source != self.page.source
        self.needs_seq = adds_version or adds_url or takes_source or claims_canonical
        if takes_source:
            # The original, known already, re-fetched after a copy claimed the source.
            self.connection.execute(
                update(Article).where(Article.id == article.id).values(source=self.page.source)
            )

        version = article.current_version
        if adds_version:
            version += 1
            self.connection.execute(
                _INSERT_VERSION, self._version_row(article.id, version, self.decision.similarity)
            )
            self.connection.execute(
                update(Article).where(Article.id == article.id).values(self._latest(version))
            )
        if claims_canonical:
            canonical_url = self.doc.canonical_url
            self.connection.execute(
                update(Article).where(Article.id == article.id).values(canonical_url=canonical_url)
            )
            # The page named is already one of the article's URLs: it is the original.
            named = self.connection.execute(
                select(Url.url, Url.source).where(Url.article_id == article.id, Url.url == canonical_url)
            ).first()
            if named is not None:
                self._make_original(article.id, named.url, named.source)
        if is_canonical_page and adds_url:
            # The original arrived after other pages of the article (a copy that named it).
            self._make_original(article.id, self.doc.url, self.page.source)
        # The version the page's text stands for: the one it added, else the one it matched.
        matched_version = version if kind == "version" else (self.decision.matched_version or version)
        if adds_url:
            relation = "original" if is_canonical_page else self.decision.relation
            self.connection.execute(_INSERT_URL, self._new_url_row(article.id, relation, matched_version))
        else:
            self.connection.execute(
                update(Url)
                .where(Url.id == url_row)
                .values(last_seen=self.now, last_text_hash=self.fp.text_hash, last_version=matched_version)
            )
        return Applied(article.id, version, None, index_key(article.id, version) if adds_version else None)

    def _make_original(self, article_id: str, url: str, source: str) -> None:
        """``url`` (of ``source``) is the article's original: credit its source, and the pages
        that stood for the original become what they are: another source's are syndicated
        copies, its own site's (a print or "old version" page) alternates."""
        self.connection.execute(update(Article).where(Article.id == article_id).values(source=source))
        self.connection.execute(
            update(Url)
            .where(Url.article_id == article_id, Url.relation == "original", Url.source != source)
            .values(relation="syndicated")
        )
        self.connection.execute(
            update(Url)
            .where(
                Url.article_id == article_id,
                Url.relation.in_(("original", "syndicated")),
                Url.source == source,
                Url.url != url,
            )
            .values(relation="alternate")
        )
        self.connection.execute(update(Url).where(Url.url == url).values(relation="original"))

    def _takes_canonical_claim(self, article: Any) -> bool:
        """Whether the page's rel=canonical becomes the article's canonical URL.

        A page naming another URL as canonical (a syndicated copy naming its original, a print
        page naming the article) is believed as soon as it is seen, whatever the order the
        pages came in: it replaces a canonical URL that no page named, i.e. the URL of the page
        that created the article. A canonical URL some page named stays (the first claim wins).
        """
        claimed = self.doc.canonical_url
        if claimed == self.doc.url or claimed == article.canonical_url:
            return False
        first_url = self.connection.scalar(
            select(Url.url).where(Url.article_id == article.id).order_by(Url.id).limit(1)
        )
        return article.canonical_url == first_url

    def _latest(self, version: int) -> dict[str, Any]:
        doc = self.doc
        values: dict[str, Any] = {
            "current_version": version,
            "title": doc.title,
            "text": doc.text,
            "authors": list(doc.authors),
            "modified_at": doc.modified_at,
        }
        # Kept when the new version has none.
        if doc.published_at is not None:
            values["published_at"] = doc.published_at
        if doc.language:
            values["language"] = doc.language
        return values

    def _version_row(self, article_id: str, version: int, similarity: float | None) -> dict[str, Any]:
        doc, fp = self.doc, self.fp
        return dict(
            article_id=article_id,
            version=version,
            title=doc.title,
            text=doc.text,
            authors=list(doc.authors),
            published_at=doc.published_at,
            modified_at=doc.modified_at,
            language=doc.language,
            url=doc.url,
            source=self.page.source,
            fetched_at=self.page.fetched_at,
            similarity=similarity,
            text_hash=fp.text_hash,
            signature=bytes(fp.signature),
            shingle_count=fp.shingle_count,
            paragraph_hashes=list(fp.paragraph_hashes),
            shingles=bytes(fp.shingles),
            **archive_columns(self.page),
            # Kept with the exact shingles only: a long text is compared by MinHash anyway.
            body_shingles=bytes(fp.body_shingles) if fp.shingles else b"",
        )

    def _new_url_row(self, article_id: str, relation: str, version: int) -> dict[str, Any]:
        return dict(
            url=self.doc.url,
            article_id=article_id,
            relation=relation,
            source=self.page.source,
            first_seen=self.now,
            last_seen=self.now,
            last_text_hash=self.fp.text_hash,
            last_version=version,
        )
