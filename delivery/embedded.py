"""Delivery in embedded mode: after each crawl (``newsdedup crawl``), and beside the API in
``newsdedup serve``. Distributed mode runs ``newsdedup deliver`` instead."""

from __future__ import annotations

import logging

from newsdedup.config import ConfigError, Settings, load_sinks
from newsdedup.delivery.runner import Deliverer
from newsdedup.store import Store

log = logging.getLogger("newsdedup.delivery")


def deliver_after_crawl(settings: Settings, store: Store) -> dict[str, bool]:
    """Every sink of the sources file until caught up or its first failure (recorded; the
    next crawl, ``newsdedup deliver`` or ``serve`` tries again). A crawl never fails of it."""
    try:
        sinks = load_sinks(settings.config)
    except ConfigError as exc:
        log.error("delivery skipped: %s", exc)
        return {}
    if not sinks:
        return {}
    return Deliverer(settings, store, sinks).catch_up()


def start_serve_delivery(settings: Settings, store: Store) -> Deliverer | None:
    """The delivery loop of ``newsdedup serve`` in embedded mode (None: no sinks, or
    distributed mode). The caller stops it at shutdown."""
    if settings.distributed or not settings.config.is_file():
        return None
    try:
        sinks = load_sinks(settings.config)
    except (ConfigError, OSError) as exc:
        log.error("delivery not started: %s", exc)
        return None
    if not sinks:
        return None
    deliverer = Deliverer(settings, store, sinks)
    deliverer.start()
    log.info("delivery: %d sinks (%s)", len(sinks), ", ".join(s.name for s in sinks))
    return deliverer
