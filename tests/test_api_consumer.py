"""The consumer example (examples/feed_consumer.py) against the real API: two runs, one cursor file."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from api_factories import add_article, add_version, live_api

from newsdedup.config import Settings
from newsdedup.store import Store

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "feed_consumer.py"


@pytest.fixture(scope="module")
def consumer():
    spec = importlib.util.spec_from_file_location("feed_consumer", EXAMPLE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_consumer_resumes_from_its_saved_cursor(consumer, sqlite_url, tmp_path, monkeypatch):
    monkeypatch.setattr(consumer, "PAGE_SIZE", 3)  # several pages per run
    store = Store.open(sqlite_url)
    cursor_file = tmp_path / "cursor.txt"
    try:
        first = [add_article(store) for _ in range(8)]
        with live_api(Settings(database_url=sqlite_url), store) as running:
            got: list[dict] = []
            end = consumer.follow(running.base_url, cursor_file, got.append, stop_when_idle=True)
            assert [r["id"] for r in got] == [a.article_id for a in first]
            assert end == first[-1].seq and cursor_file.read_text() == str(end)

        # The consumer is stopped; meanwhile one article changes and two are new.
        record = store.feed_reader.article(first[2].article_id)
        changed = add_version(
            store, record["id"], record["canonical_url"], "Corrected.\nText.", "Corrected title"
        )
        new = [add_article(store) for _ in range(2)]

        # A restarted server and a restarted consumer: it picks up exactly what it missed.
        with live_api(Settings(database_url=sqlite_url), store) as running:
            again: list[dict] = []
            end = consumer.follow(running.base_url, cursor_file, again.append, stop_when_idle=True)
            assert [(r["id"], r["seq"]) for r in again] == [
                (record["id"], changed.seq),
                *((a.article_id, a.seq) for a in new),
            ]
            assert again[0]["title"] == "Corrected title"
            assert end == new[-1].seq
            # Nothing new: a third run reads nothing and keeps the cursor.
            assert consumer.follow(running.base_url, cursor_file, again.append, stop_when_idle=True) == end
            assert len(again) == 3
    finally:
        store.close()
