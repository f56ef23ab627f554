"""``newsdedup sinks replay NAME``: a sink's dead letters sent again, now, each as the
article's current feed record (a newer version, if it got one since)."""

from __future__ import annotations

from dataclasses import dataclass

from newsdedup.config import Settings, Sink
from newsdedup.delivery.outcomes import TryAgain
from newsdedup.delivery.senders import open_sender
from newsdedup.store import Store
from newsdedup.store.sink_state import SinkStates


@dataclass
class ReplaySummary:
    sent: int = 0
    refused_again: int = 0
    gone: int = 0
    not_sent: int = 0
    failure: str = ""

    def line(self) -> str:
        line = (
            f"{self.sent} dead letters sent, {self.refused_again} refused again, "
            f"{self.gone} articles gone, {self.not_sent} not sent"
        )
        return line + (f" ({self.failure})" if self.failure else "")


def replay_dead_letters(settings: Settings, store: Store, sink: Sink) -> ReplaySummary:
    states = SinkStates(store.db)
    letters = states.dead_letters(sink.name)
    summary = ReplaySummary()
    sender = open_sender(sink, settings)
    try:
        for index, letter in enumerate(letters):
            record = store.feed_reader.article(letter.article_id)
            if record is None:
                summary.gone += 1
                states.drop_dead_letters([letter.id])
                continue
            try:
                refused = sender.send([record])
            except TryAgain as exc:
                summary.not_sent = len(letters) - index
                summary.failure = f"{exc.failure_class}: {exc.reason}"
                break
            if refused:
                summary.refused_again += 1
                continue
            summary.sent += 1
            states.drop_dead_letters([letter.id])
    finally:
        sender.close()
    return summary
