"""AMQP sinks (RabbitMQ) through kombu, which Celery brings already: persistent messages to a
durable topic exchange, confirmed by the broker (publisher confirms), the routing key the
article's source unless the sink names one.

The channel is put in confirm mode once; a batch is published without waiting, then the
broker's acknowledgements are awaited together (RabbitMQ acknowledges a persistent message
to a durable queue once it is on disk, and groups the fsyncs of messages that arrive
together). Waiting for each message's confirm in turn, as kombu's ``confirm_publish`` does,
made every message wait for a disk write of its own: 130 messages/s on this machine.
``mandatory``: a message no queue is bound for comes back (basic.return, before its ack), and
the batch counts as not delivered rather than confirmed and dropped."""

from __future__ import annotations

import time
from typing import Any

from kombu import Connection, Exchange, Producer

from newsdedup.config import Sink
from newsdedup.delivery.messages import message_body, message_key
from newsdedup.delivery.outcomes import Refused, TryAgain

# Seconds to connect, and to wait for the broker's acknowledgements of a batch: a broker
# cut off mid-batch fails the batch (tried again later) instead of hanging the sink.
TIMEOUT = 10.0


class AmqpSender:
    def __init__(self, sink: Sink) -> None:
        assert sink.url is not None and sink.exchange is not None
        self.sink = sink
        self._exchange = Exchange(sink.exchange, type="topic", durable=True)
        self._connection: Connection | None = None
        self._producer: Producer | None = None
        # Delivery tags published and not yet acknowledged; the next tag (1 after confirm.select).
        self._unacked: set[int] = set()
        self._next_tag = 1
        self._nacked = 0
        # Routing keys of messages the broker returned as unroutable since the batch began.
        self._returned: list[str] = []

    def _open(self) -> Producer:
        if self._producer is None:
            connection = Connection(
                self.sink.url,
                connect_timeout=TIMEOUT,
                transport_options={"read_timeout": TIMEOUT, "write_timeout": TIMEOUT},
            )
            connection.ensure_connection(max_retries=1, timeout=TIMEOUT)
            # py-amqp's channel (kombu's pyamqp transport), typed by kombu as its abstract Channel.
            channel: Any = connection.default_channel
            channel.confirm_select()
            channel.events["basic_ack"].add(self._on_ack)
            channel.events["basic_nack"].add(self._on_nack)
            self._unacked, self._next_tag, self._nacked = set(), 1, 0
            self._exchange(channel).declare()
            self._connection = connection
            self._producer = Producer(channel, exchange=self._exchange, on_return=self._on_return)
        return self._producer

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        if multiple:
            self._unacked = {tag for tag in self._unacked if tag > delivery_tag}
        else:
            self._unacked.discard(delivery_tag)

    def _on_nack(self, delivery_tag: int, multiple: bool, *_: Any) -> None:
        self._nacked += 1
        self._on_ack(delivery_tag, multiple)

    def _on_return(self, exception: Exception, exchange: str, routing_key: str, message: Any) -> None:
        self._returned.append(routing_key)

    def send(self, records: list[dict[str, Any]]) -> list[Refused]:
        self._returned.clear()
        try:
            producer = self._open()
            for record in records:
                producer.publish(
                    message_body(record),
                    routing_key=self.sink.routing_key or record["source"],
                    content_type="application/json",
                    content_encoding="utf-8",
                    delivery_mode=2,
                    message_id=message_key(record),
                    headers={"seq": record["seq"], "id": record["id"], "version": record["version"]},
                    retry=False,
                    mandatory=True,
                )
                self._unacked.add(self._next_tag)
                self._next_tag += 1
            self._await_acks()
        except TryAgain:
            self.close()
            raise
        except Exception as exc:  # noqa: BLE001 - any broker or socket error: the batch is tried again
            self.close()
            raise TryAgain("connection", f"{type(exc).__name__}: {exc}") from None
        if self._nacked:
            self.close()
            raise TryAgain("connection", "the broker refused (nack) messages of the batch")
        if self._returned:
            keys = ", ".join(sorted(set(self._returned)))
            raise TryAgain(
                "unroutable", f"exchange {self.sink.exchange!r} has no queue bound for routing key {keys}"
            )
        return []

    def _await_acks(self) -> None:
        assert self._connection is not None
        deadline = time.monotonic() + TIMEOUT
        while self._unacked:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TryAgain("timeout", f"the broker confirmed nothing for {TIMEOUT:g}s")
            try:
                self._connection.drain_events(timeout=remaining)
            except TimeoutError:
                continue  # the deadline above decides

    def idle(self) -> None:
        pass

    def close(self) -> None:
        connection, self._connection, self._producer = self._connection, None, None
        if connection is not None:
            try:
                connection.release()
            except Exception:  # noqa: BLE001 - a dead connection is dropped either way
                pass
