"""Which page-derived URLs may become links: http and https only. A ``javascript:``, ``data:``
or any other URL is shown as text; autoescaping does the rest."""

from __future__ import annotations

from urllib.parse import urlsplit

LINKABLE = frozenset({"http", "https"})


def safe_href(url: str | None) -> str | None:
    """``url`` when it is an http(s) URL with a host, else None (shown as text, not linked)."""
    if not url:
        return None
    stripped = url.strip()
    # Browsers drop tabs and newlines inside a scheme ("java\tscript:"): refuse them outright.
    if any(ch in stripped for ch in "\t\r\n") or stripped != url:
        return None
    try:
        parts = urlsplit(stripped)
    except ValueError:
        return None
    if parts.scheme.lower() not in LINKABLE or not parts.netloc:
        return None
    return stripped
