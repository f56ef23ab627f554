"""WARC records built elsewhere (an embedded crawl's extraction processes) and appended by the
archive writer: the same records as those the writer builds, each naming its own file's
warcinfo record, and built by the writer itself when they do not come back."""

from __future__ import annotations

import gzip
import hashlib
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from newsdedup.archive.reader import ArchiveScan, bounded_records
from newsdedup.archive.records import FetchedResponse
from newsdedup.archive.writer import Prebuild, RecordJob, WarcArchiveWriter, record_member
from newsdedup.dedup import DedupParams
from newsdedup.pipeline.extraction_pool import ExtractionPool

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def response(i: int) -> FetchedResponse:
    return FetchedResponse(
        url=f"https://x.example/listed/{i}",
        final_url=f"https://x.example/{i}",
        status=200,
        headers=[("Content-Type", "text/html; charset=utf-8"), ("Content-Encoding", "gzip")],
        # Hex digests: 16 KB that compress to about half (the files rotate at 64 KB).
        body=f"<html><title>Seite {i}</title><p>Grüße ".encode()
        + b" ".join(hashlib.sha256(b"%d.%d" % (i, n)).hexdigest().encode() for n in range(250)),
        fetched_at=START + timedelta(seconds=i),
        source="x",
        crawl_id="c1",
        hints={"title": f"Seite {i}"},
        ip_address="127.0.0.1",
    )


def built_now(job: RecordJob) -> Future[bytes]:
    future: Future[bytes] = Future()
    future.set_result(record_member(job))
    return future


def archive_with(folder: Path, builders: list[Prebuild]) -> WarcArchiveWriter:
    """A writer into ``folder`` that hands response(i) to ``builders[i]``, every location
    resolved, closed."""
    with WarcArchiveWriter(folder, max_file_bytes=1 << 30) as writer:
        locations = []
        for i, builder in enumerate(builders):
            writer.build_records_with(builder)
            locations.append(writer.add(response(i)))
        assert all(writer.resolve(location) is not None for location in locations)
    return writer


def read_back(folder: Path) -> list[tuple]:
    return [
        (r.url, r.final_url, r.status, r.headers, r.body, r.fetched_at, r.source, r.crawl_id, r.hints)
        for r in ArchiveScan(folder)
    ]


def warcinfo_links(folder: Path) -> list[tuple[str, str | None, str | None]]:
    """(file, its warcinfo record's id, the id a response record names) per response record;
    every digest checked on the way."""
    found = []
    for path in sorted(folder.iterdir()):
        info_id = None
        with path.open("rb") as stream:
            for record in bounded_records(stream, check_digests=True):
                if record.rec_type == "warcinfo":
                    info_id = record.rec_headers.get_header("WARC-Record-ID")
                else:
                    record.content_stream().read()
                    found.append((path.name, info_id, record.rec_headers.get_header("WARC-Warcinfo-ID")))
    return found


def test_records_built_elsewhere_read_back_as_the_writers_own(tmp_path: Path) -> None:
    own, elsewhere = tmp_path / "own", tmp_path / "elsewhere"
    with WarcArchiveWriter(own, max_file_bytes=1 << 30) as writer:
        for i in range(5):
            writer.add(response(i))
    with WarcArchiveWriter(elsewhere, max_file_bytes=1 << 30) as writer:
        writer.build_records_with(built_now)
        locations = [writer.add(response(i)) for i in range(5)]
        resolved = [writer.resolve(location) for location in locations]
    assert writer.records_prebuilt == 5
    assert read_back(elsewhere) == read_back(own)
    links = warcinfo_links(elsewhere)
    assert len(links) == 5 and all(info is not None and info == link for _, info, link in links)
    # Each location names its record: one gzip member from its offset.
    for i, location in enumerate(resolved):
        assert location is not None and location.written
        with (elsewhere / location.file).open("rb") as stream:
            stream.seek(location.offset)
            record = next(iter(ArchiveIterator(stream)))
            assert record.rec_headers.get_header("WARC-Record-ID") == location.record_id
            assert record.content_stream().read() == response(i).body


def test_a_record_built_for_a_file_that_rotated_meanwhile_is_built_again(tmp_path: Path) -> None:
    # Every record is handed over before the writer has written any: all are built for the
    # first file, and those that land in later ones are built by the writer itself.
    pending: list[tuple[Future[bytes], RecordJob]] = []

    def later(job: RecordJob) -> Future[bytes]:
        future: Future[bytes] = Future()
        pending.append((future, job))
        return future

    with WarcArchiveWriter(tmp_path, max_file_bytes=64 * 1024) as writer:
        writer.build_records_with(later)
        for i in range(12):
            writer.add(response(i))
        for future, job in pending:
            future.set_result(record_member(job))
    links = warcinfo_links(tmp_path)
    assert len({name for name, _, _ in links}) > 1  # rotated
    assert len(links) == 12 and all(info is not None and info == link for _, info, link in links)
    assert 0 < writer.records_prebuilt < 12
    assert [r[4] for r in read_back(tmp_path)] == [response(i).body for i in range(12)]


def test_a_record_that_does_not_come_back_is_built_by_the_writer(tmp_path: Path) -> None:
    def failing(job: RecordJob) -> Future[bytes]:
        future: Future[bytes] = Future()
        future.set_exception(TimeoutError("the page's time limit"))
        return future

    def refused(job: RecordJob) -> Future[bytes]:
        raise RuntimeError("the pool is closed")

    writer = archive_with(tmp_path, [failing, refused])
    assert writer.records_written == 2 and writer.records_prebuilt == 0 and writer.errors == 0
    assert [r[4] for r in read_back(tmp_path)] == [response(0).body, response(1).body]


def test_a_prebuilt_record_is_one_gzip_member() -> None:
    job = RecordJob(response(1), "<urn:uuid:1>", "<urn:uuid:2>", 1)
    member = record_member(job)
    text = gzip.decompress(member)
    assert text.startswith(b"WARC/1.1\r\n") and text.endswith(b"\r\n\r\n")
    assert b"WARC-Warcinfo-ID: <urn:uuid:2>\r\n" in text and b"WARC-Record-ID: <urn:uuid:1>\r\n" in text


def test_a_record_the_builder_declines_is_built_by_the_writer_without_an_error(tmp_path: Path) -> None:
    # The extraction pool declines records while its processes are starting (the crawl must not
    # wait for them); the writer's thread builds those itself.
    writer = archive_with(tmp_path, [lambda job: None, built_now])
    assert writer.records_written == 2 and writer.records_prebuilt == 1 and writer.errors == 0
    assert [r[4] for r in read_back(tmp_path)] == [response(0).body, response(1).body]


def test_a_record_built_in_the_extraction_pool_is_the_one_built_here() -> None:
    """With three extraction processes or more, an embedded crawl has them build its WARC
    records (newsdedup/crawl.py): the bytes must be those the archive's thread would write."""
    job = RecordJob(response(1), "<urn:uuid:1>", "<urn:uuid:2>", 1)
    pool = ExtractionPool(1, 20, DedupParams())
    try:
        pool.start()
        pool._wait_started()  # up now: a pool still starting declines the record
        future = pool.build_record(job)
        assert future is not None
        assert future.result(timeout=60) == record_member(job)
    finally:
        pool.close()
