"""What one request may cost the API, whoever sends it (README, "Security").

* ``BodyLimitMiddleware``: a request body larger than ``NEWSDEDUP_API_MAX_BODY_BYTES`` is
  refused with 413 before anything reads it whole (by its Content-Length, or by counting the
  bytes of a chunked body as they arrive).
* ``RequestGate``: at most ``NEWSDEDUP_API_FEED_CONCURRENCY`` feed requests of one process are
  served at once; the others wait a little, then get 503 with Retry-After.
* ``CachedValue``: /metrics is computed at most once per ``NEWSDEDUP_METRICS_CACHE_SECONDS``,
  however often it is scraped.
* ``feed_page_body``: a feed page stops at ``NEWSDEDUP_API_MAX_FEED_PAGE_BYTES`` of JSON (a
  short page: the cursor goes on from its last record), read from the store a few records at a
  time so that the memory of one page is bounded by bytes, not by ``limit``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Generic, TypeVar

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from newsdedup.api.errors import ApiError, error_response

T = TypeVar("T")

# Seconds a feed request waits for its turn before it is answered 503.
GATE_WAIT_SECONDS = 10.0
# Records read from the store per query while a feed page fills (the first query; later ones
# are sized by the bytes the records so far took).
FIRST_CHUNK = 25
MAX_CHUNK = 500


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes (NEWSDEDUP_API_MAX_BODY_BYTES)")


class BodyLimitMiddleware:
    """Refuse bodies over ``max_bytes`` before the app reads them (plain ASGI: the count is
    on the bytes as they arrive, so a chunked body without Content-Length is bounded too)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope.get("headers", []))
        if declared is not None and declared > self.max_bytes:
            response = error_response(413, "payload_too_large", str(BodyTooLarge(self.max_bytes).detail))
            await response(scope, receive, send)
            return
        received = 0

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, counted_receive, send)


def _content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for key, value in headers:
        if key.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class RequestGate:
    """A per-process limit on requests served at once (a semaphore with a bounded wait)."""

    def __init__(self, slots: int, wait: float = GATE_WAIT_SECONDS) -> None:
        self._slots = threading.BoundedSemaphore(slots)
        self.slots = slots
        self.wait = wait

    @contextmanager
    def slot(self) -> Iterator[None]:
        if not self._slots.acquire(timeout=self.wait):
            raise ApiError(
                503,
                f"{self.slots} feed requests are being served; try again shortly "
                "(NEWSDEDUP_API_FEED_CONCURRENCY)",
                headers={"Retry-After": "1"},
            )
        try:
            yield
        finally:
            self._slots.release()


class CachedValue(Generic[T]):
    """``compute()``'s result, recomputed at most once per ``seconds`` (0: every time).
    One caller computes while the others wait for it and share its result."""

    def __init__(self, compute: Callable[[], T], seconds: float) -> None:
        self._compute = compute
        self.seconds = seconds
        self._lock = threading.Lock()
        self._value: T | None = None
        self._at = float("-inf")
        self.computed = 0  # how many times it was computed (tests, the benchmark)

    def get(self) -> T:
        with self._lock:
            now = time.monotonic()
            if self._value is None or now - self._at >= self.seconds:
                self._value = self._compute()
                self._at = time.monotonic()
                self.computed += 1
            return self._value


def _dumps(value: Any) -> bytes:
    # As Starlette's JSONResponse renders.
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")


def feed_page_body(
    read: Callable[[int, int], list[dict[str, Any]]], after: int, limit: int, max_bytes: int
) -> bytes:
    """The JSON of a feed page: ``{"items": [...], "next_after": seq}``, records after ``after``,
    at most ``limit`` of them and, past the first, at most ``max_bytes`` of JSON in all.
    ``read(after, count)`` gives the next records from the store."""
    parts: list[bytes] = []
    size = 0
    cursor = after
    chunk = min(limit, FIRST_CHUNK)
    while len(parts) < limit:
        records = read(cursor, chunk)
        for record in records:
            part = _dumps(record)
            if parts and size + len(part) + 1 > max_bytes:
                return _page(parts, cursor)
            parts.append(part)
            size += len(part) + 1
            cursor = record["seq"]
            if len(parts) == limit:
                break
        if len(records) < chunk:
            break
        average = max(1, size // len(parts))
        chunk = max(1, min(limit - len(parts), MAX_CHUNK, (max_bytes - size) // average + 1))
    return _page(parts, cursor)


def _page(parts: list[bytes], next_after: int) -> bytes:
    return b'{"items":[' + b",".join(parts) + b'],"next_after":' + str(next_after).encode() + b"}"
