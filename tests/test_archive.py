"""The WARC archive end to end: crawls through the `newsdedup` command write it, warcio reads
it back, `newsdedup reprocess` rebuilds the same feed from it, the API serves a version's
raw page, `newsdedup archive prune` deletes old files."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from api_factories import live_api
from helpers import newsdedup, newsdedup_env, summary_of
from warcio.archiveiterator import ArchiveIterator

from newsdedup.config import Settings
from newsdedup.demo import DemoSites
from newsdedup.store import Store


def records(archive: Path) -> list[dict]:
    """Every record of every WARC file, read with plain warcio, oldest file first."""
    found = []
    for path in sorted(archive.glob("*.warc.gz")):
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream):
                found.append(
                    {
                        "type": record.rec_type,
                        "file": path.name,
                        "url": record.rec_headers.get_header("WARC-Target-URI"),
                        "source": record.rec_headers.get_header("Newsdedup-Source"),
                        "status": record.http_headers.get_statuscode() if record.http_headers else None,
                        "body": record.content_stream().read(),
                    }
                )
    return found


def feed(env: dict[str, str], database_url: str) -> list[dict]:
    out = newsdedup({**env, "NEWSDEDUP_DATABASE_URL": database_url}, "feed").stdout
    return [json.loads(line) for line in out.splitlines()]


def comparable(records_: list[dict]) -> list[tuple]:
    """A feed without what only names a store's rows (ids): articles in seq order, with their
    versions, URL groups, texts and sources."""
    return [
        (
            r["seq"],
            r["version"],
            r["canonical_url"],
            sorted(r["urls"]),
            r["title"],
            r["text"],
            r["authors"],
            r["published_at"],
            r["source"],
            r["sources"],
        )
        for r in records_
    ]


@pytest.fixture
def world(tmp_path: Path):
    with DemoSites(tmp_path) as sites:
        env = newsdedup_env()
        env.update(
            NEWSDEDUP_DATABASE_URL=f"sqlite:///{tmp_path / 'store.db'}",
            NEWSDEDUP_CONFIG=str(sites.sources_file),
            NEWSDEDUP_ARCHIVE_DIR=str(tmp_path / "archive"),
            NEWSDEDUP_ALLOW_PRIVATE_ADDRESSES="1",
        )
        yield sites, env, tmp_path


def served_body(sites: DemoSites, root: Path, url: str) -> bytes:
    """The bytes the loopback site serves at ``url`` right now."""
    for name, server in sites.servers.items():
        if url.startswith(server.base_url):
            return (root / "www" / name / urlsplit(url).path.lstrip("/")).read_bytes()
    raise AssertionError(f"{url} is on none of the sites")


def test_crawls_are_archived_and_reprocessing_gives_the_same_feed(world) -> None:
    sites, env, tmp_path = world
    archive = tmp_path / "archive"
    fetched = not_modified = 0
    seen = 0
    for round_number in (1, 2, 3):
        if round_number == 3:  # every page in full again: "unchanged" pages are archived too
            for server in sites.servers.values():
                server.conditional = False
        else:
            sites.publish(round_number)
        counts = summary_of(newsdedup(env, "crawl").stdout)
        fetched += counts["fetched"]
        not_modified += counts["not_modified"]
        new = records(archive)[seen:]
        seen += len(new)
        # Each round's responses are the bytes the sites served in that round, byte for byte.
        responses = [r for r in new if r["type"] == "response"]
        assert len(responses) == counts["fetched"], [r["url"] for r in responses]
        for record in responses:
            assert record["status"] == "200"
            assert record["body"] == served_body(sites, tmp_path, record["url"]), record["url"]
            assert record["source"] in sites.servers
        # 304 answers are revisit records (headers only).
        revisits = [r for r in new if r["type"] == "revisit"]
        assert len(revisits) == counts["not_modified"]
        assert all(r["status"] == "304" and r["body"] == b"" for r in revisits)

    everything = records(archive)
    assert sum(r["type"] == "response" for r in everything) == fetched
    assert sum(r["type"] == "revisit" for r in everything) == not_modified > 0
    assert {r["type"] for r in everything} == {"warcinfo", "response", "revisit"}

    # Every version knows where its page lies.
    with Store.open(env["NEWSDEDUP_DATABASE_URL"]) as store:
        crawled = store.feed_reader.feed()
        for record in crawled:
            for version in range(1, record["version"] + 1):
                assert store.feed_reader.page_location(record["id"], version) is not None

    # Reprocessing the archive into an empty store gives the same feed.
    target = f"sqlite:///{tmp_path / 'reprocessed.db'}"
    result = newsdedup(env, "reprocess", "--database-url", target)
    assert summary_of(result.stdout)["fetched"] == fetched
    assert comparable(feed(env, target)) == comparable(crawled)
    # ... whose versions point at the same archived records as the crawl's did.
    from newsdedup.archive.reader import read_record

    with Store.open(env["NEWSDEDUP_DATABASE_URL"]) as live, Store.open(target) as fresh:
        for old, new in zip(crawled, fresh.feed_reader.feed()):
            for version in range(1, old["version"] + 1):
                location = fresh.feed_reader.page_location(new["id"], version)
                assert location == live.feed_reader.page_location(old["id"], version)
                page_url = read_record(*location, directory=archive).url  # as fetched, tracking tags and all
                assert urlsplit(page_url).path in {urlsplit(url).path for url in new["urls"]}

    # Without --database-url: a new store beside the live one, named on the way out.
    result = newsdedup(env, "reprocess", "--source", "coastal-wire")
    new_store = result.stdout.strip().splitlines()[-1].removeprefix("store: ")
    assert Path(new_store.removeprefix("sqlite:///")).parent == tmp_path
    assert {r["source"] for r in feed(env, new_store)} == {"coastal-wire"}
    assert summary_of(result.stdout)["fetched"] == sum(
        1 for r in everything if r["type"] == "response" and r["source"] == "coastal-wire"
    )
    assert feed(env, env["NEWSDEDUP_DATABASE_URL"]) == crawled  # the live store is untouched


def test_the_api_serves_a_versions_raw_page_with_a_token_and_prune_deletes_old_files(world) -> None:
    sites, env, tmp_path = world
    sites.publish(1)
    newsdedup(env, "crawl")
    sites.publish(2)
    newsdedup(env, "crawl")
    database_url = env["NEWSDEDUP_DATABASE_URL"]
    settings = Settings(
        database_url=database_url,
        config=Path(env["NEWSDEDUP_CONFIG"]),
        api_token="s3cret",
        archive_dir=tmp_path / "archive",
    )
    with Store.open(database_url) as store:
        updated = next(r for r in store.feed_reader.feed() if r["version"] == 2)
        url_v1, url_v2 = (v["url"] for v in store.feed_reader.versions(updated["id"]))
        with (
            live_api(settings, store) as running,
            httpx.Client(base_url=running.base_url, timeout=30) as http,
        ):
            path = f"/v1/articles/{updated['id']}/versions/2/page"
            assert http.get(path).status_code == 401
            assert http.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
            auth = {"Authorization": "Bearer s3cret"}
            page = http.get(path, headers=auth)
            assert page.status_code == 200, page.text
            assert page.content == served_body(sites, tmp_path, url_v2)  # round 2's page
            assert page.headers["content-type"].startswith("text/html")
            assert page.headers["content-security-policy"].split(";")[0] == "sandbox"
            first = http.get(f"/v1/articles/{updated['id']}/versions/1/page", headers=auth)
            assert first.status_code == 200 and b"<html" in first.content.lower()
            assert urlsplit(first.headers["x-newsdedup-final-url"]).path == urlsplit(url_v1).path
            missing = http.get(f"/v1/articles/{updated['id']}/versions/9/page", headers=auth)
            assert missing.status_code == 404 and missing.json()["error"] == "not_found"

            # Prune: files last written long ago go, and their versions say so.
            files = sorted((tmp_path / "archive").glob("*.warc.gz"))
            assert len(files) == 2
            old = time.time() - 10 * 86_400
            os.utime(files[0], (old, old))
            dry = newsdedup(env, "archive", "prune", "--older-than", "5", "--dry-run")
            assert "would delete 1 WARC files" in dry.stdout and files[0].exists()
            pruned = newsdedup(env, "archive", "prune", "--older-than", "5")
            assert "deleted 1 WARC files" in pruned.stdout and files[0].name in pruned.stdout
            assert not files[0].exists() and files[1].exists()
            gone = http.get(f"/v1/articles/{updated['id']}/versions/1/page", headers=auth)
            assert gone.status_code == 404 and "no archived page" in gone.json()["message"]
            assert http.get(path, headers=auth).status_code == 200  # round 2's file stays

    no_token = Settings(database_url=database_url, config=Path(env["NEWSDEDUP_CONFIG"]))
    with live_api(no_token) as running, httpx.Client(base_url=running.base_url, timeout=30) as http:
        refused = http.get(
            f"/v1/articles/{updated['id']}/versions/2/page", headers={"Authorization": "Bearer x"}
        )
        assert refused.status_code == 403


def test_archive_off_writes_nothing(world) -> None:
    sites, env, tmp_path = world
    sites.publish(1)
    counts = summary_of(newsdedup({**env, "NEWSDEDUP_ARCHIVE": "0"}, "crawl").stdout)
    assert counts["created"] == 5
    assert not (tmp_path / "archive").exists() or not list((tmp_path / "archive").iterdir())


def test_with_two_extraction_processes_the_archives_thread_builds_every_record(world) -> None:
    """On two cores (two extraction processes, the default there) a record built in the pool
    costs more CPU in all than one built by the archive's thread (newsdedup/crawl.py)."""
    sites, env, tmp_path = world
    sites.publish(1)
    result = newsdedup({**env, "NEWSDEDUP_EXTRACT_PROCESSES": "2"}, "-v", "crawl")
    counts = summary_of(result.stdout)
    assert counts["created"] == 5
    archived = re.search(r"archived (\d+) records \((\d+) built by the extraction processes", result.stderr)
    assert archived, result.stderr[-2000:]
    written, built_in_pool = map(int, archived.groups())
    assert built_in_pool == 0
    responses = [r for r in records(tmp_path / "archive") if r["type"] == "response"]
    assert written >= len(responses) == counts["fetched"]
