"""The sources file: schema, loader and the errors that name the source and the key."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

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
    # Seconds without a new article after which the source is "stale" (newsdedup status);
    # None: three schedule intervals (newsdedup/source_states.py).
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
    return parse_sources(data, origin=str(path))


def parse_sources(data: Any, origin: str = "sources file") -> list[Source]:
    if not isinstance(data, dict) or not isinstance(data.get("sources"), list):
        raise ConfigError(f"{origin}: the top level must be a mapping with a 'sources' list")
    unknown_top = set(data) - {"sources"}
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
    return sources


def _parse_source(entry: Any, index: int, origin: str) -> Source:
    if not isinstance(entry, dict):
        raise ConfigError(f"{origin}: source #{index + 1} must be a mapping")
    name = entry.get("name")
    label = f"source {name!r}" if isinstance(name, str) else f"source #{index + 1}"

    def fail(key: str, why: str) -> ConfigError:
        return ConfigError(f"{origin}: {label}, key {key!r}: {why}")

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
        stale_after=stale_after,
    )


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
    interval = INTERVAL_PATTERN.match(text)
    if interval:
        seconds = int(interval.group(1)) * INTERVAL_SECONDS[interval.group(2)]
        if seconds <= 0:
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
    return Schedule(text=text, cron_fields=tuple(fields))  # type: ignore[arg-type]
