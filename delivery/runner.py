"""The delivery loop: one thread per sink, each from its own cursor, so a sink that fails or
hangs holds no other back.

A round reads the feed after the sink's cursor (``FeedReader.feed``, seq order), hands the
records its filter accepts to the sender, and once the sender returned (the sink confirmed)
moves the cursor to the batch's last seq, with the refused records as dead letters, in one
transaction. A failure leaves the cursor where it was (or at the last seq the sink confirmed
before failing) and the same records are tried again after a backoff: at least once, never
a gap. Backoff: ``backoff * 2**n`` seconds with full jitter, at most ``backoff_max``, or the
receiver's ``Retry-After`` when it said one.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import redis
from sqlalchemy.exc import SQLAlchemyError

from newsdedup.config import Settings, Sink
from newsdedup.delivery.lease import Lease
from newsdedup.delivery.outcomes import Refused, TryAgain
from newsdedup.delivery.senders import Sender, open_sender
from newsdedup.store import Store
from newsdedup.store.sink_state import Refusal, SinkStates

log = logging.getLogger("newsdedup.delivery")


@dataclass(frozen=True)
class DeliveryOptions:
    batch: int = 500
    poll: float = 1.0
    backoff: float = 0.5
    backoff_max: float = 60.0
    lease_seconds: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliveryOptions:
        return cls(
            batch=settings.delivery_batch,
            poll=settings.delivery_poll,
            backoff=settings.delivery_backoff,
            backoff_max=settings.delivery_backoff_max,
            lease_seconds=settings.delivery_lease_seconds,
        )


def backoff_delay(options: DeliveryOptions, failures: int, retry_after: float | None) -> float:
    if retry_after is not None:
        return min(retry_after, options.backoff_max)
    ceiling = min(options.backoff_max, options.backoff * 2 ** min(failures - 1, 30))
    return random.uniform(ceiling / 2, ceiling)


class SinkRunner:
    """Delivers one sink. ``step`` is one round; ``run`` rounds until ``stop`` is set."""

    def __init__(
        self,
        sink: Sink,
        store: Store,
        options: DeliveryOptions,
        sender_factory: Callable[[Sink], Sender],
        stop: threading.Event,
        lease: Lease | None = None,
    ) -> None:
        self.sink = sink
        self.options = options
        self._store = store
        self._states = SinkStates(store.db)
        self._factory = sender_factory
        self._sender: Sender | None = None
        self._stop = stop
        self.lease = lease
        self.held = lease is None

    def _open(self) -> Sender:
        if self._sender is None:
            self._sender = self._factory(self.sink)
        return self._sender

    def close(self) -> None:
        sender, self._sender = self._sender, None
        if sender is not None:
            try:
                sender.close()
            except Exception as exc:  # noqa: BLE001 - closing must not stop the others
                log.warning("sink %s: closing: %s", self.sink.name, exc)

    def step(self) -> bool:
        """One round; True when it handled records. Raises TryAgain when the sink did not confirm."""
        name = self.sink.name
        cursor = self._states.cursor(name)
        records = self._store.feed_reader.feed(after=cursor, limit=self.options.batch)
        if not records:
            return False
        chosen = [record for record in records if self.sink.filter.accepts(record)]
        try:
            refused = self._open().send(chosen) if chosen else []
        except TryAgain as exc:
            if exc.confirmed_through is not None:
                done = [r for r in records if r["seq"] <= exc.confirmed_through]
                self._commit(cursor, done, [r for r in chosen if r["seq"] <= exc.confirmed_through], [])
            raise
        self._commit(cursor, records, chosen, refused)
        return True

    def _commit(
        self,
        cursor: int,
        records: Sequence[dict[str, Any]],
        chosen: Sequence[dict[str, Any]],
        refused: Sequence[Refused],
    ) -> None:
        by_seq = {r["seq"]: r for r in chosen}
        refusals = [
            Refusal(r.seq, by_seq[r.seq]["id"], by_seq[r.seq]["version"], r.reason)
            for r in refused
            if r.seq in by_seq
        ]
        for refusal in refusals:
            log.warning(
                "sink %s: seq %d (article %s v%d) refused for good, kept as a dead letter: %s",
                self.sink.name,
                refusal.seq,
                refusal.article_id,
                refusal.version,
                refusal.reason,
            )
        moved = self._states.commit(
            self.sink.name, cursor, records[-1]["seq"], len(chosen) - len(refusals), refusals
        )
        if not moved:
            # A replay set the cursor back, or another replica moved it: the next round reads it again.
            log.info("sink %s: cursor moved by someone else; reading it again", self.sink.name)

    def run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            if not self.held:
                self.close()
                self._stop.wait(self.options.poll)
                continue
            try:
                progressed = self.step()
            except TryAgain as exc:
                failures += 1
                self._failed(exc.failure_class, exc.reason)
                self._stop.wait(backoff_delay(self.options, failures, exc.retry_after))
                continue
            except SQLAlchemyError as exc:
                failures += 1
                log.warning("sink %s: the store did not answer: %s", self.sink.name, exc)
                self._stop.wait(backoff_delay(self.options, failures, None))
                continue
            except Exception as exc:
                failures += 1
                log.exception("sink %s: unexpected error", self.sink.name)
                self.close()
                self._failed("other", f"{type(exc).__name__}: {exc}")
                self._stop.wait(backoff_delay(self.options, failures, None))
                continue
            failures = 0
            if not progressed:
                try:
                    self._open().idle()
                except TryAgain as exc:
                    self._failed(exc.failure_class, exc.reason)
                self._stop.wait(self.options.poll)
        self.close()

    def catch_up(self) -> bool:
        """Rounds until the sink is caught up (True) or its first failure (False): the
        delivery embedded mode runs after each crawl."""
        try:
            while not self._stop.is_set() and self.step():
                pass
            if self._sender is not None:
                self._sender.idle()
            return True
        except TryAgain as exc:
            self._failed(exc.failure_class, exc.reason)
            return False
        finally:
            self.close()

    def _failed(self, failure_class: str, reason: str) -> None:
        log.warning(
            "sink %s: not delivered (%s), trying again later: %s", self.sink.name, failure_class, reason
        )
        try:
            self._states.record_failure(self.sink.name, failure_class, reason)
        except SQLAlchemyError as exc:
            log.warning("sink %s: could not record the failure: %s", self.sink.name, exc)


class Deliverer:
    """Every sink's runner in a thread of its own; in distributed mode each runs only while
    this replica holds the sink's lease, which a keeper thread takes and renews."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        sinks: Sequence[Sink],
        redis_client: redis.Redis | None = None,
        options: DeliveryOptions | None = None,
        sender_factory: Callable[[Sink], Sender] | None = None,
    ) -> None:
        self.options = options or DeliveryOptions.from_settings(settings)
        self.stop_event = threading.Event()
        factory = sender_factory or (lambda sink: open_sender(sink, settings))
        SinkStates(store.db).ensure(sink.name for sink in sinks)
        self.runners = [
            SinkRunner(
                sink,
                store,
                self.options,
                factory,
                self.stop_event,
                Lease(redis_client, sink.name, self.options.lease_seconds)
                if redis_client is not None
                else None,
            )
            for sink in sinks
        ]
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        if any(runner.lease is not None for runner in self.runners):
            self._keep_leases()  # the first ones before the runners start
            self._threads.append(
                threading.Thread(target=self._lease_keeper, name="delivery-leases", daemon=True)
            )
        for runner in self.runners:
            self._threads.append(
                threading.Thread(target=runner.run, name=f"delivery-{runner.sink.name}", daemon=True)
            )
        for thread in self._threads:
            thread.start()

    def _keep_leases(self) -> None:
        for runner in self.runners:
            if runner.lease is None:
                continue
            try:
                held = runner.lease.acquire_or_renew()
            except redis.RedisError as exc:
                log.warning("sink %s: Redis did not answer the lease: %s", runner.sink.name, exc)
                held = False
            if held != runner.held:
                log.info("sink %s: %s", runner.sink.name, "active here" if held else "active elsewhere")
            runner.held = held

    def _lease_keeper(self) -> None:
        while not self.stop_event.wait(self.options.lease_seconds / 3):
            self._keep_leases()

    def stop(self, timeout: float | None = None) -> None:
        """Ask every runner to stop after its current batch, wait for them, give the leases back."""
        self.stop_event.set()
        for thread in self._threads:
            thread.join(timeout)
        for runner in self.runners:
            if runner.lease is not None:
                runner.lease.release()

    def catch_up(self) -> dict[str, bool]:
        """Every sink until caught up or its first failure, side by side (embedded mode)."""
        results: dict[str, bool] = {}

        def one(runner: SinkRunner) -> None:
            results[runner.sink.name] = runner.catch_up()

        threads = [threading.Thread(target=one, args=(runner,), daemon=True) for runner in self.runners]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return results
