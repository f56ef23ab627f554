"""robots.txt ``Crawl-delay``: Scrapy's RobotsTxtMiddleware obeys Allow and Disallow only.

When a host's robots.txt has been parsed (Scrapy's ``robots_parsed`` signal, before any
request waiting for it goes on), the Crawl-delay it gives our user agent becomes the minimum
spacing of requests to that host (``crawler/slot_delays.py``), capped at
``MAX_CRAWL_DELAY_SECONDS``: a robots.txt asking for an hour between pages would otherwise
stop a crawl of that site for good.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from scrapy import signals

from newsdedup.crawler.slot_delays import raise_slot_floor, share_floors, slot_key

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.robotstxt import RobotParser

logger = logging.getLogger(__name__)

MAX_CRAWL_DELAY_SECONDS = 60.0


class RobotsCrawlDelay:
    """An extension: applies each host's Crawl-delay once its robots.txt is parsed."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        share_floors(crawler)
        settings = crawler.settings
        self.user_agent = settings.get("ROBOTSTXT_USER_AGENT") or settings.get("USER_AGENT") or "*"
        crawler.signals.connect(self.robots_parsed, signal=signals.robots_parsed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RobotsCrawlDelay:
        return cls(crawler)

    def robots_parsed(self, robotparser: RobotParser, request: Request) -> None:
        try:
            asked = robotparser.crawl_delay(self.user_agent)
        except Exception:  # a parser that cannot answer gives no delay
            logger.debug("no Crawl-delay from the robots.txt of %s", request.url, exc_info=True)
            return
        if not asked or asked <= 0:
            return
        delay = min(float(asked), MAX_CRAWL_DELAY_SECONDS)
        key = slot_key(self.crawler, request)
        raise_slot_floor(self.crawler, key, delay)
        logger.info(
            "%s: robots.txt asks for %gs between requests; waiting %gs (at most %gs)",
            key,
            asked,
            delay,
            MAX_CRAWL_DELAY_SECONDS,
        )
