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
