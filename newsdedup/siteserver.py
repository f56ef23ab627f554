"""A real loopback HTTP server for fixture news sites (crawler tests, end-to-end tests, ``demo``).

Each site is a directory served as-is, read from disk on every request, so a test can change a
page between two crawl rounds simply by writing the file. Every file gets a strong ``ETag``
(sha256 of the bytes sent) and a ``Last-Modified`` (the file's mtime); a matching
``If-None-Match`` (or, without one, an ``If-Modified-Since`` not older than the file) gets a 304.

Special behaviours are declared per path, in ``<root>/_routes.json`` and/or the ``routes``
argument (the argument wins for a path both name). Keys of one route, all optional:

``status``          status to answer (with the file's bytes, or ``body``); e.g. 500, 404
``body``            the body as a string (UTF-8), instead of the file; ``""`` for an empty page
``delay``           seconds to wait before answering (a slow page, for timeouts)
``redirect``        answer 301 with this ``Location``; ``status`` may name another 3xx
``content_type``    the ``Content-Type`` header exactly as given (no charset added)
``encoding``        re-encode the (UTF-8) file in this codec before sending, e.g. ``latin-1``
``generate_bytes``  send this many bytes of generated HTML (a huge page) instead of a file
``headers``         extra response headers, a mapping
``sitemap_tree``    answer a sitemap index listing this many children below the path asked
                    (``/tree/1.xml`` lists ``/tree/1/1.xml`` ... ): an endless tree of indexes
                    when the route's key ends in ``*``

A route key ending in ``*`` applies to every path that starts with what comes before it.

String values may use ``{base_url}``, ``{host}`` and ``{port}`` of this server; a redirect
to another site names that server's ``base_url`` (``set_routes()`` once it is started).

Feeds and sitemaps need absolute URLs but the port is only known once the server runs: in
text files (.html, .xml, .rss, .atom, .rdf, .txt) ``{{base_url}}``, ``{{host}}`` and
``{{port}}`` are replaced by this server's values when served.

Different sites should run on different loopback addresses (Linux routes all of 127.0.0.0/8
to ``lo``), so that host-based checks (allowed domains, offsite redirects) work:
``serve_sites(parent)`` starts one server per sub-directory on 127.0.0.2, 127.0.0.3, ...
"""

from __future__ import annotations

import email.utils
import hashlib
import http.server
import json
import mimetypes
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

ROUTES_FILE = "_routes.json"
LOGGED_HEADERS = ("user-agent", "if-none-match", "if-modified-since", "accept", "accept-encoding")
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".xml": "application/xml",
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".rdf": "application/rdf+xml",
    ".pdf": "application/pdf",
    ".txt": "text/plain; charset=utf-8",
    ".json": "application/json",
    ".gz": "application/gzip",
    ".png": "image/png",
    ".jpg": "image/jpeg",
}
TEMPLATED_SUFFIXES = {".html", ".htm", ".xml", ".rss", ".atom", ".rdf", ".txt"}
_GENERATED_CHUNK = b"<p>" + b"filler text of a very long page " * 100 + b"</p>\n"


@dataclass(frozen=True)
class LoggedRequest:
    """One request the server answered."""

    method: str
    path: str  # path and query as requested
    headers: dict[str, str]  # lower-case names, only LOGGED_HEADERS
    status: int  # what the server answered; 0: never answered (server stopped)
    time: float = field(default=0.0, compare=False)


class SiteServer:
    """Serve the files under ``root`` over HTTP on ``host:port`` (port 0: any free port)."""

    def __init__(
        self,
        root: Path | str,
        host: str = "127.0.0.1",
        port: int = 0,
        routes: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise ValueError(f"site root {self.root} is not a directory")
        self.host = host
        self._requested_port = port
        self._extra_routes = dict(routes or {})
        # False: a server that sends no validators and never answers 304, as many real sites.
        self.conditional = True
        self._log: list[LoggedRequest] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: _QuietServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---
    def start(self) -> SiteServer:
        if self._httpd is not None:
            return self
        handler = type("SiteHandler", (_SiteHandler,), {"site": self})
        self._httpd = _QuietServer((self.host, self._requested_port), handler)
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"siteserver-{self.host}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._stopping.set()  # wakes handlers sleeping on a "delay" route
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> SiteServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- what tests look at ---
    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the site server is not started")
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + "/" + path.lstrip("/")

    @property
    def requests(self) -> list[LoggedRequest]:
        """A snapshot of the requests answered so far, in the order answered.

        A request is logged just before its answer is written (after any ``delay``), so a
        client that has its answer always finds it here.
        """
        with self._lock:
            return list(self._log)

    def requests_for(self, path: str) -> list[LoggedRequest]:
        return [r for r in self.requests if urlsplit(r.path).path == path]

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()

    def set_routes(self, routes: dict[str, dict[str, Any]]) -> None:
        """Add or replace routes while running (e.g. a redirect to a server started later)."""
        with self._lock:
            self._extra_routes.update(routes)

    # --- used by the handler ---
    def _record(self, entry: LoggedRequest) -> None:
        with self._lock:
            self._log.append(entry)

    def _route(self, path: str) -> dict[str, Any]:
        routes: dict[str, Any] = {}
        routes_file = self.root / ROUTES_FILE
        if routes_file.is_file():  # read each time: tests may rewrite it between rounds
            routes.update(json.loads(routes_file.read_text(encoding="utf-8")))
        with self._lock:
            routes.update(self._extra_routes)
        route = routes.get(path)
        if route is None:
            prefixes = [key for key in routes if key.endswith("*") and path.startswith(key[:-1])]
            route = routes[max(prefixes, key=len)] if prefixes else {}
        return {k: self._expand(v) for k, v in dict(route).items()}

    def _expand(self, value: Any) -> Any:
        if isinstance(value, str):
            return (
                value.replace("{base_url}", self.base_url)
                .replace("{host}", self.host)
                .replace("{port}", str(self.port))
            )
        if isinstance(value, dict):
            return {k: self._expand(v) for k, v in value.items()}
        return value


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True  # a slow answer must not hold up stop()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up (a crawler giving up on a slow or huge page) is expected.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _SiteHandler(http.server.BaseHTTPRequestHandler):
    site: SiteServer
    protocol_version = "HTTP/1.1"
    server_version = "newsdedup-siteserver/1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request log is self.site.requests; stderr noise helps nobody

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def _answer(self, send_body: bool) -> None:
        path = unquote(urlsplit(self.path).path)
        route = self.site._route(path)
        if self._respond(path, route, send_body) == 0:
            self._log(0)

    def _log(self, status: int) -> None:
        # Logged before the answer is written, so a client that got it finds it in the log.
        logged = {k: v for k in LOGGED_HEADERS if (v := self.headers.get(k)) is not None}
        self.site._record(LoggedRequest(self.command, self.path, logged, status, time.time()))

    def _respond(self, path: str, route: dict[str, Any], send_body: bool) -> int:
        delay = float(route.get("delay", 0))
        if delay and self.site._stopping.wait(delay):
            return 0  # the server is stopping: give up on this answer

        if "redirect" in route:
            status = int(route.get("status", 301))
            self._send(status, b"", {"Location": route["redirect"]}, send_body)
            return status
        if "generate_bytes" in route:
            return self._send_generated(int(route["generate_bytes"]), route, send_body)
        if "sitemap_tree" in route:
            stem = path[: -len(".xml")] if path.endswith(".xml") else path.rstrip("/")
            children = "".join(
                f"<sitemap><loc>{self.site.base_url}{stem}/{i}.xml</loc></sitemap>"
                for i in range(1, int(route["sitemap_tree"]) + 1)
            )
            index = (
                '<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex xmlns="http://www.sitemaps.org/'
                f'schemas/sitemap/0.9">{children}</sitemapindex>\n'
            ).encode()
            self._send(200, index, {"Content-Type": "application/xml"}, send_body)
            return 200

        body, mtime = self._body(path, route)
        if body is None:
            self._send(
                404,
                b"<html><body><h1>Not found</h1></body></html>",
                {"Content-Type": "text/html; charset=utf-8"},
                send_body,
            )
            return 404
        status = int(route.get("status", 200))
        headers = {"Content-Type": route.get("content_type") or _content_type(path)}
        if status == 200 and self.site.conditional:
            etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            headers["ETag"] = etag
            if mtime is not None:
                headers["Last-Modified"] = email.utils.formatdate(mtime, usegmt=True)
            if self._not_modified(etag, mtime):
                self._send(
                    304,
                    b"",
                    {"ETag": etag, **{k: v for k, v in headers.items() if k == "Last-Modified"}},
                    False,
                )
                return 304
        headers.update(route.get("headers", {}))
        self._send(status, body, headers, send_body)
        return status

    def _body(self, path: str, route: dict[str, Any]) -> tuple[bytes | None, float | None]:
        if "body" in route:
            return str(route["body"]).encode("utf-8"), None
        file = self._file(path)
        if file is None:
            return (b"" if "status" in route else None), None
        data = file.read_bytes()
        if file.suffix.lower() in TEMPLATED_SUFFIXES:
            data = (
                data.replace(b"{{base_url}}", self.site.base_url.encode())
                .replace(b"{{host}}", self.site.host.encode())
                .replace(b"{{port}}", str(self.site.port).encode())
            )
        if "encoding" in route:
            data = data.decode("utf-8").encode(route["encoding"])
        return data, file.stat().st_mtime

    def _file(self, path: str) -> Path | None:
        candidate = (self.site.root / path.lstrip("/")).resolve()
        if candidate.is_dir():
            candidate = candidate / "index.html"
        if self.site.root not in candidate.parents or candidate.name == ROUTES_FILE:
            return None  # never serve outside the root, nor the routes file
        return candidate if candidate.is_file() else None

    def _not_modified(self, etag: str, mtime: float | None) -> bool:
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:  # RFC 9110: If-None-Match wins over If-Modified-Since
            tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
            return "*" in tags or etag in tags
        since = self.headers.get("If-Modified-Since")
        if since and mtime is not None:
            try:
                since_ts = email.utils.parsedate_to_datetime(since).timestamp()
            except (TypeError, ValueError):
                return False
            return int(mtime) <= since_ts
        return False

    def _send(self, status: int, body: bytes, headers: dict[str, str], send_body: bool) -> None:
        self._log(status)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body and body and status != 304:
            self._write(body)

    def _send_generated(self, size: int, route: dict[str, Any], send_body: bool) -> int:
        self._log(200)
        self.send_response(200)
        self.send_header("Content-Type", route.get("content_type", "text/html; charset=utf-8"))
        self.send_header("Content-Length", str(size))
        self.end_headers()
        if not send_body:
            return 200
        head = b"<html><head><title>Huge page</title></head><body>\n"
        sent = 0
        while sent < size:
            chunk = (head if sent == 0 else _GENERATED_CHUNK)[: size - sent]
            if not self._write(chunk):
                break  # the client gave up (e.g. Scrapy's DOWNLOAD_MAXSIZE): fine
            sent += len(chunk)
        return 200

    def _write(self, data: bytes) -> bool:
        try:
            self.wfile.write(data)
            return True
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            return False


def _content_type(path: str) -> str:
    if path.endswith("/"):
        return CONTENT_TYPES[".html"]  # a folder is served as its index.html
    suffix = Path(path).suffix.lower()
    if suffix in CONTENT_TYPES:
        return CONTENT_TYPES[suffix]
    guessed, _ = mimetypes.guess_type(path)
    return guessed or "application/octet-stream"


def serve_sites(parent: Path | str, first_host: int = 2) -> dict[str, SiteServer]:
    """Start one SiteServer per sub-directory of ``parent``, on 127.0.0.<first_host>, +1, ...

    Returns ``{directory name: started server}`` in name order; stop each when done.
    """
    servers: dict[str, SiteServer] = {}
    try:
        for offset, site in enumerate(sorted(p for p in Path(parent).iterdir() if p.is_dir())):
            servers[site.name] = SiteServer(site, host=f"127.0.0.{first_host + offset}").start()
    except BaseException:
        for server in servers.values():
            server.stop()
        raise
    return servers
