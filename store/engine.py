"""Building the store's Engine and bringing its schema up to date."""

from __future__ import annotations

import re
import sqlite3
import time
import zlib
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import StaticPool

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_REVISION_LINE = re.compile(r"^(revision|down_revision)\s*(?::[^=]*)?=\s*(.+)$", re.MULTILINE)
_QUOTED = re.compile(r"[\"']([^\"']+)[\"']")
# How long a SQLite writer waits for another process's write lock before giving up.
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Execution option that makes a SQLite transaction take the write lock at BEGIN ("IMMEDIATE"),
# or run each statement as a transaction of its own ("NONE": no BEGIN is sent).
SQLITE_BEGIN_OPTION = "newsdedup_sqlite_begin"
# Key of the PostgreSQL advisory lock that serializes concurrent migrations.
MIGRATION_LOCK_KEY = zlib.crc32(b"newsdedup-store-migrations")


def make_engine(database_url: str, ping_on_checkout: bool = True) -> Engine:
    """One Engine per Store: SQLite in WAL mode with a busy timeout, or PostgreSQL.

    ``ping_on_checkout`` (PostgreSQL): test each pooled connection with a round trip before
    use, so that a server restart costs no failed statement. Workers turn it off: it was
    ≈ 0.8 ms of CPU per checkout, several per page, and their tasks retry a statement that
    failed on a dead connection anyway (SQLAlchemy then drops every pooled connection).
    """
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(database_url)
    # Options named in the URL win over these defaults.
    connect_args = {k: v for k, v in POSTGRES_CONNECT_ARGS.items() if k not in url.query}
    return create_engine(database_url, pool_pre_ping=ping_on_checkout, future=True, connect_args=connect_args)


# libpq's connection options: a server that vanishes without a reset (a network partition, a
# host that died) must fail the statement within seconds, so that the caller's retries take
# over (pipeline/transient.py), instead of TCP's own timeouts of a quarter of an hour.
POSTGRES_CONNECT_ARGS: dict[str, int] = {
    "connect_timeout": 10,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    # Unacknowledged data is given up after this many milliseconds.
    "tcp_user_timeout": 30_000,
}


def write_engine(engine: Engine) -> Engine:
    """The same pool, but SQLite transactions begin IMMEDIATE.

    A deferred SQLite transaction that reads, then writes, fails at once with "database is
    locked" when another writer committed in between (the busy timeout does not help);
    taking the write lock at BEGIN makes writers queue on the busy timeout instead.
    """
    return engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})


def _sqlite_engine(database_url: str) -> Engine:
    url = make_url(database_url)
    database = url.database or ""
    in_memory = database in ("", ":memory:") or database.startswith("file::memory:")
    if in_memory:
        # One shared connection, or every pooled connection would see its own empty database.
        engine = create_engine(
            database_url,
            connect_args={"check_same_thread": False},
            poolclass=StaticPool,
        )
    else:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            database_url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        # We emit BEGIN ourselves (below): the sqlite3 module's legacy mode would not
        # begin before SELECTs or DDL, which breaks transactional migrations and reads.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # First, so that switching to WAL waits for another process's lock too.
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            if not in_memory:
                # WAL: readers never block the writer and the writer never blocks readers,
                # so the API process can read while a crawl process writes.
                _set_wal(cursor)
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get(SQLITE_BEGIN_OPTION, "DEFERRED")
        if mode != "NONE":
            conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def _set_wal(cursor: sqlite3.Cursor) -> None:
    """PRAGMA journal_mode=WAL, tried again while another connection holds the file: SQLite
    answers "database is locked" at once here, without its busy timeout (seen with four
    stores opening a new database at the same moment)."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def alembic_config(connection: Connection | None = None, database_url: str | None = None) -> Config:
    """Alembic's configuration built in code (the package ships no alembic.ini)."""
    # deferred: a store at the head revision opens without alembic, ≈ 90 ms of imports (bench/import_costs.py)
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if database_url is not None:
        config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@lru_cache(maxsize=1)
def migrations_head() -> str | None:
    """The newest migration's revision, read from the files in ``migrations/versions`` (the
    one no other names as its ``down_revision``); None unless there is exactly one."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in (MIGRATIONS_DIR / "versions").glob("*.py"):
        for name, value in _REVISION_LINE.findall(script.read_text(encoding="utf-8")):
            (revisions if name == "revision" else parents).update(_QUOTED.findall(value))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def schema_is_current(engine: Engine) -> bool:
    """Whether the database is at the newest migration already (one SELECT)."""
    head = migrations_head()
    if head is None:
        return False
    try:
        with engine.connect() as connection:
            versions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    except DBAPIError:  # no alembic_version table: a new database
        return False
    return versions == [head]


def upgrade_schema(engine: Engine) -> None:
    """Run ``alembic upgrade head`` in one transaction, one process at a time. A database at
    the newest migration costs one SELECT: no alembic import, no migration scripts loaded
    (every crawl command and worker opens the store)."""
    if schema_is_current(engine):
        return
    from alembic import command  # deferred, as above: ≈ 75 ms more (bench/import_costs.py)

    with write_engine(engine).begin() as connection:
        if connection.dialect.name == "postgresql":
            # Two workers starting together would both try to create the tables.
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        command.upgrade(alembic_config(connection), "head")
