"""The article store, on SQLite and on PostgreSQL: what the feed, the API and dedup see."""

from __future__ import annotations

from dataclasses import replace

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import event
from store_factories import (
    T0,
    doc_at,
    duplicate_of,
    fingerprint_of,
    new,
    page_at,
    story,
    unchanged,
    version_of,
)

from newsdedup.fetched.page import Validators
from newsdedup.store import Store
from newsdedup.store.models import Base
from newsdedup.store.search import is_model_object

A = "https://wire.example/2024/05/council-vote.html"
A_PRINT = "https://wire.example/print/2024/05/council-vote.html"
B = "https://daily.example/news/council-vote.html"


def add_new(store: Store, url: str, text: str, source: str = "wire", **doc_args):  # type: ignore[no-untyped-def]
    return store.apply(new(), page_at(url, source), doc_at(url, text, **doc_args), fingerprint_of(text))


# --- new ---


def test_new_article_is_one_feed_record(store: Store) -> None:
    applied = add_new(store, A, story(1), title="Council votes", modified_minutes=5)

    assert applied.version == 1
    assert applied.seq == 1
    assert applied.index_key == f"{applied.article_id}:1"
    assert store.feed_reader.feed() == [
        {
            "seq": 1,
            "id": applied.article_id,
            "version": 1,
            "canonical_url": A,
            "urls": [A],
            "title": "Council votes",
            "text": story(1),
            "authors": ["Ann Writer"],
            "published_at": "2024-05-01T08:00:00+00:00",
            "modified_at": "2024-05-01T08:05:00+00:00",
            "language": "en",
            "source": "wire",
            "sources": ["wire"],
            "story_id": None,  # Store.apply without a story: stories off
        }
    ]
    assert store.feed_reader.article(applied.article_id) == store.feed_reader.feed()[0]


def test_redelivered_new_page_adds_nothing(store: Store) -> None:
    first = add_new(store, A, story(1))
    again = add_new(store, A, story(1))

    assert again.article_id == first.article_id
    assert again.version == 1
    assert again.seq is None and again.index_key is None
    counts = store.feed_reader.stats()
    assert (counts["articles"], counts["versions"], counts["urls"]) == (1, 1, 1)
    assert [r["seq"] for r in store.feed_reader.feed()] == [1]


def test_unknown_article_and_missing_id_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="article_id"):
        store.apply(duplicate_of(""), page_at(B, "daily"), doc_at(B, story(1)), fingerprint_of(story(1)))
    with pytest.raises(LookupError):
        store.apply(
            duplicate_of("f" * 32), page_at(B, "daily"), doc_at(B, story(1)), fingerprint_of(story(1))
        )


# --- version ---


def test_new_version_updates_record_and_keeps_history(store: Store) -> None:
    first = add_new(store, A, "Council meets today.\nVote expected at noon.")
    revised = "Council meets today.\nThe motion passed 7-2.\nMayor to sign on Friday."
    applied = store.apply(
        version_of(first.article_id, similarity=0.42),
        page_at(A, minutes=90),
        doc_at(A, revised, title="Motion passes"),
        fingerprint_of(revised),
    )

    assert (applied.article_id, applied.version, applied.seq) == (first.article_id, 2, 2)
    assert applied.index_key == f"{first.article_id}:2"
    [record] = store.feed_reader.feed()
    assert (record["version"], record["text"], record["title"], record["urls"]) == (
        2,
        revised,
        "Motion passes",
        [A],
    )

    v1, v2 = store.feed_reader.versions(first.article_id)
    assert v1 == {
        "version": 1,
        "title": "Title",
        "text": "Council meets today.\nVote expected at noon.",
        "url": A,
        "fetched_at": "2024-05-01T08:00:00+00:00",
        "modified_at": None,
        "similarity": None,
        "diff": "",
    }
    assert v2["version"] == 2 and v2["similarity"] == pytest.approx(0.42)
    assert v2["fetched_at"] == "2024-05-01T09:30:00+00:00"
    assert "-Vote expected at noon." in v2["diff"]
    assert "+The motion passed 7-2." in v2["diff"]
    assert " Council meets today." in v2["diff"]


def test_redelivered_version_adds_no_second_version(store: Store) -> None:
    first = add_new(store, A, story(1))
    decision, page, doc, fp = (
        version_of(first.article_id),
        page_at(A, minutes=60),
        doc_at(A, story(2)),
        fingerprint_of(story(2)),
    )
    store.apply(decision, page, doc, fp)
    again = store.apply(decision, page, doc, fp)

    assert (again.version, again.seq, again.index_key) == (2, None, None)
    assert [v["version"] for v in store.feed_reader.versions(first.article_id)] == [1, 2]


def test_version_from_a_new_url_records_the_url_as_revision(store: Store) -> None:
    first = add_new(store, A, story(1))
    revision_url = "https://wire.example/2024/05/council-vote-update-1.html"
    store.apply(
        version_of(first.article_id),
        page_at(revision_url, minutes=30),
        doc_at(revision_url, story(2)),
        fingerprint_of(story(2)),
    )

    assert store.feed_reader.feed()[0]["urls"] == [A, revision_url]
    assert store.feed_reader.stats()["urls_revision"] == 1


# --- duplicate ---


def test_syndicated_copy_adds_url_and_source_not_a_version(store: Store) -> None:
    original = add_new(store, A, story(1))
    applied = store.apply(
        duplicate_of(original.article_id),
        page_at(B, "daily", minutes=20),
        doc_at(B, story(1)),
        fingerprint_of(story(1)),
    )

    assert (applied.article_id, applied.version, applied.seq, applied.index_key) == (
        original.article_id,
        1,
        2,
        None,
    )
    [record] = store.feed_reader.feed()
    assert record["urls"] == [A, B]
    assert record["sources"] == ["daily", "wire"]
    assert record["source"] == "wire"
    assert len(store.feed_reader.versions(original.article_id)) == 1

    again = store.apply(
        duplicate_of(original.article_id),
        page_at(B, "daily", minutes=80),
        doc_at(B, story(1)),
        fingerprint_of(story(1)),
    )
    assert again.seq is None
    assert store.feed_reader.stats()["urls"] == 2


def test_original_arriving_after_its_copy_becomes_the_source(store: Store) -> None:
    # The copy names the original as canonical and is stored first.
    copy = store.apply(
        new(), page_at(B, "daily"), doc_at(B, story(1), canonical_url=A), fingerprint_of(story(1))
    )
    assert store.feed_reader.article(copy.article_id)["source"] == "daily"  # type: ignore[index]

    # The original site's print page, seen before the original: judged a copy of the copy.
    store.apply(
        duplicate_of(copy.article_id, "syndicated"),
        page_at(A_PRINT, "wire", minutes=5),
        doc_at(A_PRINT, story(1)),
        fingerprint_of(story(1)),
    )
    applied = store.apply(
        duplicate_of(copy.article_id, "original"),
        page_at(A, "wire", minutes=10),
        doc_at(A, story(1)),
        fingerprint_of(story(1)),
    )

    assert applied.seq == 3
    record = store.feed_reader.article(copy.article_id)
    assert record is not None
    assert record["source"] == "wire"
    assert record["canonical_url"] == A
    assert record["urls"] == [A, B, A_PRINT]
    assert record["sources"] == ["daily", "wire"]
    counts = store.feed_reader.stats()
    assert (counts["urls_original"], counts["urls_syndicated"], counts["urls_alternate"]) == (1, 1, 1)


def test_a_copy_naming_the_original_moves_the_canonical_url_there_at_once(store: Store) -> None:
    # A copy naming nothing created the article; a second copy names the original, which has
    # not been fetched yet: the canonical URL is the original's from now on.
    C = "https://valley.example/wire/council-vote.html"
    first = add_new(store, C, story(1), source="valley")
    claim = store.apply(
        duplicate_of(first.article_id),
        page_at(B, "daily", minutes=5),
        doc_at(B, story(1), canonical_url=A),
        fingerprint_of(story(1)),
    )
    record = store.feed_reader.article(first.article_id)
    assert record is not None and record["canonical_url"] == A and claim.seq is not None
    assert record["source"] == "valley"  # the original's source, once it is seen

    store.apply(
        duplicate_of(first.article_id),
        page_at(A, "wire", minutes=10),
        doc_at(A, story(1)),
        fingerprint_of(story(1)),
    )
    record = store.feed_reader.article(first.article_id)
    assert record is not None
    assert (record["canonical_url"], record["source"], record["urls"][0]) == (A, "wire", A)
    counts = store.feed_reader.stats()
    assert (counts["urls_original"], counts["urls_syndicated"]) == (1, 2)


def test_a_later_claim_does_not_move_a_canonical_url_a_page_named(store: Store) -> None:
    first = add_new(store, B, story(1), source="daily", canonical_url=A)
    store.apply(
        duplicate_of(first.article_id),
        page_at(A_PRINT, "other", minutes=5),
        doc_at(A_PRINT, story(1), canonical_url="https://other.example/x.html"),
        fingerprint_of(story(1)),
    )
    assert store.feed_reader.article(first.article_id)["canonical_url"] == A  # type: ignore[index]


def test_a_url_whose_text_did_not_change_makes_no_version(store: Store) -> None:
    # The article's latest version came from another URL; this URL serves what it served last
    # time. A decision that (wrongly, or in a race) calls it a version adds nothing.
    first = add_new(store, A, story(1))
    store.apply(
        version_of(first.article_id),
        page_at(B, "wire", minutes=5),
        doc_at(B, story(2)),
        fingerprint_of(story(2)),
    )
    for decision in (version_of(first.article_id), new()):
        again = store.apply(
            decision, page_at(A, "wire", minutes=10), doc_at(A, story(1)), fingerprint_of(story(1))
        )
        assert (again.version, again.seq) == (2, None)
    assert len(store.feed_reader.versions(first.article_id)) == 2


# --- unchanged ---
# --- unchanged ---


def test_unchanged_page_changes_nothing_in_the_feed(store: Store) -> None:
    first = add_new(store, A, story(1))
    applied = store.apply(
        unchanged(first.article_id), page_at(A, minutes=60), doc_at(A, story(1)), fingerprint_of(story(1))
    )

    assert (applied.version, applied.seq, applied.index_key) == (1, None, None)
    assert store.feed_reader.feed(after=1) == []


def test_unchanged_page_at_a_new_url_joins_the_record(store: Store) -> None:
    first = add_new(store, A, story(1))
    applied = store.apply(
        unchanged(first.article_id),
        page_at(A_PRINT, minutes=5),
        doc_at(A_PRINT, story(1), canonical_url=A),
        fingerprint_of(story(1)),
    )

    assert applied.seq == 2
    assert [r["urls"] for r in store.feed_reader.feed(after=1)] == [[A, A_PRINT]]


# --- feed ---


def test_feed_follows_the_cursor_and_lists_each_article_once(store: Store) -> None:
    ids = [add_new(store, f"https://wire.example/{n}.html", story(n)).article_id for n in range(5)]

    pages, cursor = [], 0
    while batch := store.feed_reader.feed(after=cursor, limit=2):
        pages.append([r["id"] for r in batch])
        cursor = batch[-1]["seq"]
    assert pages == [ids[0:2], ids[2:4], ids[4:5]]

    # A new URL for the first article moves it to the end of the feed, once.
    store.apply(
        duplicate_of(ids[0], "alternate"),
        page_at("https://wire.example/amp/0.html", minutes=3),
        doc_at("https://wire.example/amp/0.html", story(0)),
        fingerprint_of(story(0)),
    )
    assert [(r["seq"], r["id"]) for r in store.feed_reader.feed(after=cursor)] == [(6, ids[0])]
    assert [r["id"] for r in store.feed_reader.feed()] == ids[1:] + ids[:1]
    assert store.feed_reader.last_seq() == 6


def test_feed_reads_a_page_in_a_fixed_number_of_queries(store: Store) -> None:
    for n in range(30):
        add_new(store, f"https://wire.example/{n}.html", story(n))
    statements: list[str] = []

    def count(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        records = store.feed_reader.feed(limit=25)
    finally:
        event.remove(store.engine, "before_cursor_execute", count)
    assert len(records) == 25 and all(r["urls"] for r in records)
    assert len(statements) <= 2


def test_unknown_article_has_no_record_and_no_versions(store: Store) -> None:
    assert store.feed_reader.article("0" * 32) is None
    assert store.feed_reader.versions("0" * 32) == []


# --- dedup look-ups ---


def test_candidates_for_url_and_canonical(store: Store) -> None:
    by_url = add_new(store, A, story(1))
    store.apply(
        version_of(by_url.article_id), page_at(A, minutes=30), doc_at(A, story(2)), fingerprint_of(story(2))
    )
    by_canonical = add_new(store, B, story(3), source="daily", canonical_url="https://daily.example/c.html")
    add_new(store, "https://other.example/x.html", story(4), source="other")

    found = store.candidates_for_url(A, "https://daily.example/c.html")

    assert [(c.article_id, c.version, c.found_by, c.is_latest) for c in found] == sorted(
        [
            (by_url.article_id, 1, "url", False),
            (by_url.article_id, 2, "url", True),
            (by_canonical.article_id, 1, "canonical", True),
        ],
        key=lambda t: (t[0], t[1]),
    )
    latest = next(c for c in found if c.article_id == by_url.article_id and c.is_latest)
    assert latest.fingerprint == fingerprint_of(story(2))
    assert (latest.url, latest.source) == (A, "wire")


def test_candidates_by_canonical_url_found_among_fetched_urls(store: Store) -> None:
    first = add_new(store, A, story(1))
    store.apply(
        duplicate_of(first.article_id), page_at(B, "daily"), doc_at(B, story(1)), fingerprint_of(story(1))
    )

    found = store.candidates_for_url("https://new.example/y.html", B)
    assert [(c.article_id, c.found_by) for c in found] == [(first.article_id, "canonical")]
    # An article found by URL is not repeated as found by canonical.
    assert [(c.found_by) for c in store.candidates_for_url(A, A)] == ["url"]
    assert store.candidates_for_url("https://nowhere.example/", "https://nowhere.example/") == []


def test_index_entries_and_candidates_by_keys_round_trip_fingerprints(store: Store) -> None:
    first = add_new(store, A, story(1))
    second = store.apply(
        version_of(first.article_id), page_at(A, minutes=9), doc_at(A, story(2)), fingerprint_of(story(2))
    )
    other = add_new(store, B, story(3), source="daily")

    entries = dict(store.index_entries())
    assert entries == {
        f"{first.article_id}:1": fingerprint_of(story(1)),
        f"{first.article_id}:2": fingerprint_of(story(2)),
        f"{other.article_id}:1": fingerprint_of(story(3)),
    }
    assert len(entries[f"{first.article_id}:1"].signature) == 128 * 4

    found = store.candidates_by_keys([second.index_key, f"{first.article_id}:1", "0" * 32 + ":1"])  # type: ignore[list-item]
    assert [(c.version, c.is_latest, c.found_by, c.fingerprint) for c in found] == [
        (2, True, "index", fingerprint_of(story(2))),
        (1, False, "index", fingerprint_of(story(1))),
    ]
    with pytest.raises(ValueError, match="article_id:version"):
        store.candidates_by_keys(["not-a-key"])


# --- conditional requests, failures ---


def test_a_stored_or_refused_page_keeps_its_validators_for_the_next_fetch(store: Store) -> None:
    def fetched(minutes: int, **headers: str):  # type: ignore[no-untyped-def]
        return replace(page_at(A, minutes=minutes), headers=headers)

    assert store.fetch_states.validators(A) is None
    first = store.apply(
        new(),
        fetched(0, etag='"abc"', **{"last-modified": "Wed, 01 May 2024 08:00:00 GMT"}),
        doc_at(A, story(1)),
        fingerprint_of(story(1)),
    )
    assert store.fetch_states.validators(A) == Validators('"abc"', "Wed, 01 May 2024 08:00:00 GMT")
    store.apply(
        unchanged(first.article_id), fetched(5, etag='"def"'), doc_at(A, story(1)), fingerprint_of(story(1))
    )
    assert store.fetch_states.validators(A) == Validators('"def"', None)
    store.apply(unchanged(first.article_id), fetched(10), doc_at(A, story(1)), fingerprint_of(story(1)))
    assert store.fetch_states.validators(A) is None
    store.record_rejection(fetched(15, etag='"ghi"'), "too-short", "3 words")
    assert store.fetch_states.validators(A) == Validators('"ghi"', None)


def test_validators_of_many_urls_at_once(store: Store) -> None:
    store.record_rejection(replace(page_at(A, minutes=0), headers={"etag": '"a1"'}), "too-short", "3 words")
    store.record_rejection(page_at(B, minutes=0), "too-short", "3 words")  # no validators
    listed = [A, B, "https://wire.example/never-seen.html", A] + [
        f"https://wire.example/{n}.html" for n in range(600)
    ]
    assert store.fetch_states.validators_many(listed) == {A: Validators('"a1"', None)}
    assert store.fetch_states.validators_many([]) == {}


def test_discovery_round_trip(store: Store) -> None:
    feed_url = "https://wire.example/rss.xml"
    assert store.fetch_states.discovery_links(feed_url) is None
    store.fetch_states.save_discovery(feed_url, Validators(etag='"v1"'), [A, A_PRINT])
    assert store.fetch_states.discovery_links(feed_url) == [A, A_PRINT]
    assert store.fetch_states.validators(feed_url) == Validators('"v1"')
    store.fetch_states.save_discovery(feed_url, Validators(etag='"v2"'), [])
    assert store.fetch_states.discovery_links(feed_url) == []
    assert store.fetch_states.validators(feed_url) == Validators('"v2"')


def test_failures_and_rejections_are_recorded(store: Store) -> None:
    store.failure_log.record(A, "wire", "crawl-7", "fetch", "HTTP 503")
    store.record_rejection(page_at(B, "daily", crawl_id="crawl-7"), "too-short", "12 words")

    assert store.feed_reader.stats()["failures"] == 2
    assert [
        (f["url"], f["stage"], f["reason"], f["detail"], f["crawl_id"]) for f in store.failure_log.latest()
    ] == [
        (B, "extract", "too-short", "12 words", "crawl-7"),
        (A, "fetch", "HTTP 503", "", "crawl-7"),
    ]


def test_stats_count_articles_versions_and_urls_by_relation(store: Store) -> None:
    first = add_new(store, A, story(1))
    store.apply(
        duplicate_of(first.article_id, "alternate"),
        page_at(A_PRINT),
        doc_at(A_PRINT, story(1)),
        fingerprint_of(story(1)),
    )
    store.apply(
        duplicate_of(first.article_id), page_at(B, "daily"), doc_at(B, story(1)), fingerprint_of(story(1))
    )
    store.apply(
        version_of(first.article_id), page_at(A, minutes=5), doc_at(A, story(2)), fingerprint_of(story(2))
    )

    store.record_rejection(page_at("https://wire.example/tag/council"), "no-article-text", "a listing")
    assert store.feed_reader.stats() == {
        "articles": 1,
        "versions": 2,
        "urls": 3,
        "failures": 1,
        "rejections": 1,
        "duplicates": 2,
        "urls_original": 1,
        "urls_alternate": 1,
        "urls_syndicated": 1,
        "urls_revision": 0,
        "pages_fetched": 0,
        "not_modified": 0,
        "fetch_errors": 0,
    }


def test_known_url_candidates_carry_what_was_last_seen_there(store: Store) -> None:
    first = add_new(store, A, story(1))
    store.apply(
        duplicate_of(first.article_id), page_at(B, "daily"), doc_at(B, story(1)), fingerprint_of(story(1))
    )
    store.apply(
        version_of(first.article_id), page_at(A, minutes=5), doc_at(A, story(2)), fingerprint_of(story(2))
    )

    def seen_at(url: str) -> set[tuple[str | None, int | None, str | None]]:
        return {
            (c.url_relation, c.url_version, c.url_text_hash)
            for c in store.candidates_for_url(url, url)
            if c.found_by == "url"
        }

    assert seen_at(B) == {("syndicated", 1, fingerprint_of(story(1)).text_hash)}
    assert seen_at(A) == {("original", 2, fingerprint_of(story(2)).text_hash)}


def test_crawl_counts_add_up_across_crawls(store: Store) -> None:
    store.add_crawl_counts({"pages_fetched": 7, "not_modified": 2, "fetch_errors": 1})
    store.add_crawl_counts({"pages_fetched": 3, "not_modified": 0, "fetch_errors": 0})
    stats = store.feed_reader.stats()
    assert (stats["pages_fetched"], stats["not_modified"], stats["fetch_errors"]) == (10, 2, 1)
    with pytest.raises(ValueError, match="unknown crawl counter"):
        store.add_crawl_counts({"pages": 1})


# --- schema and engine ---


def test_migrated_schema_matches_the_models(store: Store) -> None:
    with store.engine.connect() as connection:
        # The full-text search's own objects (migration 0015) are SQL of the migration, not models.
        differences = compare_metadata(
            MigrationContext.configure(connection, opts={"include_object": is_model_object}), Base.metadata
        )
    assert differences == []


def test_opening_twice_migrates_once(store: Store) -> None:
    add_new(store, A, story(1))
    reopened = Store.open(store.database_url)
    try:
        assert [r["url"] for r in reopened.feed_reader.versions(reopened.feed_reader.feed()[0]["id"])] == [A]
    finally:
        reopened.close()


def test_migrations_head_read_from_the_files_is_alembics_head() -> None:
    # The fast path of Store.open compares the database with this; a wrong head would skip
    # a new migration.
    from alembic.script import ScriptDirectory

    from newsdedup.store.engine import alembic_config, migrations_head

    assert ScriptDirectory.from_config(alembic_config()).get_heads() == [migrations_head()]


def test_a_database_behind_the_newest_migration_is_migrated_on_open(store: Store) -> None:
    from sqlalchemy import text

    from newsdedup.store.engine import migrations_head

    with store.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0004'"))
    reopened = Store.open(store.database_url)
    try:
        with reopened.engine.connect() as connection:
            assert (
                connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
                == migrations_head()
            )
    finally:
        reopened.close()


def test_a_database_left_at_the_archive_release_gains_the_body_shingles_column(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """0.1 with the archive (migration 0009 on 0005) left databases without ``body_shingles``:
    opening one migrates it so that pages are stored again."""
    from alembic import command
    from sqlalchemy import create_engine, inspect

    from newsdedup.store.engine import alembic_config

    url = f"sqlite:///{tmp_path / 'released.db'}"
    engine = create_engine(url)
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0009")
    assert "body_shingles" not in {c["name"] for c in inspect(engine).get_columns("versions")}
    engine.dispose()
    with Store.open(url) as opened:
        assert "body_shingles" in {c["name"] for c in inspect(opened.engine).get_columns("versions")}
        add_new(opened, A, story(1))
        assert len(opened.feed_reader.feed()) == 1


def test_sqlite_file_and_its_folder_are_created(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "nested" / "data" / "newsdedup.db"
    with Store.open(f"sqlite:///{path}") as opened:
        add_new(opened, A, story(1))
    assert path.exists()


def test_two_stores_on_one_sqlite_file_see_each_others_writes(sqlite_url: str) -> None:
    with Store.open(sqlite_url) as writer, Store.open(sqlite_url) as reader:
        first = add_new(writer, A, story(1))
        assert [r["id"] for r in reader.feed_reader.feed()] == [first.article_id]
        second = add_new(reader, B, story(2), source="daily")
        assert [r["id"] for r in writer.feed_reader.feed(after=first.seq or 0)] == [second.article_id]
        with writer.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_times_come_back_aware_in_utc(store: Store) -> None:
    first = add_new(store, A, story(1))
    [candidate] = store.candidates_for_url(A, A)
    assert candidate.article_id == first.article_id
    assert store.feed_reader.versions(first.article_id)[0]["fetched_at"] == T0.isoformat()


def test_not_modified_page_is_touched_without_a_new_seq(store: Store) -> None:
    add_new(store, A, story(1))
    assert store.touch(A) is True
    assert store.touch("https://never.example/seen.html") is False
    assert store.feed_reader.feed(after=1) == []


def test_ping_says_whether_the_database_answers(store: Store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert store.ping() is True
    unreachable = Store("postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=1")
    try:
        assert unreachable.ping() is False
    finally:
        unreachable.close()
