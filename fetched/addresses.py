"""Which IP addresses count as public: the address policy every fetch obeys (the crawler's
resolver and middleware, import-warc's URLs, the raw-page route's archive reads).

Plain functions on ``ipaddress``, so that every layer that fetches can apply the same rule.
"""

from __future__ import annotations

import ipaddress

_KINDS = (
    ("is_loopback", "a loopback"),
    ("is_link_local", "a link-local"),
    ("is_multicast", "a multicast"),
    ("is_unspecified", "an unspecified"),
    ("is_private", "a private"),
    ("is_reserved", "a reserved"),
)


def address_problem(address: str) -> str | None:
    """Why ``address`` (an IP address) is not a public one, or None when it is."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return f"{address} is not an IP address"
    mapped = getattr(ip, "ipv4_mapped", None) or getattr(ip, "sixtofour", None)
    if mapped is not None:
        ip = mapped
    for attribute, kind in _KINDS:
        if getattr(ip, attribute):
            return f"{address} is {kind} address"
    if not ip.is_global:
        return f"{address} is not a public address"
    return None


def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return False
