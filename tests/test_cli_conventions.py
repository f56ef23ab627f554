"""The command as cron, a container or a log collector meets it: ``--version``, JSON log lines
carrying the crawl's id, and ``crawl --fail-on-errors`` (embedded and distributed mode)."""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from faultkit import start_worker
from helpers import newsdedup, newsdedup_env
from test_distributed import kill_group, wait_ready

from newsdedup.cli import PAGES_FAILED_EXIT, main
from newsdedup.config import Settings
from newsdedup.siteserver import SiteServer
from newsdedup.workers.app import create_celery_app

SITES = Path(__file__).parent / "sites"
REPO = Path(__file__).resolve().parents[1]
BROKEN_STORY = "/stories/chip-plant.html"


def test_version_from_the_installed_distribution() -> None:
    version = importlib.metadata.version("newsdedup")
    script = Path(sys.executable).with_name("newsdedup")
    assert script.exists(), "the console script is installed next to the interpreter"
    installed = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert installed.returncode == 0, installed.stderr
    assert installed.stdout.strip() == f"newsdedup {version}"

    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"newsdedup {version}"


@pytest.fixture
def wire(tmp_path: Path) -> Iterator[tuple[SiteServer, dict[str, str]]]:
    """The wire site (three stories on its front page) and a crawl's environment for it."""
    with SiteServer(SITES / "wire") as site:
        config = tmp_path / "sources.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "sources": [
                        {
                            "name": "wire",
                            "listings": [site.url("/index.html")],
                            "article_links": r"/stories/[a-z-]+\.html$",
                        }
                    ]
                }
            )
        )
        env = newsdedup_env()
        env.update(
            NEWSDEDUP_DATABASE_URL=f"sqlite:///{tmp_path / 'store.db'}",
            NEWSDEDUP_CONFIG=str(config),
            NEWSDEDUP_ALLOW_PRIVATE_ADDRESSES="1",
            NEWSDEDUP_RETRY_TIMES="0",
            NEWSDEDUP_ARCHIVE_DIR=str(tmp_path / "archive"),
        )
        yield site, env


def json_lines(stderr: str) -> list[dict[str, object]]:
    """Every line of ``stderr`` as a JSON object (a line that is not one fails the test)."""
    records = []
    for line in stderr.splitlines():
        record = json.loads(line)
        assert isinstance(record, dict), line
        assert {"time", "level", "logger", "message"} <= set(record), line
        assert str(record["time"]).endswith("+00:00"), line  # ISO 8601, UTC
        records.append(record)
    return records


def test_crawl_logs_one_json_object_a_line_each_with_the_crawl_id(wire) -> None:
    site, env = wire
    site.set_routes({BROKEN_STORY: {"status": 500}})
    result = newsdedup(
        {**env, "NEWSDEDUP_LOG_FORMAT": "json"},
        "-v",
        "crawl",
        "--crawl-id",
        "crawl-json-1",
        check=False,
        cwd=REPO,
    )
    assert result.returncode == 0  # pages failed, but the crawl ran: no --fail-on-errors
    assert "2 articles created" in result.stdout and "1 errors" in result.stdout
    records = json_lines(result.stderr)
    assert len(records) >= 5  # -v: Scrapy's and the pipeline's INFO lines
    assert {record.get("crawl_id") for record in records} == {"crawl-json-1"}
    loggers = {str(record["logger"]) for record in records}
    assert any(name.startswith("scrapy.") for name in loggers)  # Scrapy's lines too
    failure = [r for r in records if r["level"] == "WARNING" and BROKEN_STORY in str(r["message"])]
    assert failure, "the failed page is logged with its URL"


def test_text_logs_stay_plain_lines(wire) -> None:
    _site, env = wire
    result = newsdedup(env, "-v", "crawl", "--crawl-id", "crawl-text-1", check=False, cwd=REPO)
    assert result.returncode == 0
    lines = result.stderr.splitlines()
    assert lines and re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ [\w.]+: ", lines[0])
    assert any("[crawl crawl-text-1]" in line for line in lines)


def test_a_bad_log_format_stops_the_command_naming_the_variable(wire) -> None:
    _site, env = wire
    result = newsdedup({**env, "NEWSDEDUP_LOG_FORMAT": "yaml"}, "crawl", check=False, cwd=REPO)
    assert result.returncode == 2
    assert "NEWSDEDUP_LOG_FORMAT" in result.stderr and "'yaml'" in result.stderr


def test_fail_on_errors_exits_non_zero_only_when_pages_failed(wire) -> None:
    site, env = wire
    clean = newsdedup(env, "crawl", "--fail-on-errors", check=False, cwd=REPO)
    assert clean.returncode == 0
    assert "3 articles created" in clean.stdout and "0 errors" in clean.stdout

    site.set_routes({BROKEN_STORY: {"status": 500}})
    failed = newsdedup(env, "crawl", "--fail-on-errors", check=False, cwd=REPO)
    assert failed.returncode == PAGES_FAILED_EXIT == 3
    assert "1 errors" in failed.stdout  # the summary is still printed
    assert "1 pages failed" in failed.stderr

    # Without the flag the same crawl exits 0, as before.
    assert newsdedup(env, "crawl", check=False, cwd=REPO).returncode == 0


def test_the_console_script_crawls_from_a_users_folder_through_its_extraction_processes(
    wire, tmp_path: Path
) -> None:
    """As the README runs it: ``newsdedup crawl`` from a folder holding config/sources.yaml, the
    extraction processes forked from a forkserver that imported the script once."""
    _, env = wire
    folder = tmp_path / "user"
    (folder / "config").mkdir(parents=True)
    (folder / "config" / "sources.yaml").write_text(Path(env.pop("NEWSDEDUP_CONFIG")).read_text())
    env["NEWSDEDUP_EXTRACT_PROCESSES"] = "2"
    script = Path(sys.executable).with_name("newsdedup")
    result = subprocess.run(
        [str(script), "crawl"], env=env, cwd=folder, capture_output=True, text=True, timeout=240
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "3 articles created" in result.stdout and "0 errors" in result.stdout


def test_fail_on_errors_refuses_no_wait() -> None:
    result = CliRunner().invoke(main, ["crawl", "--no-wait", "--fail-on-errors"])
    assert result.exit_code == 2
    assert "--no-wait" in result.output


@pytest.mark.redis
@pytest.mark.postgres
def test_distributed_crawl_fails_on_errors_and_its_worker_logs_the_crawl_id(
    wire, tmp_path: Path, redis_url: str, postgres_url: str
) -> None:
    """The waiting command counts the page that failed to download; the worker's JSON lines
    about the crawl's pages name the crawl."""
    site, env = wire
    env = {
        **env,
        "NEWSDEDUP_DATABASE_URL": postgres_url,
        "NEWSDEDUP_REDIS_URL": redis_url,
        "NEWSDEDUP_LOG_FORMAT": "json",
        "NEWSDEDUP_LSH_BASENAME": "conventions-test",
    }
    site.set_routes({BROKEN_STORY: {"status": 500}})
    worker_log = tmp_path / "worker.log"
    with open(worker_log, "wb") as log:
        worker = start_worker(env, "conv@%h", log, 1)
    try:
        settings = Settings(redis_url=redis_url, database_url=postgres_url, lsh_basename="conventions-test")
        wait_ready(create_celery_app(settings), ["conv"])
        # The worker's container health check: a worker on this host answers a ping.
        assert newsdedup(env, "healthcheck", "worker", check=False, cwd=REPO).returncode == 0
        result = newsdedup(
            env, "crawl", "--fail-on-errors", "--crawl-id", "crawl-dist-1", check=False, cwd=REPO
        )
        assert result.returncode == PAGES_FAILED_EXIT
        assert "1 errors" in result.stdout
        assert {record.get("crawl_id") for record in json_lines(result.stderr)} == {"crawl-dist-1"}
    finally:
        kill_group(worker)
    print(worker_log.read_text()[-6000:])  # shown by pytest when the test fails
    records = json_lines(worker_log.read_text())
    # The task's line about each of this crawl's pages (its URL is an argument) names the crawl.
    processed = [
        r
        for r in records
        if "newsdedup.process_page" in str(r["message"]) and site.base_url in str(r["message"])
    ]
    assert processed
    assert {r.get("crawl_id") for r in processed} == {"crawl-dist-1"}
    # Celery's own lines go through the same handler (JSON), with no crawl of their own.
    assert any(str(r["logger"]).startswith("celery") for r in records)


def test_healthcheck_of_the_api_asks_livez_on_the_local_port(tmp_path: Path) -> None:
    from api_factories import live_api

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'store.db'}")
    with live_api(settings) as running:
        port = running.base_url.rsplit(":", 1)[1]
        healthy = CliRunner().invoke(main, ["healthcheck", "api", "--port", port])
        assert healthy.exit_code == 0, healthy.output
    # The server is gone: unhealthy, saying why.
    gone = CliRunner().invoke(main, ["healthcheck", "api", "--port", port])
    assert gone.exit_code == 1
    assert "unhealthy" in gone.output and f"127.0.0.1:{port}/livez" in gone.output


def test_healthcheck_auto_finds_the_service_of_the_main_process(tmp_path: Path) -> None:
    from newsdedup.healthcheck import main_command

    cmdline = tmp_path / "cmdline"
    for argv, expected in [
        (
            [
                "/usr/local/bin/python",
                "/usr/local/bin/newsdedup",
                "serve",
                "--host",
                "0.0.0.0",
                "--port",
                "8080",
            ],
            ("api", 8080),
        ),
        (["newsdedup", "worker", "--concurrency", "2", "--hostname", "worker@%h"], ("worker", None)),
        (["/sbin/docker-init", "--", "newsdedup", "flower", "--port=5556"], ("flower", 5556)),
        (["newsdedup", "beat"], ("beat", None)),
        (["python", "-c", "print('migrate')"], (None, None)),
    ]:
        cmdline.write_bytes("\0".join(argv).encode() + b"\0")
        assert main_command(cmdline) == expected, argv


def test_extraction_processes_log_as_the_crawl_does(tmp_path: Path) -> None:
    """The embedded crawl's extraction processes start from a forkserver: their lines are
    JSON too, with the crawl's id."""
    script = """
import logging
from datetime import UTC, datetime

import pool_helpers
from newsdedup.fetched.page import Page
from newsdedup.dedup import DedupParams
from newsdedup.config import logs
from newsdedup.pipeline.extraction_pool import ExtractionPool

logs.configure("json", logging.WARNING)
logs.bind_process_crawl("crawl-pool-1")
pool = ExtractionPool(1, 20, DedupParams(), prepare=pool_helpers.prepare_and_log)
url = "https://daily.example/2024/05/story.html"
page = Page(url=url, final_url=url, status=200, headers={"content-type": "text/html"},
            html="<html><body><p>Text.</p></body></html>",
            fetched_at=datetime(2024, 5, 2, tzinfo=UTC), source="daily")
pool.submit(page).future.result()
pool.close()
"""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests")])}
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    records = json_lines(result.stderr)
    from_pool = [r for r in records if r["logger"] == "tests.pool_helpers"]
    assert from_pool and from_pool[0]["crawl_id"] == "crawl-pool-1"
    assert "daily.example/2024/05/story.html" in str(from_pool[0]["message"])
