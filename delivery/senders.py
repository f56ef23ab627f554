"""One sender per sink, by kind. Each opens its connection on first use, never here."""

from __future__ import annotations

from typing import Any, Protocol

from newsdedup.config import Settings, Sink
from newsdedup.delivery.outcomes import Refused


class Sender(Protocol):
    def send(self, records: list[dict[str, Any]]) -> list[Refused]:
        """Deliver ``records`` (seq order) and return once the sink confirmed them; the ones
        it refused for good come back with their reason. Raises TryAgain otherwise."""
        ...

    def idle(self) -> None:
        """Called when the sink is caught up (files: rotate by age)."""
        ...

    def close(self) -> None: ...


def open_sender(sink: Sink, settings: Settings) -> Sender:
    # deferred: each kind loads only its own client library
    if sink.kind == "webhook":
        from newsdedup.delivery.webhook import WebhookSender

        return WebhookSender(sink, allow_private_addresses=settings.allow_private_addresses)
    if sink.kind == "amqp":
        from newsdedup.delivery.amqp import AmqpSender

        return AmqpSender(sink)
    if sink.kind == "nats":
        from newsdedup.delivery.nats_stream import NatsSender

        return NatsSender(sink)
    if sink.kind == "redis-stream":
        from newsdedup.delivery.redis_stream import RedisStreamSender

        return RedisStreamSender(sink)
    if sink.kind == "files":
        from newsdedup.delivery.files import FilesSender

        return FilesSender(sink)
    raise ValueError(f"unknown sink kind {sink.kind!r}")
