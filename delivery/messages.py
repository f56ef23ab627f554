"""The body and the idempotency key of a message: the same for every kind of sink."""

from __future__ import annotations

import json
from typing import Any


def message_key(record: dict[str, Any]) -> str:
    """``<id>:<version>:<seq>``: a consumer that saw the key already drops the message (a
    redelivery after a crash, a replay); the webhook's ``webhook-id``, NATS's ``Nats-Msg-Id``,
    AMQP's ``message_id``."""
    return f"{record['id']}:{record['version']}:{record['seq']}"


def message_body(record: dict[str, Any]) -> bytes:
    """One feed record (docs/feed.md) as compact UTF-8 JSON."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
