"""import-warc and the raw-page route against hostile WARC files and hosts: reads are bounded,
one record's failure is counted with its reason and the rest goes on, every fetch obeys the
address policy, and the raw-page route serves only the version's own record, from inside the
archive folder, in a sandbox."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from api_factories import add_article, live_api, write_sources
from sqlalchemy import text
from warc_fixtures import ARTICLE, article_record, file_server, payload_digest, response_record

from newsdedup.archive.reader import ReadCounts, read_html_responses, read_record
from newsdedup.archive.remote import RemoteRefused
from newsdedup.config import Settings
from newsdedup.siteserver import SiteServer
from newsdedup.store import Store

MAX_BODY = 200_000


def read(path: Path | str, allow_private: bool = False) -> tuple[list[str], ReadCounts]:
    counts = ReadCounts()
    urls = [
        r.final_url
        for r in read_html_responses(str(path), "imported", MAX_BODY, counts, allow_private=allow_private)
    ]
    return urls, counts


def story(n: int) -> str:
    return f"https://news.example/2026/12/story-{n}.html"


def warc(tmp_path: Path, name: str, *records: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(b"".join(records))
    return path


def test_a_small_gzip_body_that_inflates_past_the_limit_is_skipped_unread(tmp_path: Path) -> None:
    bomb = gzip.compress(b"<html>" + b" " * 30_000_000)  # 30 MB from about 30 kB
    path = warc(
        tmp_path,
        "bomb.warc.gz",
        response_record(story(0), bomb, {"Content-Encoding": "gzip"}),
        article_record(1),
    )
    urls, counts = read(path)
    assert urls == [story(1)]
    assert counts.skipped["too large"] == 1


def test_a_brotli_body_does_not_end_the_import(tmp_path: Path) -> None:
    brotli = pytest.importorskip("brotli")
    path = warc(
        tmp_path,
        "br.warc.gz",
        response_record(story(0), brotli.compress(ARTICLE), {"Content-Encoding": "br"}),
        article_record(1),
    )
    urls, counts = read(path)
    assert story(1) in urls
    assert len(urls) + counts.total_skipped == 2  # the br record is read or counted, never a crash


def test_a_truncated_record_without_target_uri_is_counted(tmp_path: Path) -> None:
    path = warc(
        tmp_path,
        "no-uri.warc.gz",
        response_record(None, ARTICLE, declared_length=len(ARTICLE) + 5000),
        article_record(1),
    )
    urls, counts = read(path)
    assert urls == [story(1)]
    assert counts.total_skipped == 1, counts.line()


def test_one_bad_digest_skips_that_record_only(tmp_path: Path) -> None:
    path = warc(
        tmp_path,
        "digest.warc.gz",
        article_record(1),
        response_record(story(2), ARTICLE, warc_headers={"WARC-Payload-Digest": payload_digest(b"other")}),
        article_record(3),
        article_record(4),
    )
    urls, counts = read(path)
    assert urls == [story(1), story(3), story(4)]
    assert dict(counts.skipped) == {"bad digest": 1}


def test_an_endless_header_line_ends_its_file_and_is_counted(tmp_path: Path) -> None:
    long_line = warc(
        tmp_path,
        "long.warc.gz",
        article_record(1),
        response_record(story(2), ARTICLE, {"X-Padding": "a" * (2 * 1024 * 1024)}),
        article_record(3),
    )
    urls, counts = read(long_line)
    assert urls == [story(1)]
    assert counts.skipped["unreadable"] == 1
    assert "unreadable" in counts.line()


def test_a_foreign_files_newsdedup_fields_are_ignored(tmp_path: Path) -> None:
    path = warc(
        tmp_path,
        "forged.warc.gz",
        response_record(
            story(1),
            ARTICLE,
            warc_headers={
                "Newsdedup-Request-URI": "http://169.254.169.254/latest",
                "Newsdedup-Crawl-ID": "forged",
                "Newsdedup-Hints": json.dumps({"title": "Forged title"}),
                "Newsdedup-Source": "someone-else",
            },
        ),
    )
    counts = ReadCounts()
    (response,) = read_html_responses(str(path), "imported", MAX_BODY, counts)
    assert response.url == response.final_url == story(1)
    assert response.crawl_id == "" and response.hints == {} and response.source == "imported"


def test_a_warc_url_on_loopback_is_refused_unless_private_addresses_are_allowed(tmp_path: Path) -> None:
    warc(tmp_path, "f.warc.gz", article_record(1))
    with file_server(tmp_path, host="127.0.0.5") as base:
        urls, counts = read(f"{base}/f.warc.gz")
        assert urls == [] and counts.skipped["files not readable"] == 1
        urls, counts = read(f"{base}/f.warc.gz", allow_private=True)
        assert urls == [story(1)]


def test_a_warc_url_that_redirects_is_not_followed(tmp_path: Path) -> None:
    warc(tmp_path, "f.warc.gz", article_record(1))
    with SiteServer(tmp_path, routes={"/moved.warc.gz": {"redirect": "{base_url}/f.warc.gz"}}) as site:
        urls, counts = read(site.url("moved.warc.gz"), allow_private=True)
    assert urls == [] and counts.skipped["files not readable"] == 1


def test_import_warc_says_why_a_loopback_url_was_not_read(tmp_path: Path) -> None:
    warc(tmp_path, "f.warc.gz", article_record(1))
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSDEDUP_")}
    env["NEWSDEDUP_DATABASE_URL"] = f"sqlite:///{tmp_path / 'store.db'}"
    with file_server(tmp_path, host="127.0.0.5") as base:
        result = subprocess.run(
            [sys.executable, "-m", "newsdedup", "import-warc", f"{base}/f.warc.gz", "--source", "cc"],
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "1 files not readable" in result.stdout
    assert "loopback" in result.stderr and "refused" in result.stderr


def test_a_ranged_read_needs_a_206(tmp_path: Path) -> None:
    first, second = article_record(1), article_record(2)
    warc(tmp_path, "f.warc.gz", first, second)
    with file_server(tmp_path, honour_range=False) as base:
        with pytest.raises(RemoteRefused, match="206"):
            read_record(f"{base}/f.warc.gz", len(first), allow_private=True)
    with file_server(tmp_path) as base:
        record = read_record(f"{base}/f.warc.gz", len(first), allow_private=True)
        assert record is not None and record.final_url == story(2)
        with pytest.raises(RemoteRefused, match="loopback"):
            read_record(f"{base}/f.warc.gz", len(first))


# --- the raw-page route ---


@pytest.fixture
def stored(sqlite_url, tmp_path):
    """A store with one article, an archive folder holding its page's record (and another
    page's), and a file outside the folder; yields (store, settings, article id, paths)."""
    store = Store.open(sqlite_url)
    applied = add_article(store)
    version_url = store.feed_reader.version_url(applied.article_id, 1)
    archive = tmp_path / "archive"
    archive.mkdir()
    own = response_record(version_url, ARTICLE)
    (archive / "pages.warc.gz").write_bytes(own + article_record(9))
    (tmp_path / "outside.warc.gz").write_bytes(own)
    settings = Settings(
        database_url=sqlite_url, config=write_sources(tmp_path), api_token="s3cret", archive_dir=archive
    )
    yield store, settings, applied.article_id, {"own": (archive / "pages.warc.gz", 0, len(own))}
    store.close()


def locate(store: Store, article_id: str, file: str, offset: int) -> None:
    with store.engine.begin() as connection:
        connection.execute(
            text("UPDATE versions SET warc_file = :f, warc_offset = :o WHERE article_id = :a"),
            {"f": file, "o": offset, "a": article_id},
        )


def test_the_raw_page_is_served_in_a_sandbox_and_only_for_its_own_record(stored) -> None:
    store, settings, article_id, paths = stored
    _, _, own_length = paths["own"]
    auth = {"Authorization": "Bearer s3cret"}
    page = f"/v1/articles/{article_id}/versions/1/page"
    with live_api(settings, store) as running, httpx.Client(base_url=running.base_url, headers=auth) as http:
        locate(store, article_id, "pages.warc.gz", 0)
        served = http.get(page)
        assert served.status_code == 200, served.text
        assert served.content == ARTICLE
        policy = [p.strip() for p in served.headers["content-security-policy"].split(";")]
        assert policy[0] == "sandbox" and "default-src 'none'" in policy
        assert not any("allow-scripts" in p for p in policy)
        assert served.headers["referrer-policy"] == "no-referrer"
        assert served.headers["content-disposition"].startswith("inline; filename=")

        locate(store, article_id, "pages.warc.gz", own_length)  # another page's record
        wrong = http.get(page)
        assert wrong.status_code == 404 and "not this version's page" in wrong.json()["message"]

        for outside in ("../outside.warc.gz", str(settings.archive_dir.parent / "outside.warc.gz")):
            locate(store, article_id, outside, 0)
            refused = http.get(page)
            assert refused.status_code == 404, outside
            assert "outside the archive folder" in refused.json()["message"]


def test_the_raw_page_of_a_warc_url_obeys_the_address_policy_and_range(stored, tmp_path) -> None:
    store, settings, article_id, _ = stored
    auth = {"Authorization": "Bearer s3cret"}
    page = f"/v1/articles/{article_id}/versions/1/page"
    folder = settings.archive_dir
    with file_server(folder) as base:
        locate(store, article_id, f"{base}/pages.warc.gz", 0)
        with live_api(settings, store) as running:
            assert httpx.get(running.base_url + page, headers=auth).status_code == 404  # loopback
        opted_in = settings.model_copy(update={"allow_private_addresses": True})
        with live_api(opted_in, store) as running:
            assert httpx.get(running.base_url + page, headers=auth).content == ARTICLE
    with file_server(folder, honour_range=False) as base:
        locate(store, article_id, f"{base}/pages.warc.gz", 0)
        opted_in = settings.model_copy(update={"allow_private_addresses": True})
        with live_api(opted_in, store) as running:
            assert httpx.get(running.base_url + page, headers=auth).status_code == 404  # a 200, not 206
