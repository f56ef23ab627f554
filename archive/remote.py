"""Reading WARC files over HTTP under the crawler's address policy (README, "Security").

``import-warc URL`` and the raw-page route (for versions imported from a URL) fetch from
hosts someone named. The connection is checked on the address it is actually made to (after
DNS, so no name leads around it), redirects are not followed, and a ranged read must be
answered 206: a server that ignores ``Range`` would otherwise hand out the file's first
record for every offset.
"""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request
from typing import Any, BinaryIO, cast

from newsdedup.fetched.addresses import address_problem

USER_AGENT = "newsdedup import-warc (+https://github.com/newsdedup/newsdedup)"
TIMEOUT_SECONDS = 60


class RemoteRefused(OSError):
    """The address policy, a redirect or a wrong status refused a remote WARC read."""


def _checked(connection: http.client.HTTPConnection) -> None:
    peer = connection.sock.getpeername()[0] if connection.sock is not None else ""
    problem = address_problem(peer)
    if problem is not None:
        connection.close()
        raise RemoteRefused(
            f"refused: {connection.host} is {peer}, {problem.split(' is ', 1)[1]} "
            "(NEWSDEDUP_ALLOW_PRIVATE_ADDRESSES is off)"
        )


class _PublicHTTPConnection(http.client.HTTPConnection):
    def connect(self) -> None:
        super().connect()
        _checked(self)


class _PublicHTTPSConnection(http.client.HTTPSConnection):
    def connect(self) -> None:
        super().connect()  # TLS is set up over the socket checked below: no bytes were sent yet
        _checked(self)


class _PublicHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req: urllib.request.Request) -> Any:
        return self.do_open(_PublicHTTPConnection, req)


class _PublicHTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req: urllib.request.Request) -> Any:
        return self.do_open(_PublicHTTPSConnection, req)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> None:
        raise RemoteRefused(f"{req.full_url} redirects ({code}) to {newurl}: redirects are not followed")


def open_url(url: str, allow_private: bool, offset: int | None = None) -> BinaryIO:
    """A stream of ``url`` (from ``offset``, with a Range request that must be answered 206).
    ``allow_private``: NEWSDEDUP_ALLOW_PRIVATE_ADDRESSES, which lets it reach loopback and
    private addresses."""
    handlers: list[urllib.request.BaseHandler] = [_NoRedirects()]
    if not allow_private:
        handlers += [_PublicHTTPHandler(), _PublicHTTPSHandler()]
    opener = urllib.request.build_opener(*handlers)
    headers = {"User-Agent": USER_AGENT}
    if offset is not None:
        headers["Range"] = f"bytes={offset}-"
    try:
        response = opener.open(urllib.request.Request(url, headers=headers), timeout=TIMEOUT_SECONDS)
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, RemoteRefused):
            raise exc.reason from None  # urllib wraps what connect() raised
        raise
    if offset is not None and response.status != 206:
        response.close()
        raise RemoteRefused(
            f"{url} answered {response.status} to a Range request (206 expected): "
            "the server does not serve parts of files, so no record can be read at an offset"
        )
    return cast(BinaryIO, response)
