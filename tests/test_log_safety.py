"""Logs and messages forge and leak nothing: a text log line escapes the control characters a
page or header may carry, and no message (log line, CLI error, API error body) shows a URL's
password."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import httpx
from api_factories import live_api

from newsdedup.config import Settings
from newsdedup.config.logs import formatter

FORGED = (
    "https://news.example/a\r\n2026-12-01 08:00:00,000 ERROR newsdedup: forged line\x1b[2J\x1b]0;title\x07"
)
PROXY = "http://alice:pw-secret@proxy.internal:31a8"


def record(message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("newsdedup.test", logging.WARNING, __file__, 1, message, args, None)


def test_a_text_log_line_escapes_control_characters() -> None:
    line = formatter("text").format(record("fetched %s", FORGED))
    assert "\n" not in line and "\r" not in line and "\x1b" not in line and "\x07" not in line
    assert "\\r\\n2026-12-01" in line and "\\x1b[2J" in line


def test_a_traceback_keeps_its_lines() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        entry = record("failed on %s", "a\rb")
        entry.exc_info = sys.exc_info()
    line = formatter("text").format(entry)
    assert "a\\rb" in line and "\nTraceback" in line


def test_no_log_line_shows_a_urls_password() -> None:
    for log_format in ("text", "json"):
        line = formatter(log_format).format(record("proxy %s is broken", PROXY))
        assert "pw-secret" not in line and "alice:***@proxy.internal" in line
    assert json.loads(formatter("json").format(record("x %s", "\x1b")))["message"] == "x \x1b"


def bad_sources(tmp_path: Path) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(
        f"sources:\n  - name: daily\n    feeds: [https://d.example/rss]\n    proxy: '{PROXY}'\n",
        encoding="utf-8",
    )
    return path


def test_the_api_names_a_broken_proxy_without_its_password(sqlite_url, tmp_path, caplog) -> None:
    settings = Settings(database_url=sqlite_url, config=bad_sources(tmp_path), api_token="t")
    with live_api(settings) as running:
        response = httpx.post(
            running.base_url + "/v1/crawls", json={}, headers={"Authorization": "Bearer t"}, timeout=30
        )
        metrics = httpx.get(running.base_url + "/metrics", timeout=30)
    assert response.status_code == 503 and response.json()["error"] == "config_error"
    assert "pw-secret" not in response.text and "alice:***@" in response.json()["message"]
    assert "pw-secret" not in metrics.text
    assert not any("pw-secret" in r.getMessage() for r in caplog.records)


def test_the_cli_names_a_broken_proxy_without_its_password(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSDEDUP_")}
    env.update(
        NEWSDEDUP_CONFIG=str(bad_sources(tmp_path)), NEWSDEDUP_DATABASE_URL=f"sqlite:///{tmp_path}/s.db"
    )
    result = subprocess.run(
        [sys.executable, "-m", "newsdedup", "sources"], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "pw-secret" not in result.stdout + result.stderr
    assert "alice:***@proxy.internal" in result.stderr
