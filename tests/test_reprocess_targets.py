"""Redis is not a way into the database: a worker takes a reprocess target's URL from its own
settings only. A key written into Redis naming a database (as older versions kept the target's
URL there) is never read."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from newsdedup.config import Settings
from newsdedup.workers.process_services import ProcessServices
from newsdedup.workers.reprocess_targets import target_id, target_name, target_url

pytestmark = pytest.mark.redis


def test_a_database_url_written_into_redis_is_not_opened(tmp_path: Path, redis_url: str) -> None:
    live = tmp_path / "live.db"
    planted = tmp_path / "elsewhere" / "planted.db"
    planted.parent.mkdir()
    planted_url = f"sqlite:///{planted}"
    settings = Settings(database_url=f"sqlite:///{live}", redis_url=redis_url)
    client = redis.Redis.from_url(redis_url)
    try:
        # What a reprocess command of an older version wrote, and what anyone with Redis can.
        client.set(f"newsdedup-workers:reprocess:{target_id(planted_url)}", planted_url, ex=60)
        services = ProcessServices(settings)
        for name in (target_id(planted_url), f"listed:{target_id(planted_url)}", "beside:../../x"):
            with pytest.raises(LookupError):
                services.target(name)
        assert not planted.exists()
    finally:
        client.delete(f"newsdedup-workers:reprocess:{target_id(planted_url)}")
        client.close()


def test_the_workers_find_the_default_target_and_listed_ones_from_their_settings(tmp_path: Path) -> None:
    live_url = f"sqlite:///{tmp_path / 'live.db'}"
    beside = f"sqlite:///{tmp_path / 'reprocess-20261206T220000.db'}"
    listed = f"sqlite:///{tmp_path / 'other' / 'chosen.db'}"
    settings = Settings(database_url=live_url, reprocess_database_urls=f"{listed} sqlite:///x.db")
    assert target_name(settings, beside) == "beside:20261206T220000"
    assert target_url(settings, target_name(settings, beside)) == beside
    assert target_url(settings, target_name(settings, listed)) == listed
    with pytest.raises(ValueError, match="NEWSDEDUP_REPROCESS_DATABASE_URLS"):
        target_name(settings, f"sqlite:///{tmp_path / 'unlisted.db'}")
    # A worker without the URL in its settings does not know the name.
    with pytest.raises(LookupError):
        target_url(Settings(database_url=live_url), target_name(settings, listed))


def test_postgres_default_targets_stay_on_the_live_server() -> None:
    settings = Settings(database_url="postgresql://news:pw@db.internal:5432/newsdedup")
    beside = "postgresql://news:pw@db.internal:5432/newsdedup_reprocess_20261206t220000"
    assert target_url(settings, target_name(settings, beside)) == beside
    with pytest.raises(ValueError):
        target_name(settings, "postgresql://news:pw@evil.example:5432/newsdedup_reprocess_20261206t220000")
