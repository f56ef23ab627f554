"""Which sources are due: plain functions, plus the tick against the real Redis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from helpers import NEWSDEDUP, newsdedup_env

from newsdedup.config import Settings
from newsdedup.config.cron import Cron
from newsdedup.config.sources import parse_schedule
from newsdedup.workers.locks import LAST_START_KEY, crawl_lock
from newsdedup.workers.schedule import is_due, tick

T0 = datetime(2024, 5, 6, 12, 0, 30, tzinfo=UTC)  # a Monday


def at(**delta: float) -> datetime:
    return T0 + timedelta(**delta)


def test_an_interval_source_is_due_at_once_then_every_interval() -> None:
    every_15m = parse_schedule("15m", "s")
    assert is_due(every_15m, None, T0)
    assert not is_due(every_15m, T0, at(minutes=14, seconds=59))
    assert is_due(every_15m, T0, at(minutes=15))
    assert is_due(every_15m, T0, at(days=3))  # missed runs make one crawl, not many


def test_a_cron_source_is_due_once_a_matching_minute_passed() -> None:
    every_5 = parse_schedule("*/5 * * * *", "s")
    assert not is_due(every_5, None, T0)  # first sighting: wait for a match
    assert not is_due(every_5, T0, at(minutes=4))  # 12:04:30 - next match is 12:05
    assert is_due(every_5, T0, at(minutes=4, seconds=30))
    nightly = parse_schedule("30 2 * * *", "s")
    assert not is_due(nightly, T0, at(hours=14, minutes=29))
    assert is_due(nightly, T0, at(hours=14, minutes=30))


def test_cron_fields_ranges_lists_steps_and_weekdays() -> None:
    cron = Cron(["0,30", "9-17/4", "*", "*", "1-5"])
    assert cron.next_after(T0) == datetime(2024, 5, 6, 13, 0, tzinfo=UTC)
    friday_evening = datetime(2024, 5, 10, 18, 0, tzinfo=UTC)
    assert cron.next_after(friday_evening) == datetime(2024, 5, 13, 9, 0, tzinfo=UTC)
    sunday = Cron(["0", "0", "*", "*", "7"])  # 7 and 0 both mean Sunday
    assert sunday.next_after(T0) == datetime(2024, 5, 12, 0, 0, tzinfo=UTC)
    # Day of month and day of week both restricted: either one matches (cron's rule).
    either = Cron(["0", "0", "1", "*", "3"])
    assert either.next_after(T0) == datetime(2024, 5, 8, 0, 0, tzinfo=UTC)
    assert Cron(["0", "0", "30", "2", "*"]).next_after(T0) is None  # never


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, list[object]]] = []

    def send_task(self, name: str, args: list[object]) -> None:
        self.sent.append((name, args))


def sources_file(path: Path, *entries: tuple[str, str]) -> Path:
    lines = ["sources:"]
    for name, schedule in entries:
        lines += [
            f"  - name: {name}",
            f"    feeds: [https://{name}.example/rss.xml]",
            f"    schedule: '{schedule}'",
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.redis
def test_the_tick_rereads_the_sources_file_and_remembers_starts_in_redis(
    redis_url: str, tmp_path: Path
) -> None:
    config = sources_file(tmp_path / "sources.yaml", ("alpha", "10m"), ("beta", "*/5 * * * *"))
    settings = Settings(redis_url=redis_url, config=config)
    app = Recorder()

    assert tick(settings, app, now=T0) == ["alpha"]  # beta waits for its first match
    assert app.sent[0][0] == "newsdedup.crawl_source" and app.sent[0][1][0] == "alpha"
    assert tick(settings, app, now=at(minutes=1)) == []
    assert tick(settings, app, now=at(minutes=5)) == ["beta"]
    assert tick(settings, app, now=at(minutes=10)) == ["alpha", "beta"]

    # An edit takes effect at the next tick: gamma appears, alpha goes (and leaves Redis).
    sources_file(config, ("beta", "*/5 * * * *"), ("gamma", "30s"))
    assert tick(settings, app, now=at(minutes=11)) == ["gamma"]
    client = redis.Redis.from_url(redis_url)
    assert set(client.hgetall(LAST_START_KEY)) == {b"beta", b"gamma"}

    # A broken edit schedules nothing, and the next good one carries on.
    config.write_text("sources: [ {name: BAD} ]\n")
    assert tick(settings, app, now=at(minutes=20)) == []
    sources_file(config, ("gamma", "30s"))
    assert tick(settings, app, now=at(minutes=21)) == ["gamma"]


@pytest.mark.redis
def test_one_crawl_per_source_at_a_time(redis_url: str) -> None:
    from newsdedup.workers.crawl_process import run_source_crawl

    settings = Settings(redis_url=redis_url)
    client = redis.Redis.from_url(redis_url)
    held = crawl_lock(client, "alpha", timeout=30)
    assert held.acquire()
    try:
        # The running crawl holds the lock: a second one does not even start a process.
        assert run_source_crawl(settings, "alpha", "c2").startswith("skipped")
        assert not crawl_lock(client, "alpha", timeout=30).acquire()
    finally:
        held.release()
    lock = crawl_lock(client, "alpha", timeout=30)
    assert lock.acquire()  # free again once the crawl ended
    lock.release()


@pytest.mark.redis
def test_beat_sends_the_tick_on_its_own(redis_url: str, tmp_path: Path) -> None:
    """`newsdedup beat` for real: with no worker running, its ticks pile up in the control queue."""
    import os
    import signal
    import subprocess
    import time

    from newsdedup.workers.queues import CONTROL_QUEUE

    config = sources_file(tmp_path / "sources.yaml", ("alpha", "10m"))
    env = newsdedup_env()
    env.update(NEWSDEDUP_REDIS_URL=redis_url, NEWSDEDUP_CONFIG=str(config), NEWSDEDUP_SCHEDULE_TICK="0.5")
    log = open(tmp_path / "beat.log", "wb")
    process = subprocess.Popen(
        [*NEWSDEDUP, "beat", "--schedule", str(tmp_path / "beat-state")],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    client = redis.Redis.from_url(redis_url)
    try:
        deadline = time.monotonic() + 30
        while client.llen(CONTROL_QUEUE) < 2:
            assert process.poll() is None, (tmp_path / "beat.log").read_text()
            assert time.monotonic() < deadline, "beat sent no tick"
            time.sleep(0.2)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    assert b"newsdedup.schedule_due_crawls" in client.lindex(CONTROL_QUEUE, 0)
