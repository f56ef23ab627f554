"""Per-domain minimum delays: robots.txt's Crawl-delay and the back-off after a block.

Scrapy spaces the requests of one download slot (one host) by the slot's ``delay``. Two things
here raise it for one host: ``crawler/robots_delay.py`` (Crawl-delay) and
``crawler/blocking.py`` (403, 429, challenge pages). A raised delay is a floor:

- it is kept in the downloader's ``per_slot_settings``, from which Scrapy builds a slot again
  after dropping an idle one;
- it has no jitter (Scrapy otherwise waits 0.5 to 1.5 times the delay): a Crawl-delay or a
  Retry-After is a minimum;
- ``FloorAutoThrottle`` replaces Scrapy's AutoThrottle, which would lower the delay again as
  soon as the server answers fast;
- it holds for the whole crawling process: each source is a Scrapy crawler of its own, all in
  one reactor, and a host that refused one source's requests (or asked for a Crawl-delay) is
  asked more slowly by every source of the crawl that fetches from it.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

from scrapy import signals
from scrapy.extensions.throttle import AutoThrottle

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response

AUTOTHROTTLE = "scrapy.extensions.throttle.AutoThrottle"


# The floors of this process's crawl, by slot key (host), and the crawlers they apply to. One
# crawl runs in a process (Scrapy's reactor does not restart), so they live as long as it.
_host_floors: dict[str, float] = {}
_crawlers: weakref.WeakSet[Crawler] = weakref.WeakSet()


def share_floors(crawler: Crawler) -> None:
    """Let ``crawler`` take, and give, the hosts' floors of every other crawler of the process."""
    if crawler in _crawlers:
        return
    _crawlers.add(crawler)
    # Its downloader exists once its engine does; floors raised before then apply from there.
    crawler.signals.connect(lambda: _apply_all(crawler), signal=signals.engine_started, weak=False)


def _apply_all(crawler: Crawler) -> None:
    for key, floor in _host_floors.items():
        _apply(crawler, key, floor)


def slot_key(crawler: Crawler, request: Request) -> str:
    assert crawler.engine is not None
    return crawler.engine.downloader.get_slot_key(request)


def slot_floor(crawler: Crawler, key: str) -> float:
    """The minimum delay set for the slot ``key`` (0.0: none)."""
    assert crawler.engine is not None
    own = float(crawler.engine.downloader.per_slot_settings.get(key, {}).get("delay", 0.0))
    return max(own, _host_floors.get(key, 0.0))


def raise_slot_floor(crawler: Crawler, key: str, delay: float) -> float:
    """Make ``delay`` seconds the slot's minimum spacing (never lowers it), for ``crawler`` and
    every crawler sharing the process's floors; the new floor."""
    floor = max(slot_floor(crawler, key), delay)
    _host_floors[key] = floor
    for each in {crawler, *_crawlers}:
        _apply(each, key, floor)
    return floor


def _apply(crawler: Crawler, key: str, floor: float) -> None:
    if crawler.engine is None:
        return  # not started yet: engine_started applies it
    downloader = crawler.engine.downloader
    settings = downloader.per_slot_settings.setdefault(key, {})
    settings["delay"] = max(float(settings.get("delay", 0.0)), floor)
    settings["jitter"] = 0.0
    slot = downloader.slots.get(key)
    if slot is not None:
        slot.delay = max(slot.delay, floor)
        slot.jitter = 0.0


class FloorAutoThrottle(AutoThrottle):
    """Scrapy's AutoThrottle, which never takes a slot below its floor."""

    def _response_downloaded(self, response: Response, request: Request, spider: Spider) -> None:
        super()._response_downloaded(response, request, spider)
        key, slot = self._get_slot(request, spider)
        if key is not None and slot is not None:
            slot.delay = max(slot.delay, slot_floor(self.crawler, key))
