"""The log output of every newsdedup command: one handler on the root logger, on stderr.

``NEWSDEDUP_LOG_FORMAT=text`` (the default) writes lines for people; ``json`` writes one JSON
object a line for log collectors (Loki, Elasticsearch, CloudWatch): ``time`` (ISO 8601, UTC),
``level``, ``logger``, ``message``, ``exception`` when there is one, and the ids of what was
being done: ``request_id`` while an HTTP request is served, ``crawl_id`` during a crawl.
In both, a URL's password never shows (``http://alice:***@proxy``); a text line shows control
characters escaped (``\r``, ``\x1b``), so a message is always one line of plain text.

The ids live in context variables, read by a filter on the handler, so every library's
records carry them (Scrapy's, uvicorn's, Celery's) without passing them around. A crawl's
process is that one crawl (``bind_process_crawl``): its threads (the staging writer, the
archive) have no context of their own and fall back to it. A Celery task sets its page's crawl
for the task only (``task_scope``).

Components keep logging through ``logging.getLogger(__name__)``; only the entry points (the
CLI, the Celery ``setup_logging`` signal) call ``configure``.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Literal

from newsdedup.extract.safe_text import escape_controls, without_credentials

LogFormat = Literal["text", "json"]

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

REQUEST_ID: ContextVar[str | None] = ContextVar("newsdedup_request_id", default=None)
CRAWL_ID: ContextVar[str | None] = ContextVar("newsdedup_crawl_id", default=None)
# The crawl this whole process runs (``newsdedup crawl``): threads without a context see it.
_process_crawl_id: str | None = None
_handler: logging.Handler | None = None
_format: LogFormat = "text"


class ContextFilter(logging.Filter):
    """Puts ``request_id`` and ``crawl_id`` on each record (None when there is none)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = REQUEST_ID.get()
        if getattr(record, "crawl_id", None) is None:
            record.crawl_id = CRAWL_ID.get() or _process_crawl_id
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line; a traceback is a field of its record, never lines of its own."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": without_credentials(record.getMessage()),
        }
        for key in ("request_id", "crawl_id"):
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        entry["process"] = record.process
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        # ASCII escapes: a line stays valid whatever encoding stderr has (LANG=C in containers).
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """The plain line, with the crawl or request id in brackets when there is one."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:
        # The message is one line whatever it quotes: a carriage return or an escape code in
        # a header a page sent would otherwise forge a line or repaint the terminal. (A
        # traceback, added after this, keeps its lines.)
        record.message = escape_controls(without_credentials(record.message))
        return super().formatMessage(record)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = [
            f"{label} {value}"
            for label, value in (
                ("request", getattr(record, "request_id", None)),
                ("crawl", getattr(record, "crawl_id", None)),
            )
            if value
        ]
        if not ids:
            return line
        first, newline, rest = line.partition("\n")
        return f"{first} [{', '.join(ids)}]{newline}{rest}"


def formatter(log_format: LogFormat) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else TextFormatter()


def verbosity_level(verbose: int) -> int:
    """``-v`` counted: none → WARNING, -v → INFO, -vv → DEBUG."""
    return logging.WARNING if verbose <= 0 else logging.INFO if verbose == 1 else logging.DEBUG


class StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record comes, as ``logging.lastResort``
    does (click's test runner and pytest swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


def configure(log_format: LogFormat = "text", level: int = logging.WARNING) -> logging.Handler:
    """Put one stderr handler on the root logger, replacing the one an earlier call put there
    (handlers of others, a test runner's, stay). The level is the handler's as well as the
    root's: Scrapy resets the root's level to NOTSET when a crawl starts, and its own loggers
    to DEBUG."""
    global _handler, _format
    root = logging.getLogger()
    if _handler is not None:
        root.removeHandler(_handler)
    handler = StderrHandler()
    handler.setFormatter(formatter(log_format))
    handler.addFilter(ContextFilter())
    handler.setLevel(level)
    root.addHandler(handler)
    root.setLevel(level)
    # Python's warnings (Celery's "running as root", deprecations) are lines of the same log.
    logging.captureWarnings(True)
    _handler, _format = handler, log_format
    return handler


def use_format(log_format: LogFormat) -> None:
    """The format from the settings, once they are read (the level came from ``-v``)."""
    global _format
    if _handler is None:
        configure(log_format)
    else:
        _handler.setFormatter(formatter(log_format))
        _format = log_format


def at_least(level: int) -> None:
    """Let records of ``level`` and above through (servers log INFO without ``-v``)."""
    current = _handler.level if _handler is not None else logging.WARNING
    if level < current:
        if _handler is not None:
            _handler.setLevel(level)
        logging.getLogger().setLevel(level)


LogState = tuple[LogFormat, int, str | None] | None


def state() -> LogState:
    """What a helper process needs to log as this one does (None: logging not configured)."""
    if _handler is None:
        return None
    return _format, _handler.level, _process_crawl_id


def adopt(inherited: LogState) -> None:
    """In a helper process (the extraction pool's, started from a forkserver, which configures
    nothing): log as the process that started it, under the same crawl."""
    if inherited is None:
        return
    log_format, level, crawl_id = inherited
    configure(log_format, level)
    if crawl_id is not None:
        bind_process_crawl(crawl_id)


def bind_process_crawl(crawl_id: str) -> None:
    """This process runs crawl ``crawl_id`` (``newsdedup crawl``): every record says so."""
    global _process_crawl_id
    _process_crawl_id = crawl_id


def bind_crawl(crawl_id: str | None) -> None:
    """The current task (or request) works on crawl ``crawl_id``, until its ``task_scope`` ends."""
    CRAWL_ID.set(crawl_id)


@contextmanager
def task_scope() -> Iterator[None]:
    """A unit of work (a Celery task): what it binds is forgotten when it ends, so the next
    task of the same process does not inherit it."""
    crawl_token = CRAWL_ID.set(None)
    request_token = REQUEST_ID.set(None)
    try:
        yield
    finally:
        CRAWL_ID.reset(crawl_token)
        REQUEST_ID.reset(request_token)
