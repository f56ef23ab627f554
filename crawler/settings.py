"""Scrapy settings built from our Settings object (never from the environment)."""

from __future__ import annotations

from typing import Any

from scrapy.settings import default_settings

from newsdedup.config import Settings
from newsdedup.crawler.slot_delays import AUTOTHROTTLE

# Server errors and request timeouts are worth another try; 4xx are not. 429 is retried once,
# after its Retry-After, by crawler.blocking.BlockedSiteMiddleware.
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408]


UNUSED_EXTENSIONS = (
    "scrapy.extensions.telnet.TelnetConsole",
    "scrapy.extensions.remote_control.RemoteControl",
    "scrapy.extensions.memdebug.MemoryDebugger",
    "scrapy.extensions.feedexport.FeedExporter",  # pages go to our sink, not to feed files
    "scrapy.extensions.spiderstate.SpiderState",  # no JOBDIR: every crawl starts afresh
)
UNUSED_DOWNLOADER_MIDDLEWARES = (
    "scrapy.downloadermiddlewares.cookies.CookiesMiddleware",
    "scrapy.downloadermiddlewares.httpcache.HttpCacheMiddleware",
)


def _without(components: dict[str, int], unused: tuple[str, ...]) -> dict[str, int]:
    return {name: order for name, order in components.items() if name not in unused}


def scrapy_settings(settings: Settings) -> dict[str, Any]:
    return {
        "BOT_NAME": "newsdedup",
        "USER_AGENT": settings.user_agent,
        "ROBOTSTXT_OBEY": settings.obey_robots,
        # Politeness: AutoThrottle adapts the delay to each server's latency.
        "AUTOTHROTTLE_ENABLED": settings.autothrottle,
        "AUTOTHROTTLE_START_DELAY": settings.autothrottle_start_delay,
        "AUTOTHROTTLE_MAX_DELAY": settings.autothrottle_max_delay,
        "DOWNLOAD_DELAY": settings.download_delay,
        "CONCURRENT_REQUESTS_PER_DOMAIN": settings.concurrent_requests_per_domain,
        # The spider hands pages to the sink itself and yields only requests, which Scrapy
        # schedules at once: its default (100) made and ran 100 asyncio tasks for every
        # response, for nothing (≈ 1 ms of the crawling thread's CPU a page, bench/throughput.py --profile).
        "CONCURRENT_ITEMS": 1,
        # Safety: no page may eat the memory or hold the crawl forever.
        "DOWNLOAD_MAXSIZE": settings.max_page_bytes,
        "DOWNLOAD_WARNSIZE": max(1, settings.max_page_bytes // 2),
        "DOWNLOAD_TIMEOUT": settings.download_timeout,
        "RETRY_ENABLED": settings.retry_times > 0,
        "RETRY_TIMES": settings.retry_times,
        "RETRY_HTTP_CODES": RETRY_HTTP_CODES,
        # Pages that fail are reported to the sink with a reason; the log need not shout.
        "RETRY_GIVE_UP_LOG_LEVEL": "INFO",
        "DOWNLOADER_MIDDLEWARES": {
            # Before everything, robots.txt included: a refused address costs no request.
            "newsdedup.crawler.addresses.AddressPolicyMiddleware": 50,
            # Higher than RedirectMiddleware (600): sees the 3xx before it is followed.
            "newsdedup.crawler.middlewares.OffsiteRedirectMiddleware": 650,
            # Between RetryMiddleware (550) and HttpCompressionMiddleware (590): 403, 429 and
            # challenge pages fail as "blocked" and slow the host down (crawler/blocking.py).
            "newsdedup.crawler.blocking.BlockedSiteMiddleware": 555,
            # Before HttpProxyMiddleware (750), which reads the meta it sets.
            "newsdedup.crawler.proxy.SourceProxyMiddleware": 740,
        },
        "NEWSDEDUP_BLOCKED_BACKOFF": settings.blocked_backoff,
        "NEWSDEDUP_BLOCKED_MAX_DELAY": settings.blocked_max_delay,
        # robots.txt's Crawl-delay becomes the host's minimum delay (crawler/robots_delay.py).
        "EXTENSIONS": {"newsdedup.crawler.robots_delay.RobotsCrawlDelay": 0},
        # Bounded discovery (crawler/spider.py) and a wall-clock limit for the whole crawl.
        "NEWSDEDUP_MAX_SITEMAPS": settings.max_sitemaps,
        "NEWSDEDUP_MAX_SITEMAP_DEPTH": settings.max_sitemap_depth,
        "CLOSESPIDER_TIMEOUT": settings.crawl_time_limit,
        # Where the crawler may connect (crawler/addresses.py); crawler.run adds the sources'
        # opt-ins, and the resolver that enforces them.
        "NEWSDEDUP_ALLOW_PRIVATE_ADDRESSES": settings.allow_private_addresses,
        "TWISTED_DNS_RESOLVER": "newsdedup.crawler.addresses.PolicyResolver",
        "DOWNLOADER_MIDDLEWARES_BASE": _without(
            default_settings.DOWNLOADER_MIDDLEWARES_BASE, UNUSED_DOWNLOADER_MIDDLEWARES
        ),
        # Each crawl is stateless: every page is asked again (conditionally), no cookies kept.
        "HTTPCACHE_ENABLED": False,
        "COOKIES_ENABLED": False,
        # A crawler listens on no port: Scrapy 2.19 starts a remote-control HTTP server that
        # runs code sent to it, and a telnet console, unless told not to.
        "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,
        # Components we never use are not even imported (remote control alone imports aiohttp,
        # the cookies middleware tldextract and requests: ≈ 0.5 s before the first page).
        # Dropped from the _BASE lists: Scrapy imports every key of EXTENSIONS and
        # DOWNLOADER_MIDDLEWARES, even one set to None, to normalize its name.
        # AutoThrottle is replaced by one that keeps the hosts' minimum delays (crawler/slot_delays.py).
        "EXTENSIONS_BASE": {
            **_without(default_settings.EXTENSIONS_BASE, (*UNUSED_EXTENSIONS, AUTOTHROTTLE)),
            "newsdedup.crawler.slot_delays.FloorAutoThrottle": default_settings.EXTENSIONS_BASE[AUTOTHROTTLE],
        },
        "LOG_LEVEL": "WARNING",
        # The newsdedup command's handler writes every line (config/logs.py: text or JSON,
        # with the crawl id); a second one of Scrapy's would write its lines twice.
        "LOG_INSTALL_ROOT_HANDLER": False,
        "LOGSTATS_INTERVAL": 0,
    }
