"""Per-domain minimum delays: robots.txt's Crawl-delay and the back-off after a block.

Scrapy spaces the requests of one download slot (one host) by the slot's ``delay``. Two things
here raise it for one host: ``crawler/robots_delay.py`` (Crawl-delay) and
``crawler/blocking.py`` (403, 429, challenge pages). A raised delay is a floor:

- it is kept in the downloader's ``per_slot_settings``, from which Scrapy builds a slot again
  after dropping an idle one;
- it has no jitter (Scrapy otherwise waits 0.5 to 1.5 times the delay): a Crawl-delay or a
  Retry-After is a minimum;
- ``FloorAutoThrottle`` replaces Scrapy's AutoThrottle, which would lower the delay again as
  soon as the server answers fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.extensions.throttle import AutoThrottle

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response

AUTOTHROTTLE = "scrapy.extensions.throttle.AutoThrottle"


def slot_key(crawler: Crawler, request: Request) -> str:
    assert crawler.engine is not None
    return crawler.engine.downloader.get_slot_key(request)


def slot_floor(crawler: Crawler, key: str) -> float:
    """The minimum delay set for the slot ``key`` (0.0: none)."""
    assert crawler.engine is not None
    return float(crawler.engine.downloader.per_slot_settings.get(key, {}).get("delay", 0.0))


def raise_slot_floor(crawler: Crawler, key: str, delay: float) -> float:
    """Make ``delay`` seconds the slot's minimum spacing (never lowers it); the new floor."""
    assert crawler.engine is not None
    downloader = crawler.engine.downloader
    floor = max(slot_floor(crawler, key), delay)
    settings = downloader.per_slot_settings.setdefault(key, {})
    settings["delay"] = floor
    settings["jitter"] = 0.0
    slot = downloader.slots.get(key)
    if slot is not None:
        slot.delay = max(slot.delay, floor)
        slot.jitter = 0.0
    return floor


class FloorAutoThrottle(AutoThrottle):
    """Scrapy's AutoThrottle, which never takes a slot below its floor."""

    def _response_downloaded(self, response: Response, request: Request, spider: Spider) -> None:
        super()._response_downloaded(response, request, spider)
        key, slot = self._get_slot(request, spider)
        if key is not None and slot is not None:
            slot.delay = max(slot.delay, slot_floor(self.crawler, key))
