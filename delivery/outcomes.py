"""What a sender tells the loop: a record confirmed, a record refused for good (a dead letter),
or a failure worth another try later (the cursor stays)."""

from __future__ import annotations

from dataclasses import dataclass

# Every class a failed attempt may be counted under (/metrics exports each, 0 until it happens).
FAILURE_CLASSES = (
    "timeout",  # no answer in time
    "connection",  # refused, reset, closed mid-request, broker or server gone
    "dns",  # the webhook's host does not resolve
    "http_5xx",
    "http_408",
    "http_429",
    "unroutable",  # amqp: the exchange has no queue bound for the routing key
    "no_stream",  # nats: no JetStream stream covers the subject
    "io",  # files: the directory cannot be written
    "other",
)


class TryAgain(Exception):
    """The sink did not confirm: try again after a backoff. ``failure_class`` groups failures
    for status and metrics (timeout, http_5xx, http_429, connection, ...); ``retry_after``
    is the receiver's wish (seconds), if it said one; ``confirmed_through`` is the last seq of
    the batch the sink did confirm before failing (None: none of it)."""

    def __init__(
        self,
        failure_class: str,
        reason: str,
        retry_after: float | None = None,
        confirmed_through: int | None = None,
    ) -> None:
        super().__init__(reason)
        self.failure_class = failure_class
        self.reason = reason
        self.retry_after = retry_after
        self.confirmed_through = confirmed_through


@dataclass(frozen=True)
class Refused:
    """A record the sink refused for good: kept as a dead letter with ``reason``."""

    seq: int
    reason: str
