"""The log line formats (config/logs.py): what a log collector parses."""

from __future__ import annotations

import contextvars
import json
import logging
import sys

from newsdedup.config import logs


def record_of(message: str, exc_info: object = None) -> logging.LogRecord:
    record = logging.getLogger("newsdedup.workers.pages").makeRecord(
        "newsdedup.workers.pages", logging.ERROR, __file__, 1, message, (), exc_info
    )
    logs.ContextFilter().filter(record)
    return record


def test_a_json_line_carries_the_exception_and_the_ids_of_its_context() -> None:
    with logs.task_scope():
        logs.bind_crawl("crawl-7")
        try:
            raise ValueError("no text in page 42")
        except ValueError:
            record = record_of("page 42 failed", sys.exc_info())
    line = logs.JsonFormatter().format(record)
    assert "\n" not in line  # one line, the traceback inside it
    entry = json.loads(line)
    assert entry["level"] == "ERROR" and entry["logger"] == "newsdedup.workers.pages"
    assert entry["message"] == "page 42 failed"
    assert entry["crawl_id"] == "crawl-7" and "request_id" not in entry
    assert (
        entry["exception"].startswith("Traceback") and "ValueError: no text in page 42" in entry["exception"]
    )
    assert entry["time"].endswith("+00:00")


def test_a_task_scope_forgets_its_crawl() -> None:
    def one_task_then_the_next() -> None:
        with logs.task_scope():
            logs.bind_crawl("crawl-8")
            assert getattr(record_of("inside"), "crawl_id", None) == "crawl-8"
        # The next task of the same process does not inherit it.
        assert getattr(record_of("after"), "crawl_id", None) is None

    # A fresh context, as a worker process's: other tests call worker functions outside any task.
    contextvars.Context().run(one_task_then_the_next)


def test_a_text_line_names_its_crawl_after_the_message() -> None:
    with logs.task_scope():
        logs.bind_crawl("crawl-9")
        line = logs.TextFormatter().format(record_of("stored"))
    assert line.endswith("ERROR newsdedup.workers.pages: stored [crawl crawl-9]")
