"""``newsdedup healthcheck beat``: beat's schedule file and Redis, without running beat (a beat
would send ticks into a Redis database other tests' workers may share)."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import pytest

from newsdedup.config import Settings
from newsdedup.healthcheck import BEAT_STALE_SECONDS, Unhealthy, check
from newsdedup.workers.app import create_celery_app


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Beat's schedule file is in the temporary directory: this test's own."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


@pytest.mark.redis
def test_beat_is_healthy_while_it_writes_its_schedule_and_redis_answers(
    private_tmp: Path, redis_url: str
) -> None:
    settings = Settings(redis_url=redis_url)
    schedule = Path(str(create_celery_app(settings).conf.beat_schedule_filename) + ".dat")
    assert schedule.parent == private_tmp

    with pytest.raises(Unhealthy, match="no schedule file"):
        check(settings, "beat")

    schedule.write_bytes(b"")  # what beat writes at start, and every few minutes while it ticks
    assert check(settings, "beat") == "beat schedule"

    stale = time.time() - BEAT_STALE_SECONDS - 60
    os.utime(schedule, (stale, stale))
    with pytest.raises(Unhealthy, match="last written"):
        check(settings, "beat")


def test_beat_is_unhealthy_when_redis_does_not_answer(private_tmp: Path) -> None:
    settings = Settings(redis_url="redis://127.0.0.1:1/0")  # nothing listens on port 1
    Path(str(create_celery_app(settings).conf.beat_schedule_filename) + ".db").write_bytes(b"")
    with pytest.raises(Unhealthy, match="Redis does not answer"):
        check(settings, "beat")
