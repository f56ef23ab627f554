"""Files sinks: gzipped JSONL, one feed record a line, for a data lake to pick up.

A file is written under a temporary name (``.<sink>-<first seq>.jsonl.gz.part``) and renamed
to ``<sink>-<first seq>-<last seq>.jsonl.gz`` once complete: past ``max_file_bytes``, after
``max_file_seconds``, and when delivery stops. Each batch is appended as a gzip member of
its own and fsynced before the cursor moves, so a process killed mid-batch leaves a part
file whose complete members are everything confirmed; the next start cuts the torn member
off and renames the rest (``gzip``, zcat and every JSONL reader read concatenated members)."""

from __future__ import annotations

import gzip
import json
import os
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from newsdedup.config import Sink
from newsdedup.delivery.messages import message_body
from newsdedup.delivery.outcomes import Refused, TryAgain

PART_SUFFIX = ".jsonl.gz.part"


class FilesSender:
    def __init__(self, sink: Sink, clock: Callable[[], float] = time.time) -> None:
        assert sink.directory is not None
        self.sink = sink
        self.directory = sink.directory
        self._clock = clock
        self._part: Path | None = None
        self._file: IO[bytes] | None = None
        self._first = self._last = 0
        self._opened_at = 0.0
        self._size = 0
        self._recovered = False

    def _recover(self) -> None:
        """Finish the part files a killed process left: keep their complete gzip members."""
        self.directory.mkdir(parents=True, exist_ok=True)
        for part in sorted(self.directory.glob(f".{self.sink.name}-*{PART_SUFFIX}")):
            good, last_seq = complete_members(part.read_bytes())
            if good == 0:
                part.unlink()
                continue
            with part.open("r+b") as handle:
                handle.truncate(good)
                os.fsync(handle.fileno())
            first = int(part.name[len(self.sink.name) + 2 : -len(PART_SUFFIX)])
            self._finish(part, first, last_seq)
        self._recovered = True

    def send(self, records: list[dict[str, Any]]) -> list[Refused]:
        if not records:
            return []
        try:
            if not self._recovered:
                self._recover()
            if self._file is None:
                self._first = records[0]["seq"]
                self._part = self.directory / f".{self.sink.name}-{self._first:012d}{PART_SUFFIX}"
                self._file = self._part.open("ab")
                self._opened_at = self._clock()
                self._size = 0
            member = gzip.compress(b"".join(message_body(r) + b"\n" for r in records), mtime=0)
            self._file.write(member)
            self._file.flush()
            os.fsync(self._file.fileno())
            self._size += len(member)
            self._last = records[-1]["seq"]
            if self._size >= self.sink.max_file_bytes:
                self._rotate()
        except OSError as exc:
            self._drop_file()
            raise TryAgain("io", f"{type(exc).__name__}: {exc}") from None
        return []

    def idle(self) -> None:
        if self._file is not None and self._clock() - self._opened_at >= self.sink.max_file_seconds:
            self._rotate()

    def _rotate(self) -> None:
        assert self._file is not None and self._part is not None
        self._file.close()
        self._file = None
        self._finish(self._part, self._first, self._last)
        self._part = None

    def _finish(self, part: Path, first: int, last: int) -> None:
        final = self.directory / f"{self.sink.name}-{first:012d}-{last:012d}.jsonl.gz"
        os.replace(part, final)
        directory = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(directory)  # the rename itself survives a crash
        finally:
            os.close(directory)

    def _drop_file(self) -> None:
        """After an I/O error: the part file is finished by the next start's recovery."""
        if self._file is not None:
            try:
                self._file.close()
            except OSError:
                pass
        self._file = None
        self._part = None
        self._recovered = False

    def close(self) -> None:
        if self._file is not None:
            try:
                self._rotate()
            except OSError:
                self._drop_file()


def complete_members(data: bytes) -> tuple[int, int]:
    """The length of the complete gzip members at the start of ``data``, and the seq of the
    last record they hold (0 when none)."""
    good = 0
    last_seq = 0
    while good < len(data):
        inflater = zlib.decompressobj(wbits=31)
        try:
            text = inflater.decompress(data[good:])
        except zlib.error:
            break
        if not inflater.eof:
            break
        lines = text.splitlines()
        if lines:
            last_seq = int(json.loads(lines[-1])["seq"])
        good = len(data) - len(inflater.unused_data)
    return good, last_seq
