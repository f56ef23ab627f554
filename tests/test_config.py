"""The sources file and settings: bad configuration stops with a message naming source and key."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from helpers import NEWSDEDUP, newsdedup, newsdedup_env

from newsdedup.config import (
    ConfigError,
    Settings,
    SettingsError,
    UnknownSource,
    load_settings,
    load_sources,
    parse_sources,
    select_sources,
)

GOOD = """
sources:
  - name: newschina
    feeds: [https://example.com/rss.xml]
    sitemaps: [https://example.com/sitemap.xml]
    listings: [https://example.com/news/]
    article_links: '/\\d{4}/\\d{2}/[^/]+\\.html$'
    schedule: 15m
    max_pages: 50
  - name: wire-2
    feeds: [https://wire.example.org/atom.xml]
    schedule: "*/10 6-22 * * 1-5"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_good_file_loads_with_defaults(tmp_path: Path) -> None:
    first, second = load_sources(write(tmp_path, GOOD))
    assert first.name == "newschina"
    assert first.schedule.interval_seconds == 900
    assert first.article_links.search("https://example.com/2026/03/story.html")
    assert first.allowed_domains == ("example.com",)
    assert first.max_pages == 50
    assert second.schedule.cron_fields == ("*/10", "6-22", "*", "*", "1-5")
    assert second.allowed_domains == ("wire.example.org",)


@pytest.mark.parametrize(
    ("entry", "source", "key"),
    [
        ("{name: a, feeds: [https://x.org/f], shedule: 5m}", "'a'", "'shedule'"),
        ("{name: a, listings: [https://x.org/], article_links: '([a-z'}", "'a'", "'article_links'"),
        ("{name: a, feeds: [https://x.org/f], schedule: every-day}", "'a'", "'schedule'"),
        ("{name: a, feeds: [https://x.org/f], schedule: '61 * * * *'}", "'a'", "'schedule'"),
        ("{name: a}", "'a'", "'feeds'"),
        ("{name: Bad_Name, feeds: [https://x.org/f]}", "'Bad_Name'", "'name'"),
        ("{name: a, feeds: [ftp://x.org/f]}", "'a'", "'feeds'"),
        ("{name: a, listings: [https://x.org/]}", "'a'", "'article_links'"),
        ("{name: a, feeds: [https://x.org/f], max_pages: 0}", "'a'", "'max_pages'"),
    ],
)
def test_bad_entry_names_source_and_key(entry: str, source: str, key: str) -> None:
    import yaml

    with pytest.raises(ConfigError) as error:
        parse_sources(yaml.safe_load(f"sources:\n  - {entry}\n"))
    assert f"source {source}" in str(error.value)
    assert f"key {key}" in str(error.value)


def test_duplicate_name_is_an_error() -> None:
    data = {
        "sources": [{"name": "a", "feeds": ["https://x.org/f"]}, {"name": "a", "feeds": ["https://y.org/f"]}]
    }
    with pytest.raises(ConfigError, match="source 'a', key 'name': duplicate name"):
        parse_sources(data)


def test_named_sources_come_once_in_the_order_named_and_unknown_ones_are_all_listed(tmp_path: Path) -> None:
    sources = load_sources(write(tmp_path, GOOD))
    assert [s.name for s in select_sources(sources, ["wire-2", "newschina", "wire-2"])] == [
        "wire-2",
        "newschina",
    ]
    assert select_sources(sources, []) == sources
    with pytest.raises(UnknownSource) as error:
        select_sources(sources, ["newschina", "nope", "gone"])
    assert error.value.unknown == ["nope", "gone"]
    assert str(error.value) == "unknown sources 'nope', 'gone' (known: newschina, wire-2)"


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSDEDUP_DATABASE_URL", "sqlite:////tmp/x.db")
    monkeypatch.setenv("NEWSDEDUP_REDIS_URL", "redis://127.0.0.1:6379/3")
    settings = Settings()
    assert settings.database_url == "sqlite:////tmp/x.db"
    assert settings.distributed
    monkeypatch.delenv("NEWSDEDUP_REDIS_URL")
    assert not Settings().distributed


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*NEWSDEDUP, *args], cwd=cwd, capture_output=True, text=True)


def test_sources_command_lists_and_validates(tmp_path: Path) -> None:
    good = run_cli("sources", "--config", str(write(tmp_path, GOOD)), cwd=tmp_path)
    assert good.returncode == 0, good.stderr
    assert "newschina" in good.stdout and "15m" in good.stdout and "wire-2" in good.stdout

    bad = run_cli(
        "sources",
        "--config",
        str(write(tmp_path, GOOD.replace("schedule: 15m", "schedule: soon"))),
        cwd=tmp_path,
    )
    assert bad.returncode == 2
    assert "source 'newschina', key 'schedule'" in bad.stderr


def test_sources_command_shows_the_optional_keys_but_never_a_proxys_password(tmp_path: Path) -> None:
    config = write(
        tmp_path,
        """
sources:
  - name: planet
    feeds: [https://planet.example/rss.xml]
    extraction: {title: h1, drop: [".ad"]}
    languages: [en, de]
    stale_after: 6h
    proxy: http://crawler:hunter2@proxy.example:3128
  - name: plain
    feeds: [https://plain.example/rss.xml]
""",
    )
    listed = run_cli("sources", "--config", str(config), cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    planet, plain = (line for line in listed.stdout.splitlines() if line.startswith("  "))
    assert (
        "stale after 21600s; languages en, de; extraction overrides: title, drop; through a proxy" in planet
    )
    assert "hunter2" not in listed.stdout and "proxy.example" not in listed.stdout
    assert plain.endswith("max 1000 pages")


def test_crawl_of_unknown_source_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli("crawl", "nosuch", "--config", str(write(tmp_path, GOOD)), cwd=tmp_path)
    assert result.returncode == 2
    assert "unknown source 'nosuch'" in result.stderr


def test_dedup_defaults_are_the_calibrated_ones_in_both_places() -> None:
    # Settings (what the service runs with) and DedupParams (what dedup/ and its tests use
    # when given nothing) must not drift apart.
    from newsdedup.dedup import DedupParams
    from newsdedup.pipeline.services import dedup_params

    assert dedup_params(Settings()) == DedupParams()


def test_a_child_process_environment_carries_exactly_these_settings() -> None:
    settings = Settings(database_url="sqlite:////tmp/child.db", redis_url=None, obey_robots=False)
    env = settings.as_environment({"PATH": "/bin", "NEWSDEDUP_REDIS_URL": "redis://elsewhere"})
    assert env["PATH"] == "/bin"
    assert "NEWSDEDUP_REDIS_URL" not in env  # unset here: the child runs embedded too
    assert (
        Settings(**{k[len("NEWSDEDUP_") :].lower(): v for k, v in env.items() if k.startswith("NEWSDEDUP_")})
        == settings
    )


def test_a_crawl_child_process_gets_no_secret_it_has_no_use_for() -> None:
    settings = Settings(database_url="sqlite:////tmp/child.db", api_token="t0ken", flower_auth="ops:s3cret")
    env = settings.crawl_environment({"PATH": "/bin", "NEWSDEDUP_API_TOKEN": "inherited"})
    assert env["NEWSDEDUP_DATABASE_URL"] == "sqlite:////tmp/child.db"
    assert not {
        "NEWSDEDUP_API_TOKEN",
        "NEWSDEDUP_FLOWER_AUTH",
        "NEWSDEDUP_API_HOST",
        "NEWSDEDUP_API_PORT",
    } & set(env)
    assert "t0ken" not in env.values() and "ops:s3cret" not in env.values()


def test_private_addresses_are_an_explicit_opt_in_per_source() -> None:
    sources = parse_sources(
        {
            "sources": [
                {"name": "intranet", "feeds": ["http://news.corp:8080/rss"], "allow_private_addresses": True},
                {"name": "public", "feeds": ["https://example.com/rss"]},
            ]
        }
    )
    assert [s.allow_private_addresses for s in sources] == [True, False]
    assert sources[0].ports == {8080} and sources[1].ports == {443}
    assert Settings.model_fields["allow_private_addresses"].default is False
    with pytest.raises(ConfigError, match="source 'x', key 'allow_private_addresses': must be true or false"):
        parse_sources({"sources": [{"name": "x", "feeds": ["http://a/"], "allow_private_addresses": "yes"}]})


SECRET_VALUES = {
    "database_url": "postgresql+psycopg://newsdedup:pa55@db:5432/newsdedup",
    "redis_url": "redis://:pa55@redis:6379/0",
    "api_token": "t0ken-from-a-file",
    "flower_auth": "ops:s3cret",
}


def clear_newsdedup_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in [k for k in os.environ if k.startswith("NEWSDEDUP_")]:
        monkeypatch.delenv(name)


def test_secrets_are_read_from_the_files_their_file_variables_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clear_newsdedup_env(monkeypatch)
    for name, value in SECRET_VALUES.items():
        path = tmp_path / name
        path.write_text(value + "\n")  # as `echo value > file` writes it
        monkeypatch.setenv(f"NEWSDEDUP_{name.upper()}_FILE", str(path))
    settings = load_settings()
    for name, value in SECRET_VALUES.items():
        assert getattr(settings, name) == value, name
    # A child process is given the values, not the files (which it may not be able to read).
    env = settings.as_environment({})
    assert env["NEWSDEDUP_API_TOKEN"] == "t0ken-from-a-file"
    assert not [k for k in env if k.endswith("_FILE")]


@pytest.mark.parametrize("name", sorted(SECRET_VALUES))
def test_a_secret_set_twice_stops_naming_both_variables(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clear_newsdedup_env(monkeypatch)
    (tmp_path / "secret").write_text(SECRET_VALUES[name])
    variable = f"NEWSDEDUP_{name.upper()}"
    monkeypatch.setenv(variable, SECRET_VALUES[name])
    monkeypatch.setenv(variable + "_FILE", str(tmp_path / "secret"))
    with pytest.raises(SettingsError) as error:
        load_settings()
    assert f"{variable} and {variable}_FILE are both set" in str(error.value)


def test_an_unreadable_secret_file_stops_the_command_naming_variable_and_path(tmp_path: Path) -> None:

    env = newsdedup_env()
    missing = tmp_path / "no-such-token"
    env["NEWSDEDUP_API_TOKEN_FILE"] = str(missing)
    result = newsdedup(env, "serve", check=False, cwd=tmp_path)
    assert result.returncode == 2
    assert "NEWSDEDUP_API_TOKEN_FILE" in result.stderr and str(missing) in result.stderr
    assert "No such file" in result.stderr


def test_a_bad_log_format_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_newsdedup_env(monkeypatch)
    monkeypatch.setenv("NEWSDEDUP_LOG_FORMAT", "xml")
    with pytest.raises(SettingsError, match="NEWSDEDUP_LOG_FORMAT: Input should be 'text' or 'json'"):
        load_settings()
    monkeypatch.setenv("NEWSDEDUP_LOG_FORMAT", "json")
    assert load_settings().log_format == "json"
    monkeypatch.delenv("NEWSDEDUP_LOG_FORMAT")
    assert load_settings().log_format == "text"
