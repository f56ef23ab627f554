"""The ``sinks:`` section of the sources file: what is accepted, and errors that name the
sink and the key, at start-up of every command."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from delivery_helpers import SECRET

from newsdedup.config import ConfigError, SinkFilter, load_sinks, load_sources

SOURCE = {"name": "wire", "feeds": ["https://wire.example/feed.xml"]}


def write(tmp_path: Path, sinks: Any) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump({"sources": [SOURCE], "sinks": sinks}), encoding="utf-8")
    return path


def test_every_kind_with_its_keys_and_defaults(tmp_path: Path) -> None:
    (tmp_path / "hook.secret").write_text(SECRET + "\n")
    path = write(
        tmp_path,
        [
            {
                "name": "hook",
                "kind": "webhook",
                "url": "https://hooks.example/in",
                "secret_file": "hook.secret",
            },
            {"name": "bus", "kind": "amqp", "url": "amqp://u:p@mq.internal:5672//", "exchange": "news"},
            {"name": "js", "kind": "nats", "subject": "news.feed", "filter": {"changes": "new"}},
            {"name": "rs", "kind": "redis-stream", "stream": "feed", "maxlen": 1000},
            {
                "name": "lake",
                "kind": "files",
                "directory": "out",
                "filter": {"languages": ["EN"], "sources": ["wire"]},
            },
        ],
    )
    hook, bus, js, rs, lake = load_sinks(path)
    assert hook.secret == base64.b64decode(SECRET.removeprefix("whsec_"))
    assert bus.exchange == "news" and bus.routing_key is None  # the article's source
    assert js.url == "nats://127.0.0.1:4222" and js.filter == SinkFilter(changes="new")
    assert rs.maxlen == 1000 and rs.stream == "feed"
    assert lake.directory == tmp_path / "out"
    assert lake.filter.languages == ("en",)
    # Sources are read as before, beside the sinks.
    assert [s.name for s in load_sources(path)] == ["wire"]


def test_a_file_without_sinks_has_none(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump({"sources": [SOURCE]}))
    assert load_sinks(path) == []


@pytest.mark.parametrize(
    ("sink", "message"),
    [
        ({"name": "Bad Name", "kind": "files", "directory": "x"}, "sink 'Bad Name', key 'name'"),
        ({"name": "x", "kind": "kafka"}, "sink 'x', key 'kind': 'kafka' is not one of"),
        ({"name": "x", "kind": "files"}, "sink 'x', key 'directory': required for a files sink"),
        ({"name": "x", "kind": "files", "directory": "d", "url": "u"}, "sink 'x', key 'url': unknown key"),
        ({"name": "x", "kind": "webhook", "url": "https://h.example/"}, "sink 'x', key 'secret': required"),
        (
            {"name": "x", "kind": "webhook", "url": "https://h.example/", "secret": "hunter2"},
            "sink 'x', key 'secret': must be a Standard Webhooks secret",
        ),
        (
            {"name": "x", "kind": "webhook", "url": "ftp://h.example/", "secret": SECRET},
            "sink 'x', key 'url': not a http/https URL",
        ),
        ({"name": "x", "kind": "redis-stream", "stream": "s", "maxlen": 0}, "sink 'x', key 'maxlen'"),
        (
            {"name": "x", "kind": "nats", "subject": "s", "filter": {"changes": "some"}},
            "sink 'x', key 'filter.changes'",
        ),
        (
            {"name": "x", "kind": "nats", "subject": "s", "filter": {"languages": ["english"]}},
            "sink 'x', key 'filter.languages'",
        ),
        (
            {"name": "x", "kind": "amqp", "exchange": "e", "url_file": "missing.txt"},
            "sink 'x', key 'url_file': cannot read",
        ),
    ],
)
def test_bad_sinks_are_refused_naming_sink_and_key(
    tmp_path: Path, sink: dict[str, Any], message: str
) -> None:
    path = write(tmp_path, [sink])
    with pytest.raises(ConfigError) as raised:
        load_sinks(path)
    assert message in str(raised.value)
    assert str(path) in str(raised.value)
    # Every command refuses the file at start-up, not only the delivery ones.
    with pytest.raises(ConfigError):
        load_sources(path)


def test_duplicate_sink_names_and_the_password_stays_out_of_messages(tmp_path: Path) -> None:
    twice = [
        {"name": "x", "kind": "files", "directory": "a"},
        {"name": "x", "kind": "files", "directory": "b"},
    ]
    with pytest.raises(ConfigError, match="sink 'x', key 'name': duplicate name"):
        load_sinks(write(tmp_path, twice))
    with pytest.raises(ConfigError) as raised:
        load_sinks(
            write(tmp_path, [{"name": "x", "kind": "amqp", "exchange": "e", "url": "http://u:pw123@h/"}])
        )
    assert "pw123" not in str(raised.value)


def test_a_bad_sink_stops_newsdedup_sources_with_exit_2(tmp_path: Path) -> None:
    path = write(tmp_path, [{"name": "x", "kind": "files"}])
    result = subprocess.run(
        [sys.executable, "-m", "newsdedup", "sources", "--config", str(path)], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "sink 'x', key 'directory'" in result.stderr


def test_the_filter_takes_sources_languages_and_new_articles_only() -> None:
    record = {"source": "wire", "sources": ["wire", "daily"], "language": "en", "version": 2}
    assert SinkFilter().accepts(record)
    assert SinkFilter(sources=("daily",)).accepts(record)  # seen on it: a syndicated copy
    assert not SinkFilter(sources=("other",)).accepts(record)
    assert not SinkFilter(languages=("de",)).accepts(record)
    assert not SinkFilter(changes="new").accepts(record)
    assert SinkFilter(changes="new").accepts({**record, "version": 1})


def test_deliver_without_sinks_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump({"sources": [SOURCE]}))
    result = subprocess.run(
        [sys.executable, "-m", "newsdedup", "deliver", "--config", str(path)], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "has no sinks" in result.stderr
