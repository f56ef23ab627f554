"""The failure and skip reasons that operators' health states are computed from.

The crawler writes them; the source-health read model (``newsdedup status``, ``/v1/sources``,
``/metrics``) classifies a source by them, so both sides take the strings from here.
"""

from __future__ import annotations

# A site refusing the bot: "blocked: HTTP 403", "blocked: HTTP 429", "blocked: challenge page (cloudflare)".
BLOCKED_PREFIX = "blocked: "
# robots.txt forbids the URL: a skip, not a failure, but a source made only of these is "robots-denied".
ROBOTS_DENIED = "disallowed by robots.txt"


def blocked(what: str) -> str:
    """The reason for a page the site refused to serve to the bot (``what``: "HTTP 403", …)."""
    return f"{BLOCKED_PREFIX}{what}"


def is_blocked(reason: str) -> bool:
    return reason.startswith(BLOCKED_PREFIX)


# Refusals that came as a bare status before the crawler named them "blocked: ...".
_BLOCKING_STATUSES = ("HTTP 403", "HTTP 429")
_CONNECTION_WORDS = (
    "connectionrefused",
    "connection refused",
    "connectionlost",
    "connectiondone",
    "connection was closed",
    "responsenevereceived",
    "connection reset",
    "tunnelerror",
    "sslerror",
    "ssl",
)


def failure_class(reason: str) -> str:
    """The class of a failure or skip reason (blocked, robots_denied, http_4xx, http_5xx, timeout, dns, connection, too_large, not_html, parse, extraction, limit or other): what a metric label
    and the health states count, where the reason itself ("HTTP 404", "timeout after 30s")
    is unbounded text."""
    text = reason.strip()
    lower = text.lower()
    if is_blocked(text) or text in _BLOCKING_STATUSES:
        return "blocked"
    if text == ROBOTS_DENIED:
        return "robots_denied"
    if lower.startswith("http "):
        status = lower[5:8]
        if status.startswith("4"):
            return "http_4xx"
        if status.startswith("5"):
            return "http_5xx"
        return "other"
    if "timeout" in lower or "timed out" in lower or lower.startswith("time limit") or "took longer" in lower:
        return "timeout"
    if lower.startswith("refused:"):
        return "connection"  # the address policy: a name that resolves to a private address
    if "dnslookup" in lower or "dns lookup" in lower or "no address" in lower or "resolve" in lower:
        return "dns"
    if lower.startswith("larger than") or "max size" in lower or "too large" in lower:
        return "too_large"
    if lower.startswith("not html") or lower == "empty body" or "is not html" in lower:
        return "not_html"
    if lower.startswith(("sitemap limit", "crawl time limit")):
        return "limit"
    if any(word in lower for word in ("broken", "not a feed", "not valid xml", "not a sitemap", "parse")):
        return "parse"
    if any(word in lower for word in _CONNECTION_WORDS):
        return "connection"
    if lower.startswith(("extraction", "gave up after", "hand-off failed")) or "processdied" in lower:
        return "extraction"
    return "other"
