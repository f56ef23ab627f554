"""Writing fetched responses to rotating WARC files, in a thread of its own.

The crawler's reactor thread only queues a response (``add``) and gets back a pending
``ArchiveLocation`` naming the record. The thread builds the record with warcio, compresses it
(zlib releases the GIL, so this overlaps the crawl) and appends it to the current file. Whoever
stores the page asks ``resolve`` for the file and offset, which by then are nearly always
known: the page spent longer being extracted than its record being written.

An embedded crawl with extraction processes has them build the pages' records too
(``build_records_with``; ``record_member`` there): building and compressing a record (digests,
deflate: ≈ 1.2 ms of a 300 KB page) is CPU the crawling process no longer spends, and the
thread only appends the bytes, in the order the responses were queued, as before. A record is
built for the file it is expected in (its ``WARC-Warcinfo-ID``); one that comes back for
another (the file rotated meanwhile), or does not come back, is built by the thread as before.

Files are ``newsdedup-<UTC start>-<host>-<pid>-<n>.warc.gz``: unique across processes and
hosts, in start order by name. A new file starts when the current one passes
``max_file_bytes``; each starts with a ``warcinfo`` record. A record is flushed to the file as
soon as it is written (readers such as the API see it at once), never fsynced.

A record that cannot be written (disk full, a record warcio refuses) is logged and counted; its
page goes on unarchived (``resolve`` returns None) and the crawl goes on.
"""

from __future__ import annotations

import io
import logging
import os
import queue
import re
import socket
import threading
import time
import uuid
import zlib
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import BinaryIO

from warcio.warcwriter import WARCWriter

from newsdedup.archive.records import WARC_VERSION, FetchedResponse, not_modified_record, response_record
from newsdedup.fetched.page import ArchiveLocation, Page

log = logging.getLogger(__name__)

FILE_PREFIX = "newsdedup-"
FILE_SUFFIX = ".warc.gz"
# Each record's gzip member is compressed with ISA-L (python-isal), level 1: on the 258 Fundus
# pages 0.6 ms per page for 22.1 % of the bytes, where zlib takes 3.5 ms at level 3 (21.1 %)
# and warcio's own level 9 over 10 ms (bench/README.md, "archive"). CPU spent here is CPU the
# extraction does not get. Without isal (no wheel for the platform), zlib at level 3.
_deflate: ModuleType
try:
    from isal import isal_zlib as _deflate

    GZIP_LEVEL = 1
except ImportError:  # pragma: no cover - isal is a dependency; this keeps odd platforms working
    _deflate = zlib
    GZIP_LEVEL = 3
# Responses waiting for the thread at most; the crawl then waits (backpressure on a slow disk).
QUEUE_RECORDS = 64
# How long the thread waits for a record being built elsewhere before it builds it itself: past
# the extraction processes' page time limit, which ends every task of theirs.
PREBUILT_WAIT_SECONDS = 120.0
_UNSAFE = re.compile(r"[^A-Za-z0-9.-]+")


class _GzipMember:
    """A file-like object warcio writes one record into: one gzip member, closed on flush()
    (warcio flushes once, at the end of each record)."""

    def __init__(self, out: BinaryIO, level: int) -> None:
        self.out = out
        self.compressor = _deflate.compressobj(level, zlib.DEFLATED, zlib.MAX_WBITS + 16)

    def write(self, data: bytes) -> int:
        self.out.write(self.compressor.compress(data))
        return len(data)

    def flush(self) -> None:
        self.out.write(self.compressor.flush())
        self.out.flush()


class _MemberWriter(WARCWriter):
    """warcio's writer, each record one gzip member at our level (warcio's own gzip uses 9)."""

    def __init__(self, level: int) -> None:
        super().__init__(None, gzip=False, warc_version=WARC_VERSION)
        self.level = level

    def write_to(self, out: BinaryIO, record: object) -> None:
        self.out = _GzipMember(out, self.level)
        self.write_record(record)


@dataclass(frozen=True)
class RecordJob:
    """A page's response record to build elsewhere (``record_member``), for the file whose
    warcinfo record is ``warcinfo_id``."""

    response: FetchedResponse
    record_id: str
    warcinfo_id: str
    gzip_level: int


def record_member(job: RecordJob) -> bytes:
    """The job's response record as the writer appends it: one gzip member (pure: an extraction
    process runs this)."""
    out = io.BytesIO()
    builder = _MemberWriter(job.gzip_level)
    builder.write_to(out, response_record(builder, job.response, job.record_id, job.warcinfo_id))
    return out.getvalue()


# Schedules ``record_member`` of a job elsewhere (ExtractionPool.build_record), or declines it
# (None: the writer's thread builds the record, as it does without one).
Prebuild = Callable[[RecordJob], "Future[bytes] | None"]
# What the thread is given per response: the record's builder, the response, its record id,
# whether someone will ask for its location, and the record being built elsewhere with the
# warcinfo id it is built for (or None).
_Item = tuple[Callable[..., object], FetchedResponse, str, bool, "tuple[Future[bytes], str] | None"]


def file_name(started: datetime, serial: int) -> str:
    host = _UNSAFE.sub("_", socket.gethostname()) or "host"
    stamp = started.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return f"{FILE_PREFIX}{stamp}-{host}-{os.getpid()}-{serial:05d}{FILE_SUFFIX}"


def new_record_id() -> str:
    return f"<urn:uuid:{uuid.uuid4()}>"


class WarcArchiveWriter:
    """``add`` / ``add_not_modified`` from the crawl's thread, ``resolve`` from any thread,
    ``close`` once (writes what is queued, closes the file)."""

    def __init__(self, directory: Path, max_file_bytes: int, gzip_level: int = GZIP_LEVEL) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_file_bytes = max_file_bytes
        self.gzip_level = gzip_level
        self.records_written = 0
        self.records_prebuilt = 0  # of which built elsewhere (``build_records_with``)
        self.bytes_written = 0
        self.errors = 0
        self.files: list[str] = []
        self.cpu_seconds = 0.0  # the thread's own CPU time, known once closed
        self._builder = _MemberWriter(gzip_level)
        self._file: BinaryIO | None = None
        self._file_name = ""
        self._warcinfo_id: str | None = None
        # The warcinfo record id of the next file, known ahead, and the one a record queued now
        # is expected under (the current file's, or the next's once it is full): records built
        # elsewhere are built for it.
        self._next_warcinfo_id = new_record_id()
        self._expected_warcinfo_id = self._next_warcinfo_id
        self._prebuild: Prebuild | None = None
        self._queue: queue.Queue[_Item | None] = queue.Queue(maxsize=QUEUE_RECORDS)
        # Written locations by record id: one small entry per page of this crawl process.
        self._done: dict[str, ArchiveLocation | None] = {}
        self._condition = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="warc-writer", daemon=True)
        self._thread.start()

    # --- the crawl's side ---

    def build_records_with(self, prebuild: Prebuild) -> None:
        """From now on the pages' records (``add``) are built by ``prebuild`` (in extraction
        processes) and only appended here."""
        self._prebuild = prebuild

    def add(self, response: FetchedResponse) -> ArchiveLocation:
        """Queue a page's response; returns its pending location (see ``resolve``)."""
        return self._queue_record(response_record, response, wanted=True, prebuild=self._prebuild)

    def add_not_modified(self, response: FetchedResponse) -> None:
        """Queue a 304 answer (a revisit record); nobody waits for its location."""
        self._queue_record(not_modified_record, response, wanted=False)

    def _queue_record(
        self,
        build: Callable[..., object],
        response: FetchedResponse,
        wanted: bool,
        prebuild: Prebuild | None = None,
    ) -> ArchiveLocation:
        if self._closed:
            raise RuntimeError("the archive writer is closed")
        record_id = new_record_id()
        prebuilt = None
        if prebuild is not None:
            warcinfo_id = self._expected_warcinfo_id
            try:
                future = prebuild(RecordJob(response, record_id, warcinfo_id, self.gzip_level))
                prebuilt = (future, warcinfo_id) if future is not None else None
            except Exception:  # the pool refused it (closed, broken): the thread builds it
                log.exception("could not hand the archive record of %s over", response.final_url)
        self._queue.put((build, response, record_id, wanted, prebuilt))
        return ArchiveLocation(file="", offset=-1, record_id=record_id)

    def resolve(
        self, location: ArchiveLocation | None, timeout: float | None = 60.0
    ) -> ArchiveLocation | None:
        """The written location of a pending one (waits for the thread if needed); None when
        the record could not be written or did not come within ``timeout`` seconds."""
        if location is None or location.written:
            return location
        with self._condition:
            if not self._condition.wait_for(lambda: location.record_id in self._done, timeout):
                log.error("the archive record %s was not written within %ss", location.record_id, timeout)
                return None
            # Kept, not popped: a page whose store write is retried asks again.
            return self._done[location.record_id]

    def resolve_page(self, page: Page) -> Page:
        """``page`` with its archive location written out (or None), for the store."""
        if page.archive is None or page.archive.written:
            return page
        return replace(page, archive=self.resolve(page.archive))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._thread.join()

    def __enter__(self) -> WarcArchiveWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- the thread ---

    def _run(self) -> None:
        try:
            while (item := self._queue.get()) is not None:
                build, response, record_id, wanted, prebuilt = item
                location = self._write(build, response, record_id, prebuilt)
                if wanted:
                    with self._condition:
                        self._done[record_id] = location
                        self._condition.notify_all()
        finally:
            self._close_file()
            self.cpu_seconds = time.thread_time()

    def _write(
        self,
        build: Callable[..., object],
        response: FetchedResponse,
        record_id: str,
        prebuilt: tuple[Future[bytes], str] | None = None,
    ) -> ArchiveLocation | None:
        member = self._prebuilt(prebuilt) if prebuilt is not None else None
        try:
            out = self._current_file(response.fetched_at)
            offset = out.tell()
            if member is not None and prebuilt is not None and prebuilt[1] == self._warcinfo_id:
                out.write(member)
                out.flush()
                self.records_prebuilt += 1
            else:
                record = build(self._builder, response, record_id, self._warcinfo_id)
                self._builder.write_to(out, record)
        except Exception:
            self.errors += 1
            log.exception("could not archive %s", response.final_url)
            self._close_file()  # a half-written record: the next one starts a new file
            self._expected_warcinfo_id = self._next_warcinfo_id
            return None
        written = out.tell() - offset
        self.records_written += 1
        self.bytes_written += written
        self._expected_warcinfo_id = (
            self._next_warcinfo_id if written + offset >= self.max_file_bytes else self._warcinfo_id or ""
        )
        return ArchiveLocation(file=self._file_name, offset=offset, record_id=record_id)

    @staticmethod
    def _prebuilt(prebuilt: tuple[Future[bytes], str]) -> bytes | None:
        """The record built elsewhere, or None (then the thread builds it): its process timed
        out or died, or the pool was stopped."""
        try:
            return prebuilt[0].result(timeout=PREBUILT_WAIT_SECONDS)
        except Exception as exc:  # noqa: BLE001 - any failure there: built here instead
            log.info("building an archive record here: %s", exc.__class__.__name__)
            return None

    def _current_file(self, first_record_at: datetime) -> BinaryIO:
        """The file to append to; a new one is named after the fetch time of its first record
        (no record in it is older: the reader's merge relies on that)."""
        if self._file is not None and self._file.tell() < self.max_file_bytes:
            return self._file
        self._close_file()
        name = file_name(first_record_at, len(self.files) + 1)
        self._file = open(self.directory / name, "xb")  # noqa: SIM115 - kept open across records
        self._file_name = name
        self.files.append(name)
        info = self._builder.create_warcinfo_record(
            name,
            {
                "software": "newsdedup (warcio)",
                "format": "WARC File Format 1.1",
                "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
                "hostname": socket.gethostname(),
            },
        )
        # The id known ahead (records built elsewhere name it), a new one for the next file.
        info.rec_headers.replace_header("WARC-Record-ID", self._next_warcinfo_id)
        self._warcinfo_id = self._next_warcinfo_id
        self._next_warcinfo_id = new_record_id()
        self._builder.write_to(self._file, info)
        return self._file

    def _close_file(self) -> None:
        if self._file is not None:
            try:
                self._file.close()
            except OSError:
                log.exception("could not close %s", self._file_name)
            self._file = None
            self._warcinfo_id = None
