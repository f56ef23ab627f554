"""A source's ``proxy``: every request of its spider goes through it (Scrapy's ``proxy`` meta).

Set before Scrapy's HttpProxyMiddleware (750), which reads the meta (and turns credentials in
the proxy URL into a Proxy-Authorization header). Requests Scrapy makes itself for the
source, such as robots.txt, pass through here too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler


class SourceProxyMiddleware:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SourceProxyMiddleware:
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        source = getattr(self.crawler.spider, "source", None)
        proxy = getattr(source, "proxy", None)
        if proxy and "proxy" not in request.meta:
            request.meta["proxy"] = proxy
