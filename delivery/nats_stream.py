"""NATS sinks: a JetStream publish per record, acknowledged by the stream that covers the
subject (a publish no stream answers is a failure, not a success). ``Nats-Msg-Id`` is the
idempotency key, so JetStream drops a repeat within its duplicate window by itself.

nats-py is asyncio; the sender keeps a loop of its own, run from the sink's thread."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import nats
from nats.js.errors import NoStreamResponseError

from newsdedup.config import Sink
from newsdedup.delivery.messages import message_body, message_key
from newsdedup.delivery.outcomes import Refused, TryAgain

log = logging.getLogger("newsdedup.delivery")
TIMEOUT = 10.0
# Publishes in flight at once (sent in seq order on one connection, so the stream keeps it).
WINDOW = 256


async def _quiet(exc: Exception) -> None:
    """nats-py's error callback: the failure reaches the loop as TryAgain, logged there once."""
    log.debug("nats: %s", exc)


class _Failed(Exception):
    """A publish failed after the windows up to ``confirmed_through`` were acknowledged."""

    def __init__(self, cause: Exception, confirmed_through: int | None) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.confirmed_through = confirmed_through


class NatsSender:
    def __init__(self, sink: Sink) -> None:
        assert sink.url is not None and sink.subject is not None
        self.sink = sink
        self._loop = asyncio.new_event_loop()
        self._nc: Any = None

    async def _open(self) -> Any:
        if self._nc is None or self._nc.is_closed:
            assert self.sink.url is not None
            # nats-py retries a refused first connection forever when max_reconnect_attempts
            # is 0: 1 gives up after a second try, and the loop's backoff takes over.
            self._nc = await nats.connect(
                self.sink.url,
                connect_timeout=TIMEOUT,
                allow_reconnect=False,
                max_reconnect_attempts=1,
                reconnect_time_wait=0.2,
                error_cb=_quiet,
            )
        return self._nc.jetstream(timeout=TIMEOUT)

    async def _send(self, records: list[dict[str, Any]]) -> int | None:
        """Publish in windows; returns the last seq acknowledged (all of them), raises with
        the last seq of the windows acknowledged before the failure."""
        confirmed: int | None = None
        js = await self._open()
        subject = self.sink.subject
        assert subject is not None
        for start in range(0, len(records), WINDOW):
            window = records[start : start + WINDOW]
            try:
                await asyncio.gather(
                    *(
                        js.publish(subject, message_body(r), headers={"Nats-Msg-Id": message_key(r)})
                        for r in window
                    )
                )
            except Exception as exc:
                raise _Failed(exc, confirmed) from exc
            confirmed = window[-1]["seq"]
        return confirmed

    def send(self, records: list[dict[str, Any]]) -> list[Refused]:
        confirmed: int | None = None
        try:
            try:
                self._loop.run_until_complete(self._send(records))
            except _Failed as failed:
                confirmed = failed.confirmed_through
                raise failed.cause from None
        except NoStreamResponseError:
            raise TryAgain(
                "no_stream",
                f"no JetStream stream covers subject {self.sink.subject!r}",
                confirmed_through=confirmed,
            ) from None
        except Exception as exc:  # noqa: BLE001 - timeouts, a lost connection: tried again
            self.close()
            failure_class = (
                "timeout" if isinstance(exc, TimeoutError | nats.errors.TimeoutError) else "connection"
            )
            raise TryAgain(
                failure_class,
                f"{type(exc).__name__}: {exc}",
                confirmed_through=confirmed,
            ) from None
        return []

    def idle(self) -> None:
        pass

    def close(self) -> None:
        nc, self._nc = self._nc, None
        if nc is not None and not nc.is_closed:
            try:
                self._loop.run_until_complete(asyncio.wait_for(nc.close(), TIMEOUT))
            except Exception:  # noqa: BLE001 - a dead connection is dropped either way
                pass

    def __del__(self) -> None:
        if not self._loop.is_closed() and not self._loop.is_running():
            self._loop.close()
