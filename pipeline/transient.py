"""Failures worth another try later, and riding out an outage of PostgreSQL or Redis.

A module of its own so that processes which only send tasks (a crawl, the API) need not
import the page-processing code to register them.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

import redis
import sqlalchemy.exc

from newsdedup.store.store import StaleDecision

log = logging.getLogger(__name__)
T = TypeVar("T")

# The server was unreachable or went away: nothing is wrong with the work itself, it only has
# to wait for the server. (SQLAlchemy wraps psycopg's connection errors in OperationalError.)
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.BusyLoadingError,
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
)

# For the tasks' retries: outages, and the story locks held too long by others (LockError).
# IntegrityError: a uniqueness race the story locks should prevent; if it ever happens, a
# second run sees the winner's row and agrees with it. StaleDecision: the page's article kept
# changing under it (PagePipeline.commit decides again a few times first).
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    *OUTAGE_ERRORS,
    redis.exceptions.LockError,
    sqlalchemy.exc.IntegrityError,
    StaleDecision,
)

# Backoff while a server is away: first tries come quickly (a restart takes a second or
# two), later ones at most every few seconds, so that work resumes promptly once it is back.
FIRST_WAIT_SECONDS = 0.2
MAX_WAIT_SECONDS = 3.0


# PostgreSQL's SQLSTATE classes that say "the server is away or busy", not "the request is
# wrong": connection exceptions, operator intervention (shutdown, restart), insufficient
# resources, and transaction rollbacks (serialization failures, deadlocks).
_OUTAGE_SQLSTATE_PREFIXES = ("08", "57P", "53", "40")


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` (one of OUTAGE_ERRORS) means a server away or busy, rather than a
    wrong configuration (a bad password, a database that does not exist, a missing table),
    which waiting would not mend."""
    if not isinstance(exc, (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError)):
        return True
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate is not None:
        return str(sqlstate).startswith(_OUTAGE_SQLSTATE_PREFIXES)
    name = getattr(orig, "sqlite_errorname", None)
    if name is not None:  # SQLite: only a lock held by another process is worth waiting for
        return name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED"))
    # No code: the connection itself failed. Refused, reset or timed out is an outage; the
    # server refusing who we are or what we asked for is a configuration to fix.
    message = str(orig or exc)
    return not any(words in message for words in _CONFIGURATION_ERRORS)


_CONFIGURATION_ERRORS = (
    "does not exist",
    "authentication failed",
    "no pg_hba.conf entry",
    "password",
    "invalid dsn",
    "invalid connection option",
)


def outage_wait(attempt: int) -> float:
    """Seconds to wait before try ``attempt + 1``: exponential, capped, with jitter (half to
    full), so that processes cut off together do not all come back at the same moment."""
    ceiling = min(MAX_WAIT_SECONDS, FIRST_WAIT_SECONDS * (2**attempt))
    return random.uniform(ceiling / 2, ceiling)


def through_outages(
    call: Callable[[], T],
    what: str,
    patience: float | None = None,
    errors: tuple[type[BaseException], ...] = OUTAGE_ERRORS,
) -> T:
    """``call()``, tried again while it fails with an outage error, for at most ``patience``
    seconds (None: for as long as it takes). Logs when it starts waiting and when it is over;
    raises the last error once ``patience`` is spent."""
    started = time.monotonic()
    attempt = 0
    while True:
        try:
            result = call()
        except errors as exc:
            if isinstance(exc, OUTAGE_ERRORS) and not is_outage(exc):
                raise
            waited = time.monotonic() - started
            if patience is not None and waited >= patience:
                log.error("%s: gave up after %.0fs: %s: %s", what, waited, type(exc).__name__, _short(exc))
                raise
            if attempt == 0 or attempt % 10 == 0:
                log.warning(
                    "%s: %s: %s; trying again (waiting %.0fs so far)",
                    what,
                    type(exc).__name__,
                    _short(exc),
                    waited,
                )
            time.sleep(outage_wait(attempt))
            attempt += 1
            continue
        if attempt:
            log.warning("%s: succeeded after %.1fs of outage", what, time.monotonic() - started)
        return result


def _short(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
