"""Webhook sinks: an HTTP POST of each feed record, signed as the Standard Webhooks
specification says (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``:
``v1,`` and the base64 of HMAC-SHA256 over ``<id>.<timestamp>.<body>``).

Hooks are SSRF too: the receiver's address obeys the crawler's address policy
(``crawler.addresses.address_problem``): no loopback, private, link-local ... address unless
``NEWSDEDUP_ALLOW_PRIVATE_ADDRESSES=1`` or the sink's ``allow_private_addresses: true``. The
name is resolved here (again every 30 s, and after a failed connection) and the connection made
to the address that was checked (the Host header and TLS's server name keep the name), so a
DNS answer cannot change in between.
Redirects are not followed: one could lead around the policy.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import socket
import time
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from newsdedup.config import Sink
from newsdedup.crawler.addresses import address_problem, is_ip_literal
from newsdedup.delivery.messages import message_body, message_key
from newsdedup.delivery.outcomes import Refused, TryAgain

RETRIED_STATUSES = {408, 429}
# Seconds a receiver's checked address is reused before its name is resolved (and checked) again.
RESOLVE_EVERY = 30.0
USER_AGENT = "newsdedup-delivery/1"


def signature(secret: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header of one message (Standard Webhooks, version 1)."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(secret, signed, hashlib.sha256).digest()).decode("ascii")


class AddressRefused(Exception):
    pass


def checked_address(host: str, port: int, allow_private: bool) -> str:
    """The address to connect to for ``host``: its first address, each of them checked
    against the address policy unless ``allow_private``. Raises AddressRefused, or OSError
    when the name does not resolve."""
    if is_ip_literal(host):
        addresses = [host.strip("[]")]
    else:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not allow_private:
        for address in addresses:
            problem = address_problem(address)
            if problem is not None:
                where = problem if address == host.strip("[]") else f"{host} resolves to {problem}"
                raise AddressRefused(f"refused: {where}")
    return addresses[0]


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` in seconds (a number, or an HTTP date), None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


class WebhookSender:
    def __init__(self, sink: Sink, allow_private_addresses: bool = False) -> None:
        assert sink.url is not None and sink.secret is not None
        self.sink = sink
        self._secret = sink.secret
        self._allow_private = allow_private_addresses or sink.allow_private_addresses
        self._resolved: tuple[float, str] | None = None  # (when, the checked address)
        self._client = httpx.Client(
            timeout=httpx.Timeout(sink.timeout), follow_redirects=False, headers={"User-Agent": USER_AGENT}
        )

    def send(self, records: list[dict[str, Any]]) -> list[Refused]:
        """POST each record in seq order; a failure worth a retry stops the batch there
        (TryAgain names the last seq confirmed), a refusal is a dead letter and the batch goes on."""
        refused: list[Refused] = []
        confirmed: int | None = None
        for record in records:
            try:
                problem = self._post(record)
            except TryAgain as exc:
                exc.confirmed_through = confirmed
                raise
            if problem is not None:
                refused.append(Refused(record["seq"], problem))
            confirmed = record["seq"]
        return refused

    def _post(self, record: dict[str, Any]) -> str | None:
        """None when the receiver took it; the reason when it refused it for good."""
        assert self.sink.url is not None
        parts = urlsplit(self.sink.url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        if self._resolved is not None and time.monotonic() - self._resolved[0] < RESOLVE_EVERY:
            address = self._resolved[1]
        else:
            try:
                address = checked_address(host, port, self._allow_private)
            except AddressRefused as exc:
                return str(exc)
            except OSError as exc:
                raise TryAgain("dns", f"{host} does not resolve: {exc}") from None
            self._resolved = (time.monotonic(), address)
        netloc = f"[{address}]" if ":" in address else address
        target = urlunsplit((parts.scheme, f"{netloc}:{port}", parts.path or "/", parts.query, ""))
        body = message_body(record)
        msg_id = message_key(record)
        timestamp = int(time.time())
        headers = {
            "Host": parts.netloc.rsplit("@", 1)[-1],
            "Content-Type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature(self._secret, msg_id, timestamp, body),
        }
        extensions = {"sni_hostname": host} if parts.scheme == "https" and not is_ip_literal(host) else {}
        try:
            response = self._client.post(target, content=body, headers=headers, extensions=extensions)
        except httpx.TimeoutException as exc:
            raise TryAgain(
                "timeout", f"no answer within {self.sink.timeout:g}s: {type(exc).__name__}"
            ) from None
        except httpx.TransportError as exc:
            self._resolved = None  # perhaps it moved: resolve again next time
            raise TryAgain("connection", f"{type(exc).__name__}: {exc}") from None
        status = response.status_code
        if 200 <= status < 300:
            return None
        if status >= 500 or status in RETRIED_STATUSES:
            failure_class = "http_5xx" if status >= 500 else f"http_{status}"
            raise TryAgain(
                failure_class,
                f"HTTP {status}",
                retry_after=retry_after_seconds(response.headers.get("Retry-After")),
            )
        return f"HTTP {status}" + (" (redirects are not followed)" if 300 <= status < 400 else "")

    def idle(self) -> None:
        pass

    def close(self) -> None:
        self._client.close()
