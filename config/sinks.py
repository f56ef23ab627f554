"""The ``sinks:`` section of the sources file: where the deduplicated feed is pushed
(README, "Delivery"). Validated at start-up with errors naming the sink and the key."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from newsdedup.extract.rules import parse_languages

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]*$")
KINDS = ("webhook", "amqp", "nats", "redis-stream", "files")
COMMON_KEYS = {"name", "kind", "filter"}
# Keys of each kind: (required, optional).
KIND_KEYS: dict[str, tuple[set[str], set[str]]] = {
    "webhook": ({"url"}, {"secret", "secret_file", "allow_private_addresses", "timeout"}),
    "amqp": ({"exchange"}, {"url", "url_file", "routing_key"}),
    "nats": ({"subject"}, {"url", "url_file"}),
    "redis-stream": ({"stream"}, {"url", "url_file", "maxlen"}),
    "files": ({"directory"}, {"max_file_bytes", "max_file_seconds"}),
}
FILTER_KEYS = {"sources", "languages", "changes"}
CHANGES = ("all", "new")
SECRET_PREFIX = "whsec_"
DEFAULT_MAXLEN = 100_000
DEFAULT_FILE_BYTES = 64 * 1024 * 1024
DEFAULT_FILE_SECONDS = 3600
DEFAULT_WEBHOOK_TIMEOUT = 10.0


class SinkConfigError(ValueError):
    """A bad sink; the message names the sink and the key."""


@dataclass(frozen=True)
class SinkFilter:
    """Which feed records a sink gets: empty tuples take every source and language;
    ``changes="new"`` only articles at their first version."""

    sources: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    changes: str = "all"

    def accepts(self, record: dict[str, Any]) -> bool:
        if self.sources and not set(record.get("sources") or [record.get("source")]) & set(self.sources):
            return False
        if self.languages and record.get("language") not in self.languages:
            return False
        return not (self.changes == "new" and record.get("version") != 1)


@dataclass(frozen=True)
class Sink:
    name: str
    kind: str
    filter: SinkFilter = field(default_factory=SinkFilter)
    # webhook: the receiver; amqp, nats, redis-stream: the broker (secrets may come from *_file).
    url: str | None = None
    # webhook: the raw HMAC key (decoded from ``whsec_<base64>``).
    secret: bytes | None = field(default=None, repr=False)
    allow_private_addresses: bool = False
    timeout: float = DEFAULT_WEBHOOK_TIMEOUT
    # amqp
    exchange: str | None = None
    routing_key: str | None = None
    # nats
    subject: str | None = None
    # redis-stream
    stream: str | None = None
    maxlen: int = DEFAULT_MAXLEN
    # files
    directory: Path | None = None
    max_file_bytes: int = DEFAULT_FILE_BYTES
    max_file_seconds: float = DEFAULT_FILE_SECONDS


DEFAULT_URLS = {
    "amqp": "amqp://guest:guest@127.0.0.1:5672//",
    "nats": "nats://127.0.0.1:4222",
    "redis-stream": "redis://127.0.0.1:6379/0",
}
URL_SCHEMES = {
    "webhook": ("http", "https"),
    "amqp": ("amqp", "amqps", "pyamqp"),
    "nats": ("nats", "tls"),
    "redis-stream": ("redis", "rediss", "unix"),
}


def parse_sinks(entries: Any, origin: str, base_dir: Path | None = None) -> list[Sink]:
    """The ``sinks:`` list of a sources file; ``base_dir``: where relative paths of
    ``secret_file``, ``url_file`` and ``directory`` start (the sources file's folder)."""
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise SinkConfigError(f"{origin}: 'sinks' must be a list")
    sinks: list[Sink] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        sink = _parse_sink(entry, index, origin, base_dir or Path("."))
        if sink.name in seen:
            raise SinkConfigError(f"{origin}: sink {sink.name!r}, key 'name': duplicate name")
        seen.add(sink.name)
        sinks.append(sink)
    return sinks


def _parse_sink(entry: Any, index: int, origin: str, base_dir: Path) -> Sink:
    if not isinstance(entry, dict):
        raise SinkConfigError(f"{origin}: sink #{index + 1} must be a mapping")
    name = entry.get("name")
    label = f"sink {name!r}" if isinstance(name, str) else f"sink #{index + 1}"

    def fail(key: str, why: str) -> SinkConfigError:
        return SinkConfigError(f"{origin}: {label}, key {key!r}: {why}")

    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise fail("name", "required; lowercase letters, digits and '-'")
    kind = entry.get("kind")
    if kind not in KINDS:
        raise fail("kind", f"{kind!r} is not one of {', '.join(KINDS)}")
    required, optional = KIND_KEYS[kind]
    known = COMMON_KEYS | required | optional
    for key in entry:
        if key not in known:
            raise fail(str(key), f"unknown key for a {kind} sink (known: {', '.join(sorted(known))})")
    for key in sorted(required):
        if entry.get(key) in (None, ""):
            raise fail(key, f"required for a {kind} sink")

    def read_file(key: str) -> str:
        path = Path(str(entry[key]))
        path = path if path.is_absolute() else base_dir / path
        try:
            return path.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise fail(key, f"cannot read {path}: {exc.strerror}") from None

    def text(key: str) -> str:
        value = entry[key]
        if not isinstance(value, str) or not value.strip():
            raise fail(key, "must be a non-empty string")
        return value.strip()

    def positive(key: str, default: float, whole: bool = True) -> Any:
        value = entry.get(key, default)
        kinds = (int,) if whole else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds) or value <= 0:
            raise fail(key, "must be a positive " + ("whole number" if whole else "number"))
        return value

    values: dict[str, Any] = {"name": name, "kind": kind, "filter": _parse_filter(entry.get("filter"), fail)}

    url: str | None = None
    if "url" in entry and "url_file" in entry:
        raise fail("url_file", "give 'url' or 'url_file', not both")
    if "url_file" in entry:
        url = read_file("url_file")
    elif "url" in entry:
        url = text("url")
    elif kind in DEFAULT_URLS:
        url = DEFAULT_URLS[kind]
    if url is not None:
        parts = urlsplit(url)
        key = "url_file" if "url_file" in entry else "url"
        if parts.scheme not in URL_SCHEMES[kind] or (parts.scheme != "unix" and not parts.hostname):
            # Never the URL itself in the message: it may carry a password.
            raise fail(key, f"not a {'/'.join(URL_SCHEMES[kind])} URL")
        values["url"] = url

    if kind == "webhook":
        if "secret" in entry and "secret_file" in entry:
            raise fail("secret_file", "give 'secret' or 'secret_file', not both")
        if "secret" not in entry and "secret_file" not in entry:
            raise fail("secret", "required for a webhook sink (or secret_file)")
        key = "secret" if "secret" in entry else "secret_file"
        raw = text("secret") if key == "secret" else read_file("secret_file")
        values["secret"] = _decode_secret(raw, lambda why: fail(key, why))
        allow = entry.get("allow_private_addresses", False)
        if not isinstance(allow, bool):
            raise fail("allow_private_addresses", "must be true or false")
        values["allow_private_addresses"] = allow
        values["timeout"] = float(positive("timeout", DEFAULT_WEBHOOK_TIMEOUT, whole=False))
    elif kind == "amqp":
        values["exchange"] = text("exchange")
        if "routing_key" in entry:
            values["routing_key"] = text("routing_key")
    elif kind == "nats":
        values["subject"] = text("subject")
    elif kind == "redis-stream":
        values["stream"] = text("stream")
        values["maxlen"] = positive("maxlen", DEFAULT_MAXLEN)
    elif kind == "files":
        directory = Path(text("directory"))
        values["directory"] = directory if directory.is_absolute() else base_dir / directory
        values["max_file_bytes"] = positive("max_file_bytes", DEFAULT_FILE_BYTES)
        values["max_file_seconds"] = float(positive("max_file_seconds", DEFAULT_FILE_SECONDS, whole=False))
    return Sink(**values)


def _parse_filter(value: Any, fail: Any) -> SinkFilter:
    if value is None:
        return SinkFilter()
    if not isinstance(value, dict):
        raise fail("filter", "must be a mapping (sources, languages, changes)")
    for key in value:
        if key not in FILTER_KEYS:
            raise fail(f"filter.{key}", f"unknown key (known: {', '.join(sorted(FILTER_KEYS))})")
    sources = value.get("sources", [])
    if isinstance(sources, str):
        sources = [sources]
    if not isinstance(sources, list) or not all(
        isinstance(s, str) and NAME_PATTERN.match(s) for s in sources
    ):
        raise fail("filter.sources", "must be a list of source names")
    languages: tuple[str, ...] = ()
    if "languages" in value:
        try:
            languages = parse_languages(value["languages"])
        except ValueError as exc:
            raise fail("filter.languages", str(exc)) from None
    changes = value.get("changes", "all")
    if changes not in CHANGES:
        raise fail(
            "filter.changes", f"{changes!r}: must be 'all' (every change) or 'new' (new articles only)"
        )
    return SinkFilter(sources=tuple(sources), languages=languages, changes=changes)


def _decode_secret(raw: str, fail: Any) -> bytes:
    """A Standard Webhooks secret: ``whsec_`` and the base64 of 24 to 64 random bytes."""
    if not raw.startswith(SECRET_PREFIX):
        raise fail("must be a Standard Webhooks secret: 'whsec_' followed by base64")
    try:
        key = base64.b64decode(raw[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise fail("the part after 'whsec_' is not base64") from None
    if not 24 <= len(key) <= 64:
        raise fail(f"the key must be 24 to 64 bytes (got {len(key)})")
    return key
