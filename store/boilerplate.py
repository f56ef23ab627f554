"""Each source's learned boilerplate (dedup.boilerplate): its lines and on how many different
articles each was seen, shared by every process that decides pages (both modes).

Concurrency: a page's lines are counted in the page's own write transaction (``learn``, one
``INSERT ... ON CONFLICT DO UPDATE SET pages = pages + 1`` that the driver runs for each of its
lines), so a count is exact and never counts a page twice, whichever worker wrote it; the rows are upserted in hash
order, so two writers of one source lock them in the same order and never deadlock. Bounded:
after every ``PRUNE_EVERY`` articles of a source a process learned, the source keeps its
``MAX_LINES_PER_SOURCE`` most frequent (then most recently seen) lines, in a transaction of its
own. Reading is one indexed SELECT per page (``known``).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter as Tally
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, select
from sqlalchemy.exc import DBAPIError

from newsdedup.dedup.boilerplate import LEARNED_AFTER, MAX_LINES_PER_SOURCE
from newsdedup.store.database import KEYS_PER_QUERY, Database, driver_sql
from newsdedup.store.models import SourceLine

log = logging.getLogger(__name__)

# Articles of a source one process learns between two prunes of its lines: the table holds at
# most MAX_LINES_PER_SOURCE plus what that many articles (times the processes) add.
PRUNE_EVERY = 50
# A page's learned lines: one statement built once, its values parameters (building it anew
# for every page cost more CPU than running it).
_KNOWN = select(SourceLine.line_hash).where(
    SourceLine.source == bindparam("source"),
    SourceLine.line_hash.in_(bindparam("hashes", expanding=True)),
    SourceLine.pages >= LEARNED_AFTER,
)
# The row that counts the pages a source learned from (no line hash looks like it): its first
# pages are judged apart (store/held.py) until there are LEARNED_AFTER.
PAGES_KEY = "pages"


@dataclass(frozen=True)
class LearnedLine:
    sample: str  # the line as first seen (cut to dedup.boilerplate.SAMPLE_CHARS)
    pages: int  # different articles of the source it was seen on
    first_seen: datetime
    last_seen: datetime


class Boilerplate:
    """Thread-safe; one per Store."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._learned: Tally[str] = Tally()  # articles learned per source since its last prune
        self._lock = threading.Lock()

    def known(self, source: str, hashes: Collection[str]) -> set[str]:
        """Which of the line hashes are the source's boilerplate now."""
        wanted = sorted(set(hashes))
        found: set[str] = set()
        with self._db.read_once() as connection:
            for start in range(0, len(wanted), KEYS_PER_QUERY):
                found.update(
                    connection.execute(
                        _KNOWN, {"source": source, "hashes": wanted[start : start + KEYS_PER_QUERY]}
                    ).scalars()
                )
        return found

    def learn(self, connection: Connection, source: str, lines: Mapping[str, str], now: datetime) -> None:
        """Count the lines ({hash: line}) of one new article of the source, inside its write."""
        if not lines:
            return
        stamp = _stamp(connection, now)
        hashes = sorted(lines)  # one lock order for every writer: by line hash
        if connection.dialect.name == "postgresql":
            samples = [lines[h] for h in hashes]
            connection.exec_driver_sql(
                _COUNT_LINES_POSTGRESQL, (source, stamp, stamp, [PAGES_KEY, *hashes], ["", *samples])
            )
            return
        rows = [(source, h, lines[h], stamp, stamp) for h in hashes]
        rows.append((source, PAGES_KEY, "", stamp, stamp))
        rows.sort(key=itemgetter(1))
        # One statement run by the driver for every row (executemany), in hash order.
        connection.exec_driver_sql(driver_sql(connection, _COUNT_LINE), rows)

    def learned(self, source: str) -> None:
        """Called once a new article of the source is committed: prunes its lines now and then."""
        with self._lock:
            self._learned[source] += 1
            if self._learned[source] < PRUNE_EVERY:
                return
            self._learned[source] = 0
        try:
            self.prune(source)
        except DBAPIError as exc:  # another process pruning the same rows: it does the work
            log.info("pruning the learned lines of %s: %s", source, exc.orig)

    def prune(self, source: str, keep: int = MAX_LINES_PER_SOURCE) -> int:
        """Keep the source's ``keep`` most frequent, then most recently seen, lines."""
        with self._db.writer.begin() as connection:
            cutoff = connection.execute(
                select(SourceLine.pages, SourceLine.last_seen, SourceLine.line_hash)
                .where(SourceLine.source == source, SourceLine.line_hash != PAGES_KEY)
                .order_by(SourceLine.pages.desc(), SourceLine.last_seen.desc(), SourceLine.line_hash)
                .offset(keep)
                .limit(1)
            ).first()
            if cutoff is None:
                return 0
            pages, last_seen, line_hash = cutoff
            # Every row at or after the cutoff in that order.
            return connection.execute(
                delete(SourceLine).where(
                    SourceLine.source == source,
                    SourceLine.line_hash != PAGES_KEY,
                    (SourceLine.pages < pages)
                    | ((SourceLine.pages == pages) & (SourceLine.last_seen < last_seen))
                    | (
                        (SourceLine.pages == pages)
                        & (SourceLine.last_seen == last_seen)
                        & (SourceLine.line_hash >= line_hash)
                    ),
                )
            ).rowcount

    def lines(self, source: str, limit: int = 100, everything: bool = False) -> list[LearnedLine]:
        """The source's boilerplate lines, most frequent first (``everything``: the lines still
        being counted too)."""
        query = select(SourceLine).where(SourceLine.source == source, SourceLine.line_hash != PAGES_KEY)
        if not everything:
            query = query.where(SourceLine.pages >= LEARNED_AFTER)
        query = query.order_by(SourceLine.pages.desc(), SourceLine.last_seen.desc()).limit(limit)
        with self._db.reading() as session:
            return [LearnedLine(r.sample, r.pages, r.first_seen, r.last_seen) for r in session.scalars(query)]

    def count(self, source: str) -> int:
        """Lines the source keeps counts for."""
        with self._db.reading() as session:
            return (
                session.scalar(
                    select(func.count()).where(SourceLine.source == source, SourceLine.line_hash != PAGES_KEY)
                )
                or 0
            )

    def pages_learned(self, source: str) -> int:
        """The pages (new articles, held pages) the source's lines were counted on."""
        with self._db.read_once() as connection:
            found = connection.execute(
                select(SourceLine.pages).where(SourceLine.source == source, SourceLine.line_hash == PAGES_KEY)
            ).scalar()
        return int(found or 0)


# A line of a new article: counted once more, or added with a count of 1. Plain SQL run by the
# driver (as the story keys are, store/stories.py): SQLAlchemy's per-row parameter processing
# (two datetimes a row, the same for every row) cost more CPU than the statement. SQLite runs it
# once per line (executemany, in process); PostgreSQL is sent every line in two arrays, one
# statement instead of ≈ 20, its rows taken in hash order (the lock order of every writer).
_COUNT_LINE = (
    "INSERT INTO source_lines (source, line_hash, pages, sample, first_seen, last_seen) "
    "VALUES ({p}, {p}, 1, {p}, {p}, {p}) "
    "ON CONFLICT (source, line_hash) DO UPDATE SET pages = source_lines.pages + 1, last_seen = excluded.last_seen"
)
_COUNT_LINES_POSTGRESQL = (
    "INSERT INTO source_lines (source, line_hash, pages, sample, first_seen, last_seen) "
    "SELECT %s, line.hash, 1, line.sample, %s, %s "
    "FROM unnest(%s::text[], %s::text[]) AS line(hash, sample) ORDER BY line.hash "
    "ON CONFLICT (source, line_hash) DO UPDATE SET pages = source_lines.pages + 1, last_seen = excluded.last_seen"
)


def _stamp(connection: Connection, now: datetime) -> Any:
    """``now`` as the driver is given a ``first_seen``/``last_seen`` (UTCDateTime's processing, once)."""
    process = _STAMP_PROCESSORS.get(connection.dialect.name, _UNKNOWN)
    if process is _UNKNOWN:
        process = _STAMP_PROCESSORS[connection.dialect.name] = (
            SourceLine.__table__.c.last_seen.type.bind_processor(connection.dialect)
        )
    return process(now) if process is not None else now


_UNKNOWN: Any = object()
_STAMP_PROCESSORS: dict[str, Any] = {}
