"""Where the crawler may connect: public addresses, on the ports of the source's discovery URLs.

Pages, feeds and sitemaps are written by strangers; a link, a redirect or a DNS name may point
at the machine itself, the internal network or a cloud metadata service. By default the
crawler refuses to connect to loopback, private, link-local, multicast, reserved and other
non-public addresses (Python's ``ipaddress`` classification), checked twice:

* ``PolicyResolver`` is Scrapy's DNS resolver (``TWISTED_DNS_RESOLVER``): the address it
  answers is the one the connection is made to, so a name that resolves to an internal
  address is refused however it is spelled, including after a redirect;
* ``AddressPolicyMiddleware`` (downloader middleware) refuses URLs whose host is an IP
  literal the source may not reach, and ports other than the source's (``Source.ports``),
  for every request: links, redirects and meta refreshes alike.

Opt-ins: ``NEWSDEDUP_ALLOW_PRIVATE_ADDRESSES=1`` for every source; ``allow_private_addresses:
true`` for one source (its ``allowed_domains`` may then resolve to private addresses). A
refusal fails the request with ``AddressRefused`` (the spider records it with its reason).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.exceptions import IgnoreRequest
from scrapy.resolver import CachingThreadedResolver
from twisted.internet.error import DNSLookupError

from newsdedup.config import Settings, Source
from newsdedup.crawler.middlewares import host_in_domains
from newsdedup.fetched.addresses import address_problem, is_ip_literal

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from twisted.internet.base import ReactorBase
    from twisted.internet.defer import Deferred

log = logging.getLogger(__name__)

# Scrapy settings (process-wide, set by crawler.run) that carry the policy to the resolver.
ALLOW_ALL_SETTING = "NEWSDEDUP_ALLOW_PRIVATE_ADDRESSES"
PRIVATE_DOMAINS_SETTING = "NEWSDEDUP_PRIVATE_ADDRESS_DOMAINS"
PROXY_ADDRESSES_SETTING = "NEWSDEDUP_PROXY_ADDRESSES"

# Host name → why the resolver refused it. Twisted's endpoints replace the resolver's error by
# a bare "no results" DNSLookupError; the spider reads the reason here (one crawl per process).
refused_hosts: dict[str, str] = {}


class AddressRefused(IgnoreRequest):
    """The crawler may not connect there; ``reason`` says why, for the failures table."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"refused: {reason}")
        self.reason = f"refused: {reason}"


def private_domains(sources: Iterable[Source]) -> list[str]:
    """The domains whose names may resolve to private addresses: those of opted-in sources,
    and the sources' proxies (the operator's own machines, often on the internal network)."""
    sources = list(sources)
    proxies = {urlsplit(source.proxy).hostname or "" for source in sources if source.proxy}
    return sorted(
        {
            domain.lower()
            for source in sources
            if source.allow_private_addresses
            for domain in source.allowed_domains
        }
        | {host.lower() for host in proxies if host and not is_ip_literal(host)}
    )


def proxy_addresses(sources: Iterable[Source]) -> list[str]:
    """The sources' proxies given as IP literals: the operator's own machines, connected to
    whatever kind of address they are (a name's answer is checked as a private domain's)."""
    hosts = {urlsplit(source.proxy).hostname or "" for source in sources if source.proxy}
    return sorted(host.strip("[]") for host in hosts if host and is_ip_literal(host))


def policy_settings(settings: Settings, sources: Sequence[Source]) -> dict[str, Any]:
    """The process-wide Scrapy settings of the policy, for ``CrawlerProcess``."""
    return {
        ALLOW_ALL_SETTING: settings.allow_private_addresses,
        PRIVATE_DOMAINS_SETTING: private_domains(sources),
        PROXY_ADDRESSES_SETTING: proxy_addresses(sources),
    }


class PolicyResolver(CachingThreadedResolver):
    """Scrapy's caching resolver, refusing answers that are not public addresses.

    The check is on the resolved address, the one the connection goes to: a name cannot be
    made to pass by a DNS answer that differs from a first lookup (the connection uses this
    very answer)."""

    def __init__(
        self,
        reactor: ReactorBase,
        cache_size: int,
        timeout: float,
        allow_all: bool = False,
        domains: Sequence[str] = (),
        proxies: Sequence[str] = (),
    ) -> None:
        super().__init__(reactor, cache_size, timeout)
        self.allow_all = allow_all
        self.domains = tuple(domains)
        self.proxies = frozenset(proxies)

    @classmethod
    def from_crawler(cls, crawler: Crawler, reactor: ReactorBase) -> PolicyResolver:
        resolver = super().from_crawler(crawler, reactor)
        resolver.allow_all = crawler.settings.getbool(ALLOW_ALL_SETTING)
        resolver.domains = tuple(crawler.settings.getlist(PRIVATE_DOMAINS_SETTING))
        resolver.proxies = frozenset(crawler.settings.getlist(PROXY_ADDRESSES_SETTING))
        return resolver

    def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> Deferred[str]:
        deferred = super().getHostByName(name, timeout)
        # Twisted asks the resolver for IP literals too: a proxy's address is the operator's.
        if (
            self.allow_all
            or name.strip("[]") in self.proxies
            or host_in_domains(f"http://{name}/", self.domains)
        ):
            return deferred
        return deferred.addCallback(self._check, name)

    def _check(self, address: str, name: str) -> str:
        problem = address_problem(address)
        if problem is None:
            return address
        reason = (
            f"refused: {name} resolves to {address}, {problem.split(' is ', 1)[1]}"
            if name != address
            else f"refused: {problem}"
        )
        refused_hosts[name.lower()] = reason
        log.warning("%s (allow_private_addresses is off for it)", reason)
        raise DNSLookupError(reason)


class AddressPolicyMiddleware:
    """Refuse requests to ports other than the source's and to IP literals it may not reach.

    Runs before every other downloader middleware (robots.txt included), so a refused URL
    costs no request at all."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.allow_all = crawler.settings.getbool(ALLOW_ALL_SETTING)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> AddressPolicyMiddleware:
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        source: Source | None = getattr(self.crawler.spider, "source", None)
        if source is None:
            return None
        parts = urlsplit(request.url)
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise AddressRefused(f"bad port in {request.url}") from None
        if port not in source.ports:
            raise AddressRefused(f"port {port} is not a port of the source's discovery URLs")
        host = parts.hostname or ""
        # Through a proxy, names are resolved by the proxy; IP literals and ports are checked here.
        if self.allow_all or source.allow_private_addresses or not is_ip_literal(host):
            return None  # names are checked by PolicyResolver on the address they resolve to
        problem = address_problem(host.strip("[]"))
        if problem is not None:
            raise AddressRefused(problem)
        return None
