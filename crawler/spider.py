"""One spider class, configured per source: discovery documents in, article pages out."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import scrapy
from scrapy.exceptions import DownloadCancelledError, DownloadTimeoutError, IgnoreRequest
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.error import TimeoutError as TwistedTimeoutError
from twisted.internet.threads import deferToThread
from twisted.python.failure import Failure

from newsdedup.config import Source
from newsdedup.crawler.addresses import AddressRefused, refused_hosts
from newsdedup.crawler.blocking import Blocked
from newsdedup.crawler.discovery import (
    BrokenDocument,
    Discovered,
    Link,
    parse_feed,
    parse_listing,
    parse_sitemap,
)
from newsdedup.crawler.encoding import header, html_text
from newsdedup.crawler.middlewares import OffsiteRedirect
from newsdedup.crawler.reasons import ROBOTS_DENIED
from newsdedup.crawler.sink import PageSink
from newsdedup.crawler.stats import SourceStats
from newsdedup.fetched.page import Page, Validators

if TYPE_CHECKING:
    from newsdedup.crawler.archive import ResponseArchive

logger = logging.getLogger(__name__)

FEED, SITEMAP, LISTING, ARTICLE = "feed", "sitemap", "listing", "article"
# Scrapy takes higher priorities first; article requests keep the default, 0.
DISCOVERY_PRIORITY = 10

Outcome = Callable[[str, str, str], None]  # (source, url, outcome) -> None


class NewsSpider(scrapy.Spider):
    """Crawls one source once. Built by ``run_crawl``; each article URL is fetched once."""

    name = "news"

    def __init__(
        self,
        source: Source,
        sink: PageSink,
        crawl_id: str,
        stats: SourceStats,
        on_outcome: Outcome | None = None,
        archive: ResponseArchive | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name=source.name, **kwargs)
        self.source = source
        self.sink = sink
        self.crawl_id = crawl_id
        self.stats = stats
        self.on_outcome = on_outcome or (lambda source, url, outcome: None)
        self.archive = archive  # raw responses to WARC files (crawler/archive.py), or None
        self.allowed_domains = list(source.allowed_domains)
        # Article URL → what discovery said of it. A URL listed by several documents (a feed
        # and a sitemap) is fetched once; its hints merge, whichever document came first.
        self._articles_seen: dict[str, dict[str, str]] = {}
        self._discovery_seen: set[str] = set()
        self._sitemaps_requested = 0
        self._limits_hit: set[str] = set()

    # --- discovery ---
    async def start(self) -> AsyncIterator[scrapy.Request]:
        for kind, urls in (
            (FEED, self.source.feeds),
            (SITEMAP, self.source.sitemaps),
            (LISTING, self.source.listings),
        ):
            for url in urls:
                request = self._discovery_request(url, kind)
                if request is not None:
                    yield request

    def _discovery_request(self, url: str, kind: str, depth: int = 0) -> scrapy.Request | None:
        if url in self._discovery_seen:
            return None  # a sitemap index that lists itself, a feed named twice...
        if kind == SITEMAP and not self._within_sitemap_limits(url, depth):
            return None
        self._discovery_seen.add(url)
        headers = {}
        # Ask conditionally only when we could reuse what the document listed last time.
        if self.sink.discovery_links(url) is not None:
            headers = _conditional_headers(self.sink.validators(url))
        return scrapy.Request(
            url,
            callback=self.parse_discovery,
            errback=self.on_error,
            headers=headers,
            # Before any article: a page listed by a feed and a sitemap then gets the hints of
            # both (see _article_requests), and the feeds are read before their pages are.
            priority=DISCOVERY_PRIORITY,
            meta={
                "kind": kind,
                "listed_url": url,
                "depth_of_sitemap": depth,
                "handle_httpstatus_list": [304],
            },
        )

    def _within_sitemap_limits(self, url: str, depth: int) -> bool:
        """Count a sitemap to be requested, or leave it out (and say so, once per limit):
        an index of indexes can go on for ever, and nothing else bounds it."""
        max_depth = self.settings.getint("NEWSDEDUP_MAX_SITEMAP_DEPTH", 3)
        max_sitemaps = self.settings.getint("NEWSDEDUP_MAX_SITEMAPS", 1000)
        if depth > max_depth:
            self._limit_hit(
                "depth",
                url,
                f"sitemap limit: nested deeper than {max_depth} sitemap indexes "
                "(NEWSDEDUP_MAX_SITEMAP_DEPTH)",
            )
            return False
        if self._sitemaps_requested >= max_sitemaps:
            self._limit_hit(
                "count",
                url,
                f"sitemap limit: more than {max_sitemaps} sitemaps in one crawl (NEWSDEDUP_MAX_SITEMAPS)",
            )
            return False
        self._sitemaps_requested += 1
        return True

    def _limit_hit(self, limit: str, url: str, reason: str) -> None:
        self.stats.sitemaps_left_out += 1
        if limit not in self._limits_hit:
            self._limits_hit.add(limit)
            logger.warning("source %s: %s; left out from %s on", self.source.name, reason, url)
            self._failed(url, reason)

    def closed(self, reason: str) -> None:
        """Scrapy's last call: say what the limits left out; a crawl stopped by its time
        limit is recorded as a failure of the source."""
        if self.stats.sitemaps_left_out:
            logger.warning(
                "source %s: %d sitemaps left out by the sitemap limits",
                self.source.name,
                self.stats.sitemaps_left_out,
            )
        if reason == "closespider_timeout":
            limit = self.settings.getint("CLOSESPIDER_TIMEOUT")
            self.stats.timed_out = 1
            logger.warning(
                "source %s: crawl stopped by its time limit after %ss (NEWSDEDUP_CRAWL_TIME_LIMIT)",
                self.source.name,
                limit,
            )
            self._failed(
                self.source.start_urls[0],
                f"crawl time limit: stopped after {limit}s (NEWSDEDUP_CRAWL_TIME_LIMIT)",
            )

    async def parse_discovery(self, response: Response) -> AsyncIterator[scrapy.Request]:
        url, kind = response.meta["listed_url"], response.meta["kind"]
        if response.status == 304:
            stored = self.sink.discovery_links(url)
            if stored is None and response.request is not None:
                # What it listed last time cannot be read now (the store is away): ask again
                # unconditionally rather than lose the document's articles for this crawl.
                yield response.request.replace(
                    headers={}, dont_filter=True, meta={**response.meta, "handle_httpstatus_list": []}
                )
                return
            for request in self._article_requests([Link(link) for link in stored or ()]):
                yield request
            return
        if response.status != 200:
            self._failed(url, f"HTTP {response.status}")
            return
        try:
            # In a thread of the reactor's pool: a large feed or sitemap (up to
            # NEWSDEDUP_MAX_PAGE_BYTES) does not hold up the downloads of every source.
            found = await maybe_deferred_to_future(deferToThread(self._parse_document, response, kind))
        except BrokenDocument as exc:
            self._failed(url, str(exc))
            return
        self.stats.bad_links += len(found.bad_links)
        for child in found.sitemaps:
            child_request = self._discovery_request(
                child, SITEMAP, response.meta.get("depth_of_sitemap", 0) + 1
            )
            if child_request is not None:
                yield child_request
        if not found.sitemaps:
            # A sitemap index is not remembered: on a 304 we could not tell its children
            # (sitemaps) from articles. It is small; its children are asked conditionally.
            self.sink.save_discovery(url, _validators(response), [link.url for link in found.articles])
        for request in self._article_requests(found.articles):
            yield request

    def _parse_document(self, response: Response, kind: str) -> Discovered:
        if kind == FEED:
            return parse_feed(response.body, response.url, header(response, "Content-Type"))
        if kind == SITEMAP:
            return parse_sitemap(response.body, response.url, self.settings.getint("DOWNLOAD_MAXSIZE"))
        text = html_text(response)
        if text is None:
            raise BrokenDocument(f"listing page is not HTML: {header(response, 'Content-Type') or 'no type'}")
        return parse_listing(text, response.url, self.source.article_links)

    def _article_requests(self, links: Iterable[Link]) -> Iterable[scrapy.Request]:
        new: list[Link] = []
        for link in links:
            if link.url in self._articles_seen:
                for key, value in link.hints.items():
                    self._articles_seen[link.url].setdefault(key, value)
                continue
            if len(self._articles_seen) >= self.source.max_pages:
                self.stats.over_limit += 1
                continue
            self._articles_seen[link.url] = dict(link.hints)
            new.append(link)
        # One lookup for the whole document: a sitemap lists hundreds of articles.
        known = self.sink.validators_many([link.url for link in new]) if new else {}
        for link in new:
            self.stats.discovered += 1
            self.on_outcome(self.source.name, link.url, "discovered")
            yield scrapy.Request(
                link.url,
                callback=self.parse_article,
                errback=self.on_error,
                headers=_conditional_headers(known.get(link.url)),
                meta={"kind": ARTICLE, "listed_url": link.url, "handle_httpstatus_list": [304]},
            )

    # --- article pages ---
    def parse_article(self, response: Response) -> None:
        url = response.meta["listed_url"]
        if response.status == 304:
            if self.archive is not None:
                self.archive.not_modified(response, url, self.source.name, self.crawl_id)
            self.sink.not_modified(url, self.source.name)
            self.stats.not_modified += 1
            self.on_outcome(self.source.name, url, "not_modified")
            return
        if response.status != 200:
            self._failed(url, f"HTTP {response.status}")
            return
        if not response.body.strip():
            self._failed(url, "empty body")
            return
        html = html_text(response)
        if html is None:
            self._failed(
                url, f"not HTML: {header(response, 'Content-Type').split(';')[0].strip() or 'unknown type'}"
            )
            return
        page = Page(
            url=url,
            final_url=response.url,
            status=response.status,
            headers={
                name.decode("latin-1").lower(): (values[-1] if values else b"").decode("latin-1")
                for name, values in response.headers.items()
            },
            html=html,
            fetched_at=datetime.now(UTC),
            source=self.source.name,
            crawl_id=self.crawl_id,
            hints=dict(self._articles_seen.get(url, {})),
        )
        if self.archive is not None:
            page = self.archive.page(page, response)
        try:
            self.sink.accept(page)
        except Exception as exc:
            logger.exception("the sink refused %s", url)
            self._failed(url, f"hand-off failed: {exc}")
            return
        self.stats.pages_fetched += 1
        self.on_outcome(self.source.name, url, "fetched")

    # --- failures ---
    def on_error(self, failure: Failure) -> None:
        request = getattr(failure, "request", None)
        url = request.meta.get("listed_url", request.url) if request is not None else "?"
        if isinstance(failure.value, IgnoreRequest) and "robots.txt" in str(failure.value):
            # Obeying robots.txt is the crawler doing its job, not an error.
            self.sink.skipped(url, self.source.name, ROBOTS_DENIED)
            self.stats.disallowed += 1
            self.on_outcome(self.source.name, url, "skipped")
            return
        self._failed(url, self._reason(failure, request))

    def _reason(self, failure: Failure, request: scrapy.Request | None) -> str:
        error = failure.value
        if isinstance(error, Blocked):
            return error.reason  # 403, 429 or a challenge page (crawler/blocking.py)
        if (
            isinstance(error, IgnoreRequest)
            and "offsite" in str(error).lower()
            and request is not None
            and request.meta.get("redirect_urls")
        ):
            # A redirect that only Scrapy's OffsiteMiddleware caught (e.g. a meta refresh).
            return f"redirect to another host: {request.url}"
        if isinstance(error, HttpError):
            return f"HTTP {error.response.status}"
        if isinstance(error, (OffsiteRedirect, AddressRefused)):
            return str(error)
        if request is not None and refused_hosts:
            # The resolver refused the name; Twisted and Scrapy report a bare lookup failure.
            refused = refused_hosts.get((urlsplit(request.url).hostname or "").lower())
            if refused:
                return refused
        if isinstance(error, (DownloadTimeoutError, TwistedTimeoutError)):
            return f"timeout after {self.settings.getfloat('DOWNLOAD_TIMEOUT'):g}s"
        if isinstance(error, DownloadCancelledError) and "max size" in str(error):
            return f"larger than {self.settings.getint('DOWNLOAD_MAXSIZE')} bytes"
        message = str(error).strip() or type(error).__name__
        return f"{type(error).__name__}: {message}"

    def _failed(self, url: str, reason: str) -> None:
        try:
            self.sink.failed(url, self.source.name, reason)
        except Exception:
            logger.exception("the sink could not record the failure of %s", url)
        self.stats.errors += 1
        self.on_outcome(self.source.name, url, "failed")


def _validators(response: Response) -> Validators:
    return Validators(header(response, "ETag") or None, header(response, "Last-Modified") or None)


def _conditional_headers(validators: Validators | None) -> dict[str, str]:
    headers: dict[str, str] = {}
    if validators and validators.etag:
        headers["If-None-Match"] = validators.etag
    if validators and validators.last_modified:
        headers["If-Modified-Since"] = validators.last_modified
    return headers
