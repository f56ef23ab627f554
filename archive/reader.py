"""Reading WARC files with warcio: the archive in fetch order, one record at a location, and
foreign WARC files (Common Crawl's CC-NEWS and the like), all streamed.

Memory stays flat whatever the file's size: records are read one at a time, a body is read
only for an HTML response no larger than the caller's limit, and everything else is skipped
by streaming past it. warcio, not FastWARC: FastWARC read the same gzipped WARC 2.5× faster
here, but reading is under 2 % of what a page costs on its way to the store (bench/README.md,
"archive"), and warcio is the library that writes the archive.
"""

from __future__ import annotations

import heapq
import io
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import DecompressingBufferedReader
from warcio.exceptions import ArchiveLoadFailed
from warcio.recordloader import ArcWarcRecord, ArcWarcRecordLoader

from newsdedup.archive.records import (
    CRAWL_ID,
    HINTS,
    REQUEST_URI,
    SOURCE,
    ArchivedResponse,
    hints_of,
    parse_warc_date,
)
from newsdedup.archive.remote import open_url
from newsdedup.archive.writer import FILE_PREFIX, FILE_SUFFIX
from newsdedup.fetched.page import ArchiveLocation

log = logging.getLogger(__name__)

HTML_TYPES = ("text/html", "application/xhtml+xml")
READ_ERRORS = (ArchiveLoadFailed, EOFError, OSError, ValueError)
# The longest WARC or HTTP header line read: warcio reads a line whole, however long, so a
# file of one endless line would take the machine's memory before any record is seen.
MAX_HEADER_LINE = 64 * 1024


class HeaderLineTooLong(ValueError):
    """A header line longer than MAX_HEADER_LINE: the rest of the file cannot be parsed."""


class BodyTooLarge(ValueError):
    """A body larger than the limit once its Content-Encoding is undone."""


class _BoundedLineReader(DecompressingBufferedReader):
    """warcio's reader with header lines bounded (its own ``readline`` reads to the newline)."""

    def readline(self, length: int | None = None) -> bytes:
        limit = MAX_HEADER_LINE if length is None else min(length, MAX_HEADER_LINE)
        parts: list[bytes] = []
        total = 0
        while total < limit:
            self._fillbuff()
            if self.empty():
                break
            piece = self.buff.readline(limit - total)
            parts.append(piece)
            total += len(piece)
            if piece.endswith(b"\n"):
                break
        line = b"".join(parts)
        if total >= limit and not line.endswith(b"\n") and (length is None or length > MAX_HEADER_LINE):
            raise HeaderLineTooLong(f"a header line longer than {MAX_HEADER_LINE} bytes")
        return line


class _TolerantLoader(ArcWarcRecordLoader):
    """warcio's record loader, for which a record without WARC-Target-URI is one without HTTP
    headers (warcio 1.8 fails on it, and its iterator cannot go on after a failure)."""

    def _ensure_target_uri_format(self, rec_headers: object) -> str:
        return super()._ensure_target_uri_format(rec_headers) or ""


def bounded_records(stream: BinaryIO | ByteCounter, check_digests: bool = False) -> ArchiveIterator:
    """warcio's ArchiveIterator over ``stream``, with header lines bounded and records without
    a target URI read as such. ``check_digests``: each record notes a digest that does not
    match (``record.digest_checker``) instead of ending the file."""
    records = ArchiveIterator(stream, check_digests=check_digests)
    records.reader = _BoundedLineReader(records.fh)
    records.loader = _TolerantLoader()
    return records


@dataclass
class ReadCounts:
    """What reading a set of WARC files skipped, by reason (shown after an import)."""

    skipped: Counter[str] = field(default_factory=Counter)

    def skip(self, reason: str) -> None:
        self.skipped[reason] += 1

    @property
    def total_skipped(self) -> int:
        return sum(self.skipped.values())

    def line(self) -> str:
        if not self.skipped:
            return "0 records skipped"
        parts = ", ".join(f"{n} {reason}" for reason, n in self.skipped.most_common())
        return f"{self.total_skipped} records skipped: {parts}"


class ByteCounter:
    """A read-only stream that counts the bytes read through it (for progress bars)."""

    def __init__(self, raw: BinaryIO, on_read: Callable[[int], None]) -> None:
        self.raw = raw
        self.on_read = on_read

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        if data:
            self.on_read(len(data))
        return data

    def close(self) -> None:
        self.raw.close()


# --- one record ---


def _response(
    record: ArcWarcRecord, location: ArchiveLocation, body: bytes, source: str | None
) -> ArchivedResponse:
    """``source`` None: the one the record names (our archive); else this one (an import),
    and the record's ``Newsdedup-*`` fields are ignored: a foreign file's are anyone's."""
    warc = record.rec_headers
    target = warc.get_header("WARC-Target-URI") or ""
    ours = source is None
    return ArchivedResponse(
        url=(warc.get_header(REQUEST_URI) if ours else None) or target,
        final_url=target,
        status=int(record.http_headers.get_statuscode() or 0),
        headers=list(record.http_headers.headers),
        body=body,
        fetched_at=parse_warc_date(warc.get_header("WARC-Date") or "1970-01-01T00:00:00Z"),
        source=source if source is not None else warc.get_header(SOURCE) or "",
        crawl_id=(warc.get_header(CRAWL_ID) or "") if ours else "",
        hints=hints_of(warc.get_header(HINTS)) if ours else {},
        location=location,
    )


def _payload_length(record: ArcWarcRecord) -> int:
    """The HTTP body's length as the record declares it (block length less the headers)."""
    remaining = getattr(record.raw_stream, "limit", None)
    return int(remaining) if remaining is not None else int(record.length or 0)


class TruncatedRecord(ValueError):
    """A record's block ends before its Content-Length says (a file cut off mid-record)."""


def read_body(record: ArcWarcRecord, max_bytes: int | None = None) -> bytes:
    """The HTTP body of ``record``, de-chunked and decompressed as its headers say; raises
    TruncatedRecord when fewer bytes are there than the record declares (warcio's reader
    simply stops at the end of a cut-off file), and BodyTooLarge when the decompressed body
    passes ``max_bytes`` (read no further than that: a small gzip body may hold gigabytes)."""
    expected = getattr(record.raw_stream, "limit", None)  # warcio's LimitReader: bytes still due
    raw = record.raw_stream.read()
    if expected is not None and len(raw) < expected:
        raise TruncatedRecord(f"{len(raw)} of {expected} bytes")
    record.raw_stream = io.BytesIO(raw)
    if max_bytes is None:
        return record.content_stream().read()
    body = record.content_stream().read(max_bytes + 1)
    if len(body) > max_bytes:
        raise BodyTooLarge(f"more than {max_bytes} bytes once decompressed")
    return body


def _is_html(record: ArcWarcRecord) -> bool:
    content_type = (record.http_headers.get_header("Content-Type") or "").split(";")[0].strip().lower()
    return content_type in HTML_TYPES or not content_type


def _open(file: str, allow_private: bool) -> BinaryIO:
    if file.startswith(("http://", "https://")):
        return open_url(file, allow_private)
    return open(file, "rb")


class OutsideArchive(PermissionError):
    """A stored location that resolves outside the archive folder."""


def archive_path(file: str, directory: Path) -> Path:
    """``file`` (a name in ``directory`` or a path) resolved, which must lie inside
    ``directory``: a stored ``../`` or an absolute path elsewhere is refused."""
    root = directory.resolve()
    path = (root / file).resolve()  # an absolute ``file`` replaces root here
    if not path.is_relative_to(root):
        raise OutsideArchive(f"{file} is outside the archive folder {directory}")
    return path


def read_record(
    file: str,
    offset: int,
    directory: Path | None = None,
    allow_private: bool = False,
    max_body_bytes: int | None = None,
) -> ArchivedResponse | None:
    """The response record at ``offset`` of ``file`` (a name in ``directory``, a path, or an
    http(s) URL, read with a Range request under the address policy: ``allow_private`` as
    NEWSDEDUP_ALLOW_PRIVATE_ADDRESSES); None when it is no response record. Raises
    FileNotFoundError when the file is gone (pruned, or on another host), OutsideArchive when
    ``directory`` is given and a path resolves outside it."""
    if file.startswith(("http://", "https://")):
        stream: BinaryIO = open_url(file, allow_private, offset=offset)
    else:
        path = archive_path(file, directory) if directory is not None else Path(file)
        stream = open(path, "rb")  # noqa: SIM115
        stream.seek(offset)
    with stream:
        for record in bounded_records(stream):
            if record.rec_type != "response" or record.http_headers is None:
                return None
            return _response(record, ArchiveLocation(file, offset), read_body(record, max_body_bytes), None)
    return None


# --- foreign WARC files (import-warc) ---


def read_html_responses(
    file: str,
    source: str | None,
    max_body_bytes: int,
    counts: ReadCounts,
    on_read: Callable[[int], None] | None = None,
    allow_private: bool = False,
) -> Iterator[ArchivedResponse]:
    """The HTML responses of one WARC file (path or http(s) URL, fetched under the address
    policy), gzipped or not, in file order. Everything else is skipped and counted in
    ``counts`` by reason, and the file goes on: records that are no response, no HTTP, not
    HTML, without a target URI, truncated (``WARC-Truncated``, a body cut short), larger than
    ``max_body_bytes`` (declared, or once decompressed), with a digest that does not match,
    or whose body cannot be decoded. What ends a file early (counted as "unreadable"): a
    header line longer than MAX_HEADER_LINE, or a file that is no WARC past some offset."""
    label = file if file.startswith(("http://", "https://")) else str(Path(file).resolve())
    try:
        raw = _open(file, allow_private)
    except OSError as exc:  # urllib's errors and RemoteRefused included
        counts.skip("files not readable")
        log.warning("%s: not read: %s", file, _reason(exc))
        return
    stream: BinaryIO | ByteCounter = ByteCounter(raw, on_read) if on_read else raw
    try:
        records = bounded_records(stream, check_digests=True)
        while True:
            try:
                record = next(records)
            except StopIteration:
                return
            except Exception as exc:  # noqa: BLE001 - the file ends here; the import goes on
                counts.skip("unreadable")
                log.warning(
                    "%s: unreadable after offset %s, rest of the file skipped: %s",
                    file,
                    getattr(records, "offset", "?"),
                    _reason(exc),
                )
                return
            reason = _skip_reason(record, max_body_bytes)
            if reason:
                counts.skip(reason)
                continue
            target = record.rec_headers.get_header("WARC-Target-URI")
            detail = ""
            try:
                body = read_body(record, max_body_bytes)
                offset = records.get_record_offset()
            except TruncatedRecord as exc:
                reason, detail = "truncated", str(exc)
            except BodyTooLarge as exc:
                reason, detail = "too large", str(exc)
            except Exception as exc:  # noqa: BLE001 - one record's body, not the file
                reason, detail = "undecodable body", _reason(exc)
            else:
                if record.digest_checker is not None and record.digest_checker.passed is False:
                    reason, detail = "bad digest", "; ".join(record.digest_checker.problems)
            if reason:
                counts.skip(reason)
                log.warning("%s: the record of %s is skipped, %s: %s", file, target, reason, detail)
                continue  # the next record is read by the iterator (or fails, and ends the file)
            yield _response(record, ArchiveLocation(label, offset), body, source)
    finally:
        raw.close()


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


def _skip_reason(record: ArcWarcRecord, max_body_bytes: int) -> str:
    if record.rec_type != "response":
        return f"{record.rec_type} records"
    if not record.rec_headers.get_header("WARC-Target-URI"):
        return "no target URI"
    if record.http_headers is None or not record.http_headers.protocol.upper().startswith("HTTP"):
        return "not HTTP"
    if record.rec_headers.get_header("WARC-Truncated"):
        return "truncated"
    if not _is_html(record):
        return "not HTML"
    if _payload_length(record) > max_body_bytes:
        return "too large"
    return ""


# --- the archive, in fetch order (reprocess) ---


def archive_files(directory: Path) -> list[Path]:
    """Our WARC files in ``directory``, oldest first (their names start with their start time)."""
    return sorted(Path(directory).glob(f"{FILE_PREFIX}*{FILE_SUFFIX}"))


def file_started(path: Path) -> datetime:
    stamp = path.name[len(FILE_PREFIX) :].split("-", 1)[0]
    return datetime.strptime(stamp, "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC)


@dataclass
class ArchiveScan:
    """The response records of the archive, merged across files in fetch order.

    Each file holds its process's records in fetch order; files of processes that ran at the
    same time (several crawls, distributed crawl processes) are merged by ``WARC-Date``. A file
    is opened only once the merge reaches its start time, so few are open at once.
    """

    directory: Path
    since: datetime | None = None
    sources: frozenset[str] | None = None
    counts: ReadCounts = field(default_factory=ReadCounts)
    bytes_done: int = 0

    def files(self) -> list[Path]:
        since = self.since.timestamp() if self.since else None
        # A file last written before --since holds nothing newer.
        return [p for p in archive_files(self.directory) if since is None or p.stat().st_mtime >= since]

    @property
    def total_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.files())

    def __iter__(self) -> Iterator[ArchivedResponse]:
        files = self.files()
        heap: list[tuple[datetime, int, ArchivedResponse, Iterator[ArchivedResponse]]] = []
        opened = 0

        def push(index: int, records: Iterator[ArchivedResponse]) -> None:
            for record in records:
                heapq.heappush(heap, (record.fetched_at, index, record, records))
                return

        while True:
            while opened < len(files) and (not heap or file_started(files[opened]) <= heap[0][0]):
                push(opened, self._file_records(files[opened]))
                opened += 1
            if not heap:
                return
            _, index, record, records = heapq.heappop(heap)
            yield record
            push(index, records)

    def _file_records(self, path: Path) -> Iterator[ArchivedResponse]:
        def counted(n: int) -> None:
            self.bytes_done += n

        with open(path, "rb") as raw:
            records = bounded_records(ByteCounter(raw, counted))
            while True:
                try:
                    record = next(records)
                    if record.rec_type != "response":
                        continue
                    if not self._wanted(record):
                        continue
                    body = read_body(record)
                    offset = records.get_record_offset()
                except StopIteration:
                    return
                except READ_ERRORS as exc:
                    # A crawl killed mid-record leaves a file cut short: what precedes stands.
                    self.counts.skip("unreadable")
                    log.warning(
                        "%s: unreadable after offset %s, rest of the file skipped: %s",
                        path.name,
                        getattr(records, "offset", "?"),
                        exc,
                    )
                    return
                yield _response(record, ArchiveLocation(path.name, offset), body, None)

    def _wanted(self, record: ArcWarcRecord) -> bool:
        headers = record.rec_headers
        if self.sources is not None and headers.get_header(SOURCE) not in self.sources:
            return False
        if self.since is not None:
            return parse_warc_date(headers.get_header("WARC-Date") or "1970-01-01T00:00:00Z") >= self.since
        return True
