"""AMQP sinks (RabbitMQ) through kombu, which Celery brings already: persistent messages to a
durable topic exchange, each publish confirmed by the broker (publisher confirms), the
routing key the article's source unless the sink names one."""

from __future__ import annotations

from typing import Any

from kombu import Connection, Exchange, Producer

from newsdedup.config import Sink
from newsdedup.delivery.messages import message_body, message_key
from newsdedup.delivery.outcomes import Refused, TryAgain

# Seconds to connect and to wait for a confirm: a broker cut off mid-batch fails the batch
# (tried again later) instead of hanging the sink.
TIMEOUT = 10.0


class AmqpSender:
    def __init__(self, sink: Sink) -> None:
        assert sink.url is not None and sink.exchange is not None
        self.sink = sink
        self._exchange = Exchange(sink.exchange, type="topic", durable=True)
        self._connection: Connection | None = None
        self._producer: Producer | None = None
        # Message ids the broker returned as unroutable (no queue bound for the routing key):
        # confirmed, yet kept by nobody, so they count as not delivered.
        self._returned: list[str] = []

    def _open(self) -> Producer:
        if self._producer is None:
            connection = Connection(
                self.sink.url,
                connect_timeout=TIMEOUT,
                transport_options={
                    "confirm_publish": True,
                    "read_timeout": TIMEOUT,
                    "write_timeout": TIMEOUT,
                },
            )
            connection.ensure_connection(max_retries=1, timeout=TIMEOUT)
            self._connection = connection
            self._producer = Producer(
                connection.default_channel, exchange=self._exchange, on_return=self._on_return
            )
            self._exchange(connection.default_channel).declare()
        return self._producer

    def send(self, records: list[dict[str, Any]]) -> list[Refused]:
        confirmed: int | None = None
        try:
            producer = self._open()
            for record in records:
                key = message_key(record)
                # With confirm_publish, publish returns once the broker has the message (on
                # disk for a persistent message to a durable queue).
                producer.publish(
                    message_body(record),
                    routing_key=self.sink.routing_key or record["source"],
                    content_type="application/json",
                    content_encoding="utf-8",
                    delivery_mode=2,
                    message_id=key,
                    headers={"seq": record["seq"], "id": record["id"], "version": record["version"]},
                    retry=False,
                    mandatory=True,
                )
                if self._returned:
                    self._returned.clear()
                    raise TryAgain(
                        "unroutable",
                        f"exchange {self.sink.exchange!r} has no queue bound for "
                        f"{self.sink.routing_key or record['source']!r}",
                        confirmed_through=confirmed,
                    )
                confirmed = record["seq"]
        except TryAgain:
            raise
        except Exception as exc:  # noqa: BLE001 - any broker or socket error: the batch is tried again
            self.close()
            raise TryAgain(
                "connection", f"{type(exc).__name__}: {exc}", confirmed_through=confirmed
            ) from None
        return []

    def _on_return(self, exception: Exception, exchange: str, routing_key: str, message: Any) -> None:
        self._returned.append(routing_key)

    def idle(self) -> None:
        pass

    def close(self) -> None:
        connection, self._connection, self._producer = self._connection, None, None
        if connection is not None:
            try:
                connection.release()
            except Exception:  # noqa: BLE001 - a dead connection is dropped either way
                pass
