"""Sites that refuse the bot: 403, 429 and anti-bot challenge pages, and the back-off after them.

A refusal is a failure with its own reason (``crawler.reasons.blocked``: "blocked: HTTP 403",
"blocked: HTTP 429", "blocked: challenge page (cloudflare)"), never an article and never a
"broken feed": ``BlockedSiteMiddleware`` raises ``Blocked`` before the response reaches the
spider, and the request's errback records it.

Challenge pages come with 200 as often as with 403 or 503. They are recognised by markers that
only the vendors' interstitials carry, never by words an article could contain:

- Cloudflare: the ``cf-mitigated: challenge`` header; ``window._cf_chl_opt`` (the challenge's
  own script); or the "Just a moment..." / "Attention Required! | Cloudflare" title together
  with the challenge markup. ``/cdn-cgi/challenge-platform/`` alone is no sign: Cloudflare
  injects that script into ordinary pages of the sites it protects.
- DataDome: its challenge loader (``var dd={...}`` with ``captcha-delivery.com``) or its iframe.
- PerimeterX (HUMAN): the ``px-captcha`` element.
- Imperva / Incapsula: the ``_Incapsula_Resource`` iframe or "Incapsula incident ID" (the
  ``_Incapsula_Resource`` script alone is on ordinary pages too).
- Sucuri: the ``sucuri_cloudproxy_js`` cookie script or its "Access Denied" firewall title.
- Akamai: the "Access Denied" title with Akamai's "Reference #18.xxxx.xxxx.xxxx" line.

Only bodies of at most ``CHALLENGE_MAX_BYTES`` are looked at: interstitials are a few KB,
articles that quote such markup are long.

Back-off, per download slot (one host), kept for the rest of the crawl (``slot_delays``):
after a 403 or a challenge page the host's delay becomes ``NEWSDEDUP_BLOCKED_BACKOFF`` seconds,
then doubles with each further refusal, up to ``NEWSDEDUP_BLOCKED_MAX_DELAY``. A 429's
``Retry-After`` (seconds or an HTTP date) raises it at least that far (capped at the same
maximum), and the refused request is asked once more after it, while the crawl still runs; a
second 429 is the failure.
"""

from __future__ import annotations

import email.utils
import html
import logging
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from scrapy import signals
from scrapy.exceptions import IgnoreRequest

from newsdedup.crawler.reasons import blocked
from newsdedup.crawler.slot_delays import raise_slot_floor, share_floors, slot_floor, slot_key

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)

CHALLENGE_MAX_BYTES = 256 * 1024
DEFAULT_BACKOFF_SECONDS = 5.0
DEFAULT_MAX_DELAY_SECONDS = 120.0
# Marks the second try of a request answered 429 (its only retry).
RETRIED_AFTER_429 = "newsdedup_retried_after_429"
# Marks a request whose refusal has slowed its host down already.
BACKED_OFF = "newsdedup_backed_off"


@dataclass(frozen=True)
class _Challenge:
    vendor: str
    markers: tuple[re.Pattern[str], ...]  # all must be found


def _rule(vendor: str, *patterns: str) -> _Challenge:
    return _Challenge(vendor, tuple(re.compile(p, re.IGNORECASE) for p in patterns))


_CF_MARKUP = (
    r"/cdn-cgi/challenge-platform/|cf-chl-|id=[\"']cf-wrapper|id=[\"']challenge-(?:form|running|stage)"
)
CHALLENGES = (
    _rule("cloudflare", r"window\._cf_chl_opt\s*="),
    _rule("cloudflare", r"<title>\s*Just a moment\.\.\.\s*</title>", _CF_MARKUP),
    _rule(
        "cloudflare",
        r"<title>\s*Attention Required! \| Cloudflare\s*</title>",
        r"cf-error-details|cf-wrapper",
    ),
    _rule("datadome", r"\bvar\s+dd\s*=\s*\{", r"captcha-delivery\.com"),
    _rule("datadome", r"<iframe[^>]+src=[\"'](?:https?:)?//[a-z0-9.-]*captcha-delivery\.com/"),
    _rule("perimeterx", r"<div[^>]+id=[\"']px-captcha[\"']"),
    _rule("imperva", r"<iframe[^>]+src=[\"'][^\"']*/_Incapsula_Resource\?"),
    _rule("imperva", r"Incapsula incident ID"),
    _rule("sucuri", r"\bsucuri_cloudproxy_js\b"),
    _rule("sucuri", r"<title>\s*Sucuri WebSite Firewall - Access Denied\s*</title>"),
    _rule(
        "akamai",
        r"<title>\s*Access Denied\s*</title>",
        r"Reference\s*#\s*\d+\.[0-9a-f]+\.\d+\.[0-9a-f]+",
    ),
)


# Every rule above needs one of these words, so a body without any of them is no challenge page:
# one case-insensitive scan of the raw bytes instead of unescaping the page and running every
# rule on it (which took ≈ 5 ms of a typical 300 KB article page, twice per response).
CHALLENGE_WORDS = (
    b"_cf_chl_opt",
    b"just a moment",
    b"attention required",
    b"captcha-delivery.com",
    b"px-captcha",
    b"_incapsula_resource",
    b"incapsula incident",
    b"sucuri",
    b"access denied",
)
# Where a request keeps the refusal found in its response (the signal handler and the
# middleware both ask; the answer is computed once).
REFUSAL = "newsdedup_refusal"


class Blocked(IgnoreRequest):
    """The site refused the bot; ``what`` says how ("HTTP 403", "challenge page (cloudflare)")."""

    def __init__(self, what: str) -> None:
        super().__init__(blocked(what))
        self.what = what
        self.reason = blocked(what)


def challenge_vendor(status: int, headers: dict[str, str], body: bytes) -> str | None:
    """The anti-bot vendor whose challenge page this is, or None for any other page."""
    if headers.get("cf-mitigated", "").strip().lower() == "challenge":
        return "cloudflare"
    if not body or len(body) > CHALLENGE_MAX_BYTES:
        return None
    lowered = body.lower()
    if not any(word in lowered for word in CHALLENGE_WORDS):
        return None
    # Markers are ASCII; latin-1 never fails. Entities unescaped: Akamai writes "&#35;".
    text = html.unescape(body.decode("latin-1"))
    for challenge in CHALLENGES:
        if all(marker.search(text) for marker in challenge.markers):
            return challenge.vendor
    return None


def refusal_of(request: Request, response: Response) -> str | None:
    """``refusal(response)``, computed once per response of ``request``."""
    found = request.meta.get(REFUSAL)
    if found is not None and found[0] is response:
        return found[1]
    what = refusal(response)
    request.meta[REFUSAL] = (response, what)
    return what


def refusal(response: Response) -> str | None:
    """How ``response`` refuses the bot ("HTTP 403", "challenge page (datadome)"), or None."""
    headers = {
        name.decode("latin-1").lower(): (values[-1] if values else b"").decode("latin-1")
        for name, values in response.headers.items()
    }
    vendor = challenge_vendor(response.status, headers, response.body)
    if vendor is not None:
        return f"challenge page ({vendor})"
    if response.status in (403, 429):
        return f"HTTP {response.status}"
    return None


def retry_after_seconds(value: str | bytes | None, now: float | None = None) -> float | None:
    """A Retry-After header (delay-seconds or an HTTP date) in seconds from now, or None."""
    if value is None:
        return None
    text = (value.decode("latin-1") if isinstance(value, bytes) else value).strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def backoff_delay(
    current: float, backoff: float, max_delay: float, retry_after: float | None = None
) -> float:
    """A host's delay after one more refusal: ``backoff`` at first, then twice the current one,
    at least ``retry_after``; never more than ``max_delay``."""
    return min(max_delay, max(backoff, 2 * current, retry_after or 0.0))


class BlockedSiteMiddleware:
    """Downloader middleware between RetryMiddleware (550) and HttpCompressionMiddleware (590):
    it sees decompressed bodies, and a refusal is never retried as a server error.

    The host is slowed down as soon as the response arrives (``response_downloaded``, before
    Scrapy sends the host's next request), when the refusal shows without decompressing: a
    status, a header, a plain body. A compressed challenge page slows it down once decompressed,
    in ``process_response``."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        share_floors(crawler)
        self.backoff = crawler.settings.getfloat("NEWSDEDUP_BLOCKED_BACKOFF", DEFAULT_BACKOFF_SECONDS)
        self.max_delay = crawler.settings.getfloat("NEWSDEDUP_BLOCKED_MAX_DELAY", DEFAULT_MAX_DELAY_SECONDS)
        crawler.signals.connect(self._downloaded, signal=signals.response_downloaded)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BlockedSiteMiddleware:
        return cls(crawler)

    def _downloaded(self, response: Response, request: Request) -> None:
        if not request.meta.get("dont_obey_robotstxt") and refusal_of(request, response) is not None:
            self._back_off(request, response)

    def process_response(self, request: Request, response: Response) -> Request | Response:
        if request.meta.get("dont_obey_robotstxt"):
            # robots.txt itself: a refused one means "no rules" to Scrapy, as RFC 9309 says.
            return response
        what = refusal_of(request, response)
        if what is None:
            return response
        delay = self._back_off(request, response)
        if response.status == 429 and what == "HTTP 429" and not request.meta.get(RETRIED_AFTER_429):
            logger.info("%s: HTTP 429; asking again in %gs", request.url, delay)
            # Through the scheduler into the same slot, which now waits ``delay`` first.
            meta = {key: value for key, value in request.meta.items() if key not in (BACKED_OFF, REFUSAL)}
            return request.replace(dont_filter=True, meta={**meta, RETRIED_AFTER_429: True})
        raise Blocked(what)

    def _back_off(self, request: Request, response: Response) -> float:
        """Slow the request's host down, once per response; the host's delay now."""
        key = slot_key(self.crawler, request)
        current = slot_floor(self.crawler, key)
        # Once per refusal: the decompressed response that process_response sees is another
        # object than the one response_downloaded saw, but the same refusal.
        if request.meta.get(BACKED_OFF):
            return current
        request.meta[BACKED_OFF] = True
        retry_after = (
            retry_after_seconds(response.headers.get("Retry-After")) if response.status == 429 else None
        )
        delay = backoff_delay(current, self.backoff, self.max_delay, retry_after)
        floor = raise_slot_floor(self.crawler, key, delay)
        logger.warning(
            "%s refuses the bot (%s): %gs between its requests from now on", key, request.url, floor
        )
        return floor
