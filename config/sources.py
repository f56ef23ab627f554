"""The sources file: schema, loader and the errors that name the source and the key."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from newsdedup.config.sinks import Sink, SinkConfigError, parse_sinks
from newsdedup.extract.rules import (
    ExtractionRules,
    PageRules,
    RuleError,
    parse_extraction,
    parse_languages,
)
from newsdedup.extract.safe_text import without_credentials

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]*$")
INTERVAL_PATTERN = re.compile(r"^(\d+)([smhd])$")
INTERVAL_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
CRON_FIELD_RANGES = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]
CRON_ITEM = re.compile(r"^(\*|\d+(?:-\d+)?)(?:/(\d+))?$")
KNOWN_KEYS = {
    "name",
    "feeds",
    "sitemaps",
    "listings",
    "article_links",
    "allowed_domains",
    "schedule",
    "max_pages",
    "allow_private_addresses",
    "proxy",
    "extraction",
    "languages",
    "stale_after",
}
DEFAULT_SCHEDULE = "1h"
DEFAULT_MAX_PAGES = 1000


class ConfigError(ValueError):
    """A bad sources file or setting; the message names the source and the key."""


@dataclass(frozen=True)
class Schedule:
    """Either a fixed interval in seconds or a 5-field cron expression."""

    text: str
    interval_seconds: int | None = None
    cron_fields: tuple[str, str, str, str, str] | None = None


@dataclass(frozen=True)
class Source:
    name: str
    feeds: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    listings: tuple[str, ...] = ()
    article_links: re.Pattern[str] | None = None
    allowed_domains: tuple[str, ...] = ()
    schedule: Schedule = field(default_factory=lambda: parse_schedule(DEFAULT_SCHEDULE, "?"))
    max_pages: int = DEFAULT_MAX_PAGES
    # An intranet source: the crawler may connect to loopback and private addresses for it.
    allow_private_addresses: bool = False
    # Every request of the source goes through this HTTP proxy (Scrapy's ``proxy`` meta).
    proxy: str | None = None
    # Where its fields come from, for a publisher the generic extractor gets wrong.
    extraction: ExtractionRules | None = None
    # Pages in other languages are rejected; empty: every language is kept.
    languages: tuple[str, ...] = ()

    @property
    def page_rules(self) -> PageRules:
        """What extraction needs to know of the source (sent with its pages to extraction)."""
        return PageRules(self.extraction, self.languages)

    # Seconds without a new article after which the source is "stale" (newsdedup status);
    # None: three schedule intervals (newsdedup/source_status.py).
    stale_after: int | None = None

    @property
    def start_urls(self) -> tuple[str, ...]:
        return self.feeds + self.sitemaps + self.listings

    @property
    def ports(self) -> frozenset[int]:
        """The ports the crawler may fetch for this source: those of its discovery URLs, and
        443 beside 80 (the move to HTTPS that sites answer http:// with)."""
        ports = {urlsplit(url).port or (443 if url.startswith("https:") else 80) for url in self.start_urls}
        if 80 in ports:
            ports.add(443)
        return frozenset(ports)


def load_sources(path: str | Path) -> list[Source]:
    """Read and validate a sources file; raise ConfigError naming what is wrong."""
    path = Path(path)
    return parse_sources(_read_yaml(path), origin=str(path), base_dir=path.parent)


def load_sinks(path: str | Path) -> list[Sink]:
    """The sinks of a sources file (its ``sinks:`` list; none when it has none), validated
    like the sources; relative paths in them start at the file's folder."""
    path = Path(path)
    data = _read_yaml(path)
    parse_sources(data, origin=str(path), base_dir=path.parent)
    return _sinks_of(data, str(path), path.parent)


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"sources file {path} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"sources file {path} cannot be read: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"sources file {path} is not valid YAML: {exc}") from None
    return data


def _sinks_of(data: dict[str, Any], origin: str, base_dir: Path | None) -> list[Sink]:
    try:
        return parse_sinks(data.get("sinks"), origin, base_dir)
    except SinkConfigError as exc:
        raise ConfigError(str(exc)) from None


class UnknownSource(ConfigError):
    """Source names that are not in the sources file (``unknown``), with the file's own names."""

    def __init__(self, unknown: list[str], known: list[str]) -> None:
        listed = ", ".join(repr(name) for name in unknown[:10])
        plural = "s" if len(unknown) > 1 else ""
        super().__init__(f"unknown source{plural} {listed} (known: {_listing(sorted(known))})")
        self.unknown = unknown
        self.known = known


def select_sources(sources: Sequence[Source], names: Iterable[str]) -> list[Source]:
    """The sources named, in the order named, each once; all of them when none are named.
    Raises UnknownSource naming every name the sources file does not have."""
    by_name = {source.name: source for source in sources}
    wanted = list(dict.fromkeys(names))
    if not wanted:
        return list(sources)
    unknown = [name for name in wanted if name not in by_name]
    if unknown:
        raise UnknownSource(unknown, list(by_name))
    return [by_name[name] for name in wanted]


def _listing(names: list[str], most: int = 20) -> str:
    if not names:
        return "none"
    shown = ", ".join(names[:most])
    return shown + (f", and {len(names) - most} more" if len(names) > most else "")


def parse_sources(data: Any, origin: str = "sources file", base_dir: Path | None = None) -> list[Source]:
    """The sources of a parsed sources file; its ``sinks:`` list is validated too (a bad sink
    stops every command at start-up, like a bad source)."""
    if not isinstance(data, dict) or not isinstance(data.get("sources"), list):
        raise ConfigError(f"{origin}: the top level must be a mapping with a 'sources' list")
    unknown_top = set(data) - {"sources", "sinks"}
    if unknown_top:
        raise ConfigError(f"{origin}: unknown top-level key {sorted(unknown_top)[0]!r}")
    sources: list[Source] = []
    seen: set[str] = set()
    for index, entry in enumerate(data["sources"]):
        source = _parse_source(entry, index, origin)
        if source.name in seen:
            raise ConfigError(f"{origin}: source {source.name!r}, key 'name': duplicate name")
        seen.add(source.name)
        sources.append(source)
    if "sinks" in data:
        _sinks_of(data, origin, base_dir)
    return sources


def _parse_source(entry: Any, index: int, origin: str) -> Source:
    if not isinstance(entry, dict):
        raise ConfigError(f"{origin}: source #{index + 1} must be a mapping")
    name = entry.get("name")
    label = f"source {name!r}" if isinstance(name, str) else f"source #{index + 1}"

    def fail(key: str, why: str) -> ConfigError:
        # A URL quoted back (a proxy's, a feed's) never shows its password.
        return ConfigError(without_credentials(f"{origin}: {label}, key {key!r}: {why}"))

    for key in entry:
        if key not in KNOWN_KEYS:
            raise fail(str(key), f"unknown key (known: {', '.join(sorted(KNOWN_KEYS))})")
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise fail("name", "required; lowercase letters, digits and '-'")

    def url_list(key: str) -> tuple[str, ...]:
        value = entry.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise fail(key, "must be a list of URLs")
        for url in value:
            parts = urlsplit(url) if isinstance(url, str) else None
            if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
                raise fail(key, f"{url!r} is not an http(s) URL")
        return tuple(value)

    feeds, sitemaps, listings = url_list("feeds"), url_list("sitemaps"), url_list("listings")
    if not (feeds or sitemaps or listings):
        raise fail("feeds", "a source needs at least one of feeds, sitemaps, listings")

    article_links = None
    if "article_links" in entry:
        pattern = entry["article_links"]
        if not isinstance(pattern, str):
            raise fail("article_links", "must be a regular expression string")
        try:
            article_links = re.compile(pattern)
        except re.error as exc:
            raise fail("article_links", f"bad regular expression: {exc}") from None
    if listings and article_links is None:
        raise fail("article_links", "required when 'listings' is given")

    domains = entry.get("allowed_domains")
    if domains is None:
        hosts = {urlsplit(u).hostname for u in feeds + sitemaps + listings}
        domains = sorted(h for h in hosts if h)
    elif not isinstance(domains, list) or not all(isinstance(d, str) and d for d in domains):
        raise fail("allowed_domains", "must be a list of host names")

    schedule_text = entry.get("schedule", DEFAULT_SCHEDULE)
    try:
        schedule = parse_schedule(schedule_text, label)
    except ValueError as exc:
        raise fail("schedule", str(exc)) from None

    max_pages = entry.get("max_pages", DEFAULT_MAX_PAGES)
    if isinstance(max_pages, bool) or not isinstance(max_pages, int) or max_pages < 1:
        raise fail("max_pages", "must be a positive whole number")

    allow_private = entry.get("allow_private_addresses", False)
    if not isinstance(allow_private, bool):
        raise fail("allow_private_addresses", "must be true or false")

    proxy = entry.get("proxy")
    if proxy is not None:
        parts = urlsplit(proxy) if isinstance(proxy, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise fail("proxy", f"{proxy!r} is not an http:// or https:// proxy URL")
        try:
            parts.port  # noqa: B018 - raises on a port that is not a number
        except ValueError as exc:
            raise fail("proxy", f"{proxy!r}: {exc}") from None

    extraction = None
    if "extraction" in entry:
        try:
            extraction = parse_extraction(entry["extraction"])
        except RuleError as exc:
            raise fail(f"extraction.{exc.key}", str(exc)) from None
        except ValueError as exc:
            raise fail("extraction", str(exc)) from None

    languages: tuple[str, ...] = ()
    if "languages" in entry:
        try:
            languages = parse_languages(entry["languages"])
        except ValueError as exc:
            raise fail("languages", str(exc)) from None
    stale_after = None
    if "stale_after" in entry:
        stale_after = parse_interval(entry["stale_after"])
        if stale_after is None:
            raise fail(
                "stale_after", f"{entry['stale_after']!r} is not a duration such as 30s, 15m, 2h or 1d"
            )

    return Source(
        name=name,
        feeds=feeds,
        sitemaps=sitemaps,
        listings=listings,
        article_links=article_links,
        allowed_domains=tuple(domains),
        schedule=schedule,
        max_pages=max_pages,
        allow_private_addresses=allow_private,
        proxy=proxy,
        extraction=extraction,
        languages=languages,
        stale_after=stale_after,
    )


def page_rules_by_source(path: str | Path) -> dict[str, PageRules]:
    """Each source's page rules, for the processes that extract pages (embedded crawls and
    distributed workers find a page's source by name). No sources file: no rules; a bad one
    raises ConfigError, so a worker does not start with rules it cannot read."""
    if not Path(path).is_file():
        return {}
    return {source.name: source.page_rules for source in load_sources(path)}


def parse_interval(text: Any) -> int | None:
    """Seconds of a duration written like a schedule interval (30s, 15m, 2h, 1d); None when
    ``text`` is not one (or is zero)."""
    match = INTERVAL_PATTERN.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        return None
    seconds = int(match.group(1)) * INTERVAL_SECONDS[match.group(2)]
    return seconds or None


def parse_schedule(text: Any, label: str) -> Schedule:
    """'30s', '15m', '2h', '1d', or a 5-field cron expression ('*/5 * * * *')."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("must be an interval such as 15m or a 5-field cron expression")
    text = text.strip()
    if INTERVAL_PATTERN.match(text):
        seconds = parse_interval(text)
        if seconds is None:
            raise ValueError(f"{text!r}: the interval must be longer than zero")
        return Schedule(text=text, interval_seconds=seconds)
    fields = text.split()
    if len(fields) != 5:
        raise ValueError(f"{text!r} is neither an interval (30s, 15m, 2h) nor a 5-field cron expression")
    for value, (low, high) in zip(fields, CRON_FIELD_RANGES):
        for item in value.split(","):
            match = CRON_ITEM.match(item)
            if not match:
                raise ValueError(f"{text!r}: cron field {value!r} is not valid")
            numbers = [int(n) for n in re.findall(r"\d+", match.group(1))]
            if any(n < low or n > high for n in numbers) or (match.group(2) == "0"):
                raise ValueError(f"{text!r}: cron field {value!r} is out of range {low}-{high}")
    return Schedule(text=text, cron_fields=tuple(fields))
