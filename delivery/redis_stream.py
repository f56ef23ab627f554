"""Redis Stream sinks: one ``XADD`` per record with an approximate ``MAXLEN`` (``~``: Redis
trims whole macro nodes, cheap), a batch in one pipeline; fields ``key`` (the idempotency
key), ``seq``, ``id``, ``version`` and ``record`` (the feed record as JSON)."""

from __future__ import annotations

from typing import Any

import redis

from newsdedup.config import Sink
from newsdedup.delivery.messages import message_body, message_key
from newsdedup.delivery.outcomes import Refused, TryAgain

TIMEOUT = 10.0


class RedisStreamSender:
    def __init__(self, sink: Sink) -> None:
        assert sink.url is not None and sink.stream is not None
        self.sink = sink
        self._client = redis.Redis.from_url(sink.url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT)

    def send(self, records: list[dict[str, Any]]) -> list[Refused]:
        stream = self.sink.stream
        assert stream is not None
        try:
            with self._client.pipeline(transaction=False) as pipe:
                for record in records:
                    pipe.xadd(
                        stream,
                        {
                            "key": message_key(record),
                            "seq": record["seq"],
                            "id": record["id"],
                            "version": record["version"],
                            "record": message_body(record),
                        },
                        maxlen=self.sink.maxlen,
                        approximate=True,
                    )
                pipe.execute()
        except redis.TimeoutError as exc:
            raise TryAgain("timeout", f"Redis: {exc}") from None
        except redis.RedisError as exc:
            raise TryAgain("connection", f"Redis: {type(exc).__name__}: {exc}") from None
        return []

    def idle(self) -> None:
        pass

    def close(self) -> None:
        self._client.close()
