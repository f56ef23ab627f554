"""Shared fixtures: the machine's real Redis and PostgreSQL, one private database each per test
run; the store, on both SQLite and PostgreSQL. A test's ``redis`` and ``postgres`` markers
follow from the fixtures it uses (``pytest -m "not redis and not postgres"`` runs what needs
neither server)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from newsdedup.store import Store

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")
POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# Tests read /metrics right after writing to the store: no cached exposition between them
# (tests/test_api_limits.py sets the cache explicitly where it is what is tested).
os.environ.setdefault("NEWSDEDUP_METRICS_CACHE_SECONDS", "0")


def _missing(what: str, exc: Exception) -> None:
    message = f"{what} is not reachable: {exc}"
    if IN_CI:
        pytest.fail(message + " (CI must have it: failing rather than skipping)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def redis_base_url() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as exc:  # noqa: BLE001 - any connection problem means "missing"
        _missing(f"Redis at {REDIS_URL}", exc)
    return REDIS_URL


@pytest.fixture
def redis_url(redis_base_url: str):
    """A Redis database of its own, emptied after: ``TEST_REDIS_DB`` when set (two test runs on
    one machine take different ones), else 12."""
    import redis

    db = int(os.environ.get("TEST_REDIS_DB") or 12)
    url = f"{redis_base_url}/{db}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    import psycopg

    try:
        psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=3, autocommit=True).close()
    except Exception as exc:  # noqa: BLE001
        _missing(f"PostgreSQL at {POSTGRES_ADMIN_URL}", exc)
    return POSTGRES_ADMIN_URL


@pytest.fixture
def postgres_url(postgres_admin_url: str):
    """A fresh PostgreSQL database for one test, dropped afterwards. Yields a SQLAlchemy URL."""
    import psycopg

    name = f"newsdedup_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = postgres_admin_url.rsplit("/", 1)[0]
    yield f"{base.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'newsdedup.db'}"


# The fixtures that need each server; a test using any of them (directly, through another
# fixture, or as the database a ``database_url`` parameter picks) gets the marker. A fixture
# that asks for one only under some parameter (request.getfixturevalue) marks that parameter:
# pytest.param("redis", marks=pytest.mark.redis).
SERVER_FIXTURES = {
    "redis": frozenset({"redis_base_url", "redis_url"}),
    "postgres": frozenset({"postgres_admin_url", "postgres_url"}),
}
DATABASES = ("sqlite_url", "postgres_url")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test that uses the store (or ``database_url``) runs once on each database; a module
    marked ``sqlite_only`` (its settings are built on ``sqlite_url``) on SQLite alone."""
    if "database_url" in metafunc.fixturenames:
        only_sqlite = metafunc.definition.get_closest_marker("sqlite_only") is not None
        metafunc.parametrize("database_url", DATABASES[:1] if only_sqlite else DATABASES, indirect=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        callspec = getattr(item, "callspec", None)
        if callspec is not None:
            used |= {value for value in callspec.params.values() if isinstance(value, str)}
        for marker, fixtures in SERVER_FIXTURES.items():
            if used & fixtures and item.get_closest_marker(marker) is None:
                item.add_marker(marker)


@pytest.fixture
def database_url(request: pytest.FixtureRequest) -> str:
    """The URL of a fresh store database: SQLite, then PostgreSQL (pytest_generate_tests)."""
    return request.getfixturevalue(request.param)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """A migrated store on each database in turn, closed after the test."""
    opened = Store.open(database_url)
    yield opened
    opened.close()
