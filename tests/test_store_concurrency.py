"""Several writers at once (threads here, worker processes in production) and a feed
reader following the cursor: the reader must end with every article at its latest seq."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from store_factories import doc_at, duplicate_of, fingerprint_of, new, page_at, story

from newsdedup.store import Store

WRITERS = 4
PAGES_PER_WRITER = 30
BASE_ARTICLES = 5


@pytest.fixture
def stores(database_url: str) -> Iterator[list[Store]]:
    """Two Store objects on one database, as two worker processes would have."""
    opened = [Store.open(database_url), Store.open(database_url)]
    yield opened
    for store in opened:
        store.close()


def test_reader_following_the_cursor_misses_no_record(stores: list[Store]) -> None:
    base_ids = [
        stores[0]
        .apply(
            new(),
            page_at(f"https://wire.example/base/{n}.html"),
            doc_at(f"https://wire.example/base/{n}.html", story(n)),
            fingerprint_of(story(n)),
        )
        .article_id
        for n in range(BASE_ARTICLES)
    ]
    errors: list[BaseException] = []
    writers_done = threading.Event()

    def write(writer: int) -> None:
        store = stores[writer % 2]
        try:
            for n in range(PAGES_PER_WRITER):
                if n % 3 == 0:
                    # A copy on another site: a new URL for an existing article (a new seq).
                    article_id = base_ids[(writer + n) % BASE_ARTICLES]
                    url = f"https://copy{writer}.example/{n}.html"
                    text = story(base_ids.index(article_id))
                    store.apply(
                        duplicate_of(article_id),
                        page_at(url, f"copy{writer}"),
                        doc_at(url, text),
                        fingerprint_of(text),
                    )
                else:
                    url = f"https://site{writer}.example/{n}.html"
                    text = story(1000 * (writer + 1) + n)
                    store.apply(new(), page_at(url, f"site{writer}"), doc_at(url, text), fingerprint_of(text))
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    seen: dict[str, tuple[int, list[str]]] = {}
    order_violations: list[str] = []

    def read() -> None:
        cursor = 0
        try:
            while True:
                finished = writers_done.is_set()
                batch = stores[1].feed_reader.feed(after=cursor, limit=7)
                for record in batch:
                    if record["seq"] <= cursor:
                        order_violations.append(f"seq {record['seq']} after cursor {cursor}")
                    cursor = record["seq"]
                    seen[record["id"]] = (record["seq"], record["urls"])
                if finished and not batch:
                    return
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    reader = threading.Thread(target=read)
    threads = [threading.Thread(target=write, args=(w,)) for w in range(WRITERS)]
    reader.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writers_done.set()
    reader.join()

    assert errors == []
    assert order_violations == []
    final = {r["id"]: (r["seq"], r["urls"]) for r in stores[0].feed_reader.feed()}
    assert len(final) == BASE_ARTICLES + WRITERS * (PAGES_PER_WRITER - PAGES_PER_WRITER // 3)
    # Every article, at its latest state: a seq that committed late would be missing or stale.
    assert seen == final
    # Seqs are handed out without gaps: one per change, none lost to a rolled-back write.
    assert stores[0].feed_reader.last_seq() == BASE_ARTICLES + WRITERS * PAGES_PER_WRITER


def test_racing_new_decisions_for_one_url_make_one_article(stores: list[Store]) -> None:
    url = "https://wire.example/2024/05/breaking.html"
    racers = 6
    start = threading.Barrier(racers)
    results: list[str] = []
    errors: list[BaseException] = []

    def race(n: int) -> None:
        try:
            start.wait()
            applied = stores[n % 2].apply(
                new(), page_at(url), doc_at(url, story(7)), fingerprint_of(story(7))
            )
            results.append(applied.article_id)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=race, args=(n,)) for n in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(set(results)) == 1
    counts = stores[0].feed_reader.stats()
    assert (counts["articles"], counts["versions"], counts["urls"]) == (1, 1, 1)
    assert [r["seq"] for r in stores[0].feed_reader.feed()] == [1]


def test_stores_opened_at_once_migrate_the_schema_once(database_url: str) -> None:
    openers = 4
    start = threading.Barrier(openers)
    opened: list[Store] = []
    errors: list[BaseException] = []

    def open_store() -> None:
        try:
            start.wait()
            opened.append(Store.open(database_url))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(openers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        first = opened[0].apply(
            new(),
            page_at("https://wire.example/a.html"),
            doc_at("https://wire.example/a.html", story(1)),
            fingerprint_of(story(1)),
        )
        assert first.seq == 1
        assert all(s.feed_reader.stats()["articles"] == 1 for s in opened)
    finally:
        for store in opened:
            store.close()
