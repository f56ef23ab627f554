"""Failures worth another try later, for the tasks' retries.

A module of its own so that processes which only send tasks (a crawl, the API) need not
import the page-processing code to register them.
"""
from __future__ import annotations

import redis
import sqlalchemy.exc

# The server was unreachable or busy, or the decision lock was held too long by others
# (LockError). IntegrityError: a uniqueness race the decision lock should prevent; if it ever
# happens, a second run sees the winner's row and agrees with it.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.BusyLoadingError,
    redis.exceptions.LockError,
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.IntegrityError,
)
