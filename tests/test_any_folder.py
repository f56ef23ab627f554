"""Every command runs from a user's own folder, whatever that folder holds.

The working folder here is what a user has: ``config/sources.yaml``, and beside it folders named
after every layer of the project (``store/``, ``crawler/``, ``config/`` itself, ...). Each of them
is a Python package that fails when imported. The installed ``newsdedup`` script runs from there,
as a user runs it: ``demo``, ``crawl``, ``reprocess``, ``import-warc`` and ``serve`` in embedded
mode; ``worker``, ``beat``, ``crawl``, ``reprocess``, ``import-warc`` and ``serve`` in
distributed mode. Nothing may import the user's folders in place of the project's packages
(an extraction process that did failed every page of a crawl).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sysconfig
import time
import urllib.request
import uuid
from pathlib import Path

import psycopg
import pytest
from helpers import PACKAGE_FOLDERS, free_port, newsdedup_env, summary_of

from newsdedup.demo import DemoSites

NEWSDEDUP = str(Path(sysconfig.get_path("scripts")) / "newsdedup")
LAYERS = sorted(folder for folder in PACKAGE_FOLDERS.values() if folder != "newsdedup")


@pytest.fixture
def user_folder(tmp_path: Path):
    """A user's working folder with config/sources.yaml for the demo's sites, served here."""
    work = tmp_path / "work"
    for name in LAYERS:
        (work / name).mkdir(parents=True)
        (work / name / "__init__.py").write_text(
            f'raise ImportError("the user\'s {name}/ folder was imported")\n'
        )
    with DemoSites(tmp_path / "sites") as sites:
        sites.publish(1)
        (work / "config" / "sources.yaml").write_text(sites.sources_file.read_text())
        yield work


def user_env(**extra: str) -> dict[str, str]:
    env = newsdedup_env()
    env.pop("PYTHONPATH", None)  # nothing but the installed package and the folder it runs in
    env.update(NEWSDEDUP_ALLOW_PRIVATE_ADDRESSES="1", **extra)
    return env


def run(work: Path, env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [NEWSDEDUP, *args], cwd=work, env=env, capture_output=True, text=True, timeout=240
    )
    print(f"$ newsdedup {' '.join(args)}", result.stdout, result.stderr, sep="\n")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "folder was imported" not in result.stdout + result.stderr
    return result.stdout


def assert_clean(output: str, created: int | None = None) -> dict[str, int]:
    counts = summary_of(output)
    assert counts["errors"] == 0 and counts["rejected"] == 0, output
    if created is not None:
        assert counts["created"] == created, output
    return counts


def archive_files(work: Path) -> list[str]:
    files = sorted(str(p) for p in (work / "data" / "archive").rglob("*.warc.gz"))
    assert files, "the crawl wrote no archive into the working folder's data/archive"
    return files


class Service:
    """A long-running command started from the user's folder, its output in a log file."""

    def __init__(self, work: Path, env: dict[str, str], name: str, *args: str) -> None:
        self.log_path = work.parent / f"{name}.log"
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [NEWSDEDUP, *args],
            cwd=work,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            assert self.process.poll() is None, f"exited {self.process.returncode}:\n{self.output()[-3000:]}"
            assert time.monotonic() < deadline, f"no {text!r} within {timeout} s:\n{self.output()[-3000:]}"
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()
        assert "folder was imported" not in self.output(), self.output()[-3000:]


def feed_over_http(work: Path, env: dict[str, str]) -> list[dict]:
    port = free_port()
    api = Service(work, env, "serve", "serve", "--host", "127.0.0.1", "--port", str(port))
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/v1/feed?after=0&limit=100", timeout=5
                ) as r:
                    return json.load(r)["items"]
            except OSError:
                assert api.process.poll() is None, api.output()[-3000:]
                assert time.monotonic() < deadline, api.output()[-3000:]
                time.sleep(0.3)
    finally:
        api.stop()


def test_embedded_commands_run_from_a_users_folder(user_folder: Path, tmp_path: Path) -> None:
    work, env = user_folder, user_env()
    assert "Politeness:" in run(work, env, "demo")

    assert_clean(run(work, env, "crawl"), created=5)
    assert (work / "data" / "newsdedup.db").exists()
    assert len(feed_over_http(work, env)) == 5

    again = f"sqlite:///{tmp_path / 'reprocessed.db'}"
    assert_clean(run(work, env, "reprocess", "--database-url", again), created=5)

    imported = user_env(NEWSDEDUP_DATABASE_URL=f"sqlite:///{tmp_path / 'imported.db'}")
    assert_clean(run(work, imported, "import-warc", *archive_files(work), "--source", "archive"), created=5)


@pytest.mark.redis
@pytest.mark.postgres
def test_distributed_commands_run_from_a_users_folder(
    user_folder: Path, tmp_path: Path, redis_url: str, postgres_url: str, postgres_admin_url: str
) -> None:
    work = user_folder
    name = f"newsdedup_test_{uuid.uuid4().hex[:12]}"
    target = postgres_url.rsplit("/", 1)[0] + f"/{name}"
    env = user_env(
        NEWSDEDUP_REDIS_URL=redis_url,
        NEWSDEDUP_DATABASE_URL=postgres_url,
        NEWSDEDUP_REPROCESS_DATABASE_URLS=target,
    )
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    worker = Service(
        work, env, "worker", "worker", "--concurrency", "2", "-n", f"folder-{uuid.uuid4().hex[:6]}@%h"
    )
    beat = None
    try:
        worker.wait_for("ready")
        assert_clean(run(work, env, "crawl"), created=5)
        assert len(feed_over_http(work, env)) == 5
        assert_clean(run(work, env, "reprocess", "--database-url", target), created=5)
        counts = assert_clean(run(work, env, "import-warc", *archive_files(work), "--source", "archive"))
        assert counts["fetched"] == 8, counts
        # Last, so that the crawls its first tick sends cannot change what the commands above saw.
        beat = Service(work, env, "beat", "beat", "--schedule", str(tmp_path / "beat-schedule"))
        beat.wait_for("beat: Starting")
        time.sleep(3)
        assert beat.process.poll() is None, beat.output()[-3000:]
    finally:
        if beat is not None:
            beat.stop()
        worker.stop()
        with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
