"""One database per process: the Engine and the sessions each part of the store opens on it.

The parts of the store (page writes, the feed read model, the failure log, the fetch state)
share one ``Database``, so they share one connection pool; none holds a connection between
calls, so threads may share them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, RowMapping
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from newsdedup.fetched.page import ArchiveLocation, Page
from newsdedup.store.engine import SQLITE_BEGIN_OPTION, make_engine, upgrade_schema, write_engine

# Bound on the number of bind parameters in one IN (...) list.
KEYS_PER_QUERY = 500
# A write that loses a race (two workers inserting one URL, a deadlock) is retried whole;
# the retry sees the winner's row and takes the idempotent path.
WRITE_ATTEMPTS = 5
# PostgreSQL SQLSTATEs worth a retry: serialization failure, deadlock detected.
RETRYABLE_SQLSTATES = {"40001", "40P01"}


def is_retryable(exc: DBAPIError) -> bool:
    """Whether a failed write lost a race (and is worth trying again whole)."""
    if isinstance(exc, IntegrityError):
        return True
    sqlstate = getattr(exc.orig, "sqlstate", None)
    return sqlstate in RETRYABLE_SQLSTATES or "database is locked" in str(exc.orig)


def utcnow() -> datetime:
    return datetime.now(UTC)


_STATEMENTS: dict[tuple[str, str], Any] = {}


def prebuilt(connection: Connection, name: str, build: Callable[[Callable[[Any], Any]], Any]) -> Any:
    """The statement ``build(dialect_insert)`` makes, built once per dialect and kept under
    ``name``: the values go in as parameters. Building a statement for every page (and
    compiling one whose shape changed) cost more CPU than running it; a prebuilt one is compiled
    once, then found in SQLAlchemy's cache."""
    key = (connection.dialect.name, name)
    statement = _STATEMENTS.get(key)
    if statement is None:
        statement = _STATEMENTS[key] = build(dialect_insert(connection))
    return statement


def driver_sql(connection: Connection, sql: str) -> str:
    """``sql`` with each ``{p}`` the driver's placeholder (``?`` for sqlite3, ``%s`` for
    psycopg): plain SQL for ``exec_driver_sql``, where SQLAlchemy's execution (per row, for an
    executemany) cost more CPU than the statement itself."""
    return sql.format(p="?" if connection.dialect.paramstyle == "qmark" else "%s")


def dialect_insert(connection: Connection) -> Callable[[Any], postgresql.Insert | sqlite.Insert]:
    """The connection's dialect's INSERT, which knows ON CONFLICT (PostgreSQL's and SQLite's)."""
    return postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert


class Database:
    def __init__(self, database_url: str, ping_on_checkout: bool = True) -> None:
        """``ping_on_checkout``: see ``store.engine.make_engine``."""
        self.url = database_url
        self.engine = make_engine(database_url, ping_on_checkout)
        # Writers begin their transactions IMMEDIATE on SQLite (see ``write_engine``).
        self.writer = write_engine(self.engine)
        self._read_sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(self.writer, expire_on_commit=False)
        # One statement is its own snapshot: it is sent without BEGIN (on PostgreSQL two round
        # trips fewer; on SQLite two statements fewer, a read that runs at every page).
        self._single_reads = (
            self.engine.execution_options(isolation_level="AUTOCOMMIT")
            if self.engine.dialect.name == "postgresql"
            else self.engine.execution_options(**{SQLITE_BEGIN_OPTION: "NONE"})
        )

    def migrate(self) -> None:
        """Bring the schema to the newest migration (``alembic upgrade head``)."""
        upgrade_schema(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def ping(self) -> bool:
        """True when the database answers (for /healthz)."""
        try:
            with self.engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
            return True
        except DBAPIError:
            return False

    @contextmanager
    def reading(self) -> Iterator[Session]:
        with self._read_sessions.begin() as session:
            yield session

    @contextmanager
    def read_once(self) -> Iterator[Connection]:
        """A connection for one statement (its own snapshot)."""
        with self._single_reads.connect() as connection:
            yield connection

    @contextmanager
    def writing(self) -> Iterator[Session]:
        with self._write_sessions.begin() as session:
            yield session


def page_columns(page: Page) -> dict[str, Any]:
    """A fetched page as the columns of a row that keeps it whole (a staged page, a held page)."""
    return {
        "crawl_id": page.crawl_id,
        "url": page.url,
        "final_url": page.final_url,
        "source": page.source,
        "status": page.status,
        "headers": json.dumps(page.headers),
        "html": page.html,
        "hints": json.dumps(page.hints),
        "fetched_at": page.fetched_at,
        **archive_columns(page),
    }


def page_of(row: RowMapping) -> Page:
    """The page a row of ``page_columns`` keeps (a finished staged page has no HTML left)."""
    return Page(
        url=row["url"],
        final_url=row["final_url"],
        status=row["status"],
        headers=json.loads(row["headers"]),
        html=row["html"] or "",
        fetched_at=row["fetched_at"],
        source=row["source"],
        crawl_id=row["crawl_id"],
        hints=json.loads(row["hints"]),
        archive=ArchiveLocation(row["warc_file"], row["warc_offset"]) if row["warc_file"] else None,
    )


def archive_columns(page: Page) -> dict[str, Any]:
    """A row's pointer to the page's WARC record (a version's, a staged page's); None when the
    page was not archived, or its record was not written."""
    location = page.archive
    if location is None or not location.written:
        return {"warc_file": None, "warc_offset": None}
    return {"warc_file": location.file, "warc_offset": location.offset}
