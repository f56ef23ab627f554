"""Downloader middleware: redirects may only lead inside the source's allowed domains."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

from scrapy import Request
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from w3lib.url import safe_url_string

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

REDIRECT_CODES = {301, 302, 303, 307, 308}


def host_in_domains(url: str, domains: Iterable[str]) -> bool:
    """The same rule as Scrapy's OffsiteMiddleware: the host or a sub-domain of it (port ignored)."""
    host = (urlsplit(url).hostname or "").lower()
    return bool(host) and any(host == d or host.endswith("." + d) for d in (d.lower() for d in domains))


class OffsiteRedirect(IgnoreRequest):
    """A redirect pointed outside the source's allowed domains; ``target`` is where."""

    def __init__(self, target: str) -> None:
        super().__init__(f"redirect to another host: {target}")
        self.target = target


class OffsiteRedirectMiddleware:
    """Stop a redirect to another host before RedirectMiddleware follows it.

    Placed closer to the downloader than RedirectMiddleware (higher order number), so it sees
    the 3xx first. The request's errback receives ``OffsiteRedirect`` with the target URL;
    Scrapy's own OffsiteMiddleware would drop the redirected request without telling which.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> OffsiteRedirectMiddleware:
        return cls(crawler)

    def process_response(self, request: Request, response: Response) -> Response:
        domains = getattr(self.crawler.spider, "allowed_domains", None)
        location = response.headers.get("Location")
        if not domains or response.status not in REDIRECT_CODES or not location:
            return response
        target = urljoin(request.url, safe_url_string(location))
        if not host_in_domains(target, domains):
            raise OffsiteRedirect(target)
        return response
