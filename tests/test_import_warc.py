"""`newsdedup import-warc` on WARC files written here (CC-NEWS layout: request, response and
metadata records, gzip per record), with records it must skip and count; and the archive
writer's rotation and fetch-order merge."""

from __future__ import annotations

import gzip
import io
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from helpers import newsdedup, newsdedup_env, summary_of
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from newsdedup.archive.reader import ArchiveScan
from newsdedup.archive.records import FetchedResponse
from newsdedup.archive.writer import WarcArchiveWriter

PAGES = Path(__file__).parent / "pages"
ARTICLES = ["news_jsonld.html", "news_zh.html", "byline_staff.html", "no_structured_data.html"]


def _response(
    writer: WARCWriter,
    url: str,
    body: bytes,
    content_type: str = "text/html; charset=utf-8",
    status: str = "200 OK",
    extra: dict[str, str] | None = None,
) -> None:
    http = StatusAndHeaders(
        status, [("Content-Type", content_type), ("Content-Length", str(len(body)))], protocol="HTTP/1.1"
    )
    record = writer.create_warc_record(
        url,
        "response",
        payload=io.BytesIO(body),
        length=len(body),
        http_headers=http,
        warc_headers_dict=extra or {},
    )
    writer.write_record(record)


def _request(writer: WARCWriter, url: str) -> None:
    http = StatusAndHeaders(f"GET {urlpath(url)} HTTP/1.1", [("Host", "news.example")], is_http_request=True)
    writer.write_record(writer.create_warc_record(url, "request", http_headers=http))


def urlpath(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def build_warcs(tmp_path: Path) -> tuple[Path, Path, list[str]]:
    """A CC-NEWS-like file (every kind of record to skip in it) and a second file cut off
    in the middle of its last record."""
    first = tmp_path / "CC-NEWS-20261201000000-00001.warc.gz"
    urls = []
    with open(first, "wb") as out:
        writer = WARCWriter(out, gzip=True, warc_version="1.1")
        writer.write_record(writer.create_warcinfo_record(first.name, {"software": "test"}))
        for i, name in enumerate(ARTICLES):
            url = f"https://news.example/2026/12/{i}-{name}"
            urls.append(url)
            _request(writer, url)
            _response(writer, url, (PAGES / name).read_bytes())
        _response(writer, "https://news.example/logo.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "image/png")
        _response(writer, "https://news.example/report.pdf", b"%PDF-1.4 ...", "application/pdf")
        _response(writer, "https://news.example/gone.html", b"<html>gone</html>", status="404 Not Found")
        body = (PAGES / "short_brief.html").read_bytes()
        _response(
            writer,
            "https://news.example/cut.html",
            body[: len(body) // 2],
            extra={"WARC-Truncated": "length"},
        )
        writer.write_record(
            writer.create_warc_record(
                "https://news.example/2026/12/0.html",
                "metadata",
                payload=io.BytesIO(b"fetchTimeMs: 12\r\n"),
                length=17,
                warc_content_type="application/warc-fields",
            )
        )
    second = tmp_path / "CC-NEWS-20261201000000-00002.warc.gz"
    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=True, warc_version="1.1")
    url = "https://news.example/2026/12/syndicated.html"
    urls.append(url)
    _response(writer, url, (PAGES / "syndicated_copy.html").read_bytes())
    whole = len(buffer.getvalue())
    _response(
        writer, "https://news.example/2026/12/lost.html", (PAGES / "news_jsonld_new_chrome.html").read_bytes()
    )
    second.write_bytes(buffer.getvalue()[: whole + (len(buffer.getvalue()) - whole) // 2])
    return first, second, urls


def test_import_warc_stores_the_html_responses_and_counts_the_rest(tmp_path: Path) -> None:
    first, second, urls = build_warcs(tmp_path)
    env = newsdedup_env()
    env.update(
        NEWSDEDUP_DATABASE_URL=f"sqlite:///{tmp_path / 'store.db'}", NEWSDEDUP_ARCHIVE_DIR=str(tmp_path / "a")
    )
    result = newsdedup(
        env, "import-warc", str(first), str(second), "--source", "cc-news", check=False, timeout=240
    )
    print(result.stdout, result.stderr[-4000:])
    assert result.returncode == 0
    counts = summary_of(result.stdout)
    assert counts["fetched"] == len(urls) == 5
    assert counts["created"] + counts["duplicates"] + counts["updated"] + counts["rejected"] == 5
    assert counts["errors"] == 0
    skipped = result.stdout.strip().splitlines()[-1]
    for part in (
        "2 not HTML",
        "2 truncated",
        "1 HTTP 404",
        "4 request records",
        "1 metadata records",
        "1 warcinfo records",
    ):
        assert part in skipped, skipped

    out = newsdedup(env, "feed", check=False)
    records = [json.loads(line) for line in out.stdout.splitlines()]
    assert records and all(r["sources"] == ["cc-news"] for r in records)
    stored = {url for r in records for url in r["urls"]}
    assert stored <= set(urls) and len(stored) == 5 - counts["rejected"]

    # Each version points at its record in the imported file.
    from newsdedup.archive.reader import read_record
    from newsdedup.store import Store

    with Store.open(env["NEWSDEDUP_DATABASE_URL"]) as store:
        file, offset = store.feed_reader.page_location(records[0]["id"], 1)
    assert Path(file) == first.resolve() or Path(file) == second.resolve()
    assert read_record(file, offset).final_url in records[0]["urls"]


def test_an_uncompressed_warc_file_imports_too(tmp_path: Path) -> None:
    first, _, _ = build_warcs(tmp_path)
    plain = tmp_path / "plain.warc"
    plain.write_bytes(gzip.decompress(first.read_bytes()))  # every member, concatenated
    env = newsdedup_env()
    env.update(NEWSDEDUP_DATABASE_URL=f"sqlite:///{tmp_path / 'store.db'}")
    result = newsdedup(env, "import-warc", str(plain), "--source", "plain", check=False, timeout=240)
    print(result.stdout, result.stderr[-4000:])
    assert result.returncode == 0 and summary_of(result.stdout)["fetched"] == 4


def test_the_writer_rotates_files_and_the_scan_merges_them_in_fetch_order(tmp_path: Path) -> None:
    start = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    body = (PAGES / "news_jsonld.html").read_bytes() * 40  # ≈ incompressible enough to fill files
    body = os.urandom(40_000) + body
    a, b = tmp_path / "a", tmp_path / "b"

    def response(i: int, source: str) -> FetchedResponse:
        return FetchedResponse(
            url=f"https://x.example/{source}/{i}",
            final_url=f"https://x.example/{source}/{i}",
            status=200,
            headers=[("Content-Type", "text/html")],
            body=body + str(i).encode(),
            fetched_at=start + timedelta(seconds=i),
            source=source,
        )

    # Two "processes" writing at the same time, interleaved in time.
    with (
        WarcArchiveWriter(a, max_file_bytes=64 * 1024) as one,
        WarcArchiveWriter(b, max_file_bytes=64 * 1024) as two,
    ):
        locations = [one.add(response(i, "one")) if i % 2 else two.add(response(i, "two")) for i in range(12)]
        resolved = [(one if i % 2 else two).resolve(loc) for i, loc in enumerate(locations)]
    assert all(loc is not None and loc.written for loc in resolved)
    assert len(list(a.iterdir())) > 1  # rotated
    for path in b.iterdir():
        path.rename(a / path.name)
    scan = ArchiveScan(a)
    read = list(scan)
    assert [r.fetched_at for r in read] == [start + timedelta(seconds=i) for i in range(12)]
    assert [r.body for r in read] == [body + str(i).encode() for i in range(12)]
    assert {r.location.file for r in read} == {path.name for path in a.iterdir()}
    assert [r.source for r in ArchiveScan(a, sources=frozenset({"one"}))] == ["one"] * 6
    assert len(list(ArchiveScan(a, since=start + timedelta(seconds=10)))) == 2

    # A file cut off mid-record (a killed crawl): what precedes stands, the rest is counted.
    last = sorted(a.iterdir())[-1]
    last.write_bytes(last.read_bytes()[:-100])
    scan = ArchiveScan(a)
    assert len(list(scan)) == 11 and scan.counts.skipped["unreadable"] == 1
