"""Hostile WARC records, written byte by byte (no tests of their own): what import-warc and
the raw-page route must survive."""

from __future__ import annotations

import base64
import gzip
import hashlib
import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ARTICLE = (
    "<html><head><title>Ferry budget passes</title></head><body><article><h1>Ferry budget passes</h1>"
    + "".join(
        f"<p>The harbour council met again on day {n} to vote on the ferry budget and the new pier.</p>"
        for n in range(20)
    )
    + "</article></body></html>"
).encode()


def payload_digest(body: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(body).digest()).decode()


def response_record(
    url: str | None,
    body: bytes,
    http_headers: dict[str, str] | None = None,
    warc_headers: dict[str, str] | None = None,
    declared_length: int | None = None,
) -> bytes:
    """One WARC/1.1 response record, gzipped on its own (a member per record, as CC-NEWS)."""
    headers = {"Content-Type": "text/html; charset=utf-8", "Content-Length": str(len(body))}
    headers.update(http_headers or {})
    http = "HTTP/1.1 200 OK\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    block = http.encode("latin-1") + body
    warc = {
        "WARC-Type": "response",
        "WARC-Record-ID": f"<urn:uuid:{hashlib.md5(block).hexdigest()}>",
        "WARC-Date": "2026-12-01T08:00:00Z",
        "Content-Type": "application/http; msgtype=response",
        "WARC-Payload-Digest": payload_digest(body),
    }
    if url is not None:
        warc["WARC-Target-URI"] = url
    warc.update(warc_headers or {})
    warc["Content-Length"] = str(declared_length if declared_length is not None else len(block))
    head = "WARC/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in warc.items()) + "\r\n"
    return gzip.compress(head.encode("latin-1") + block + b"\r\n\r\n")


def article_record(n: int, host: str = "news.example") -> bytes:
    return response_record(
        f"https://{host}/2026/12/story-{n}.html", ARTICLE.replace(b"day", f"d{n}".encode())
    )


class _RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Files of a folder, with single ``bytes=N-`` ranges answered 206 (or ignored: 200)."""

    honour_range = True

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        path = Path(self.directory) / self.path.lstrip("/")
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        wanted = self.headers.get("Range", "")
        if self.honour_range and wanted.startswith("bytes=") and wanted.endswith("-"):
            start = int(wanted[len("bytes=") : -1])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            data = data[start:]
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@contextmanager
def file_server(folder: Path, honour_range: bool = True, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve ``folder`` on a free port of ``host``; yields the base URL."""
    handler = type(
        "Handler",
        (_RangeHandler,),
        {"honour_range": honour_range, "__init__": _init_for(folder)},
    )
    server = http.server.ThreadingHTTPServer((host, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _init_for(folder: Path):  # type: ignore[no-untyped-def]
    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        _RangeHandler.__init__(self, *args, directory=str(folder), **kwargs)

    return __init__
