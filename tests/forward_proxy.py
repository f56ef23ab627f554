"""A small forward HTTP proxy on loopback, owned by a test: it logs each URL asked through it.

Plain http:// targets only (an absolute URI in the request line, as HTTP/1.1 proxies are
asked); enough to see which requests of a crawl went through the proxy.
"""

from __future__ import annotations

import http.client
import http.server
import threading
from urllib.parse import urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authorization", "transfer-encoding"}


class ForwardProxy:
    def __init__(self, host: str = "127.0.0.9") -> None:
        self.host = host
        self.urls: list[str] = []
        self._lock = threading.Lock()
        handler = type("ProxyHandler", (_ProxyHandler,), {"proxy": self})
        self._httpd = http.server.ThreadingHTTPServer((host, 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self._httpd.server_address[1]}"

    def __enter__(self) -> ForwardProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def _record(self, url: str) -> None:
        with self._lock:
            self.urls.append(url)


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    proxy: ForwardProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        target = urlsplit(self.path)
        if target.scheme != "http" or not target.hostname:
            self.send_error(400, "a forward proxy is asked for absolute http:// URLs")
            return
        self.proxy._record(self.path)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        connection = http.client.HTTPConnection(target.hostname, target.port or 80, timeout=10)
        try:
            path = target.path or "/"
            connection.request("GET", path + (f"?{target.query}" if target.query else ""), headers=headers)
            answer = connection.getresponse()
            body = answer.read()
        finally:
            connection.close()
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
