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

# For the tasks' retries: outages, and the decision lock held too long by others (LockError).
# IntegrityError: a uniqueness race the decision lock should prevent; if it ever happens, a
# second run sees the winner's row and agrees with it.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    *OUTAGE_ERRORS,
    redis.exceptions.LockError,
    sqlalchemy.exc.IntegrityError,
)

# Backoff while a server is away: first tries come quickly (a restart takes a second or
# two), later ones at most every few seconds, so that work resumes promptly once it is back.
FIRST_WAIT_SECONDS = 0.2
MAX_WAIT_SECONDS = 3.0


def outage_wait(attempt: int) -> float:
    """Seconds to wait before try ``attempt + 1``: exponential, capped, with jitter (half to
    full), so that processes cut off together do not all come back at the same moment."""
    ceiling = min(MAX_WAIT_SECONDS, FIRST_WAIT_SECONDS * (2 ** attempt))
    return random.uniform(ceiling / 2, ceiling)


def through_outages(call: Callable[[], T], what: str, patience: float | None = None,
                    errors: tuple[type[BaseException], ...] = OUTAGE_ERRORS) -> T:
    """``call()``, tried again while it fails with an outage error, for at most ``patience``
    seconds (None: for as long as it takes). Logs when it starts waiting and when it is over;
    raises the last error once ``patience`` is spent."""
    started = time.monotonic()
    attempt = 0
    while True:
        try:
            result = call()
        except errors as exc:
            waited = time.monotonic() - started
            if patience is not None and waited >= patience:
                log.error("%s: gave up after %.0fs: %s: %s", what, waited, type(exc).__name__, _short(exc))
                raise
            if attempt == 0 or attempt % 10 == 0:
                log.warning("%s: %s: %s; trying again (waiting %.0fs so far)",
                            what, type(exc).__name__, _short(exc), waited)
            time.sleep(outage_wait(attempt))
            attempt += 1
            continue
        if attempt:
            log.warning("%s: succeeded after %.1fs of outage", what, time.monotonic() - started)
        return result


def _short(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
