"""The distributed commands as an operator meets them: refusals, and Flower behind auth."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import NEWSDEDUP

from newsdedup.cli import main

REPO = Path(__file__).resolve().parents[1]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSDEDUP_", "FLOWER_"))}
    env.update(extra)
    return env


def test_flower_refuses_to_start_without_auth(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [k for k in os.environ if k.startswith("NEWSDEDUP_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("NEWSDEDUP_REDIS_URL", "redis://127.0.0.1:6379/15")
    result = CliRunner().invoke(main, ["flower", "--port", "5599"])
    assert result.exit_code == 2
    assert "NEWSDEDUP_FLOWER_AUTH" in result.output


@pytest.mark.parametrize(
    ("auth", "why"),
    [
        ("ops:se,cret", "must not contain a comma"),  # Flower would accept "ops:se" and "cret"
        ("ops:", "password (after the first ':') must not be empty"),
        (":s3cret", "with a user name before the first ':'"),
        ("ops", "with a user name before the first ':'"),
    ],
)
def test_flower_refuses_credentials_it_would_misread(
    auth: str, why: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [k for k in os.environ if k.startswith("NEWSDEDUP_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("NEWSDEDUP_REDIS_URL", "redis://127.0.0.1:6379/15")
    monkeypatch.setenv("NEWSDEDUP_FLOWER_AUTH", auth)
    result = CliRunner().invoke(main, ["flower", "--port", "5599"])
    assert result.exit_code == 2
    assert "NEWSDEDUP_FLOWER_AUTH" in result.output and why in result.output


@pytest.mark.parametrize("command", ["worker", "beat", "flower"])
def test_distributed_commands_refuse_without_redis(command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [k for k in os.environ if k.startswith("NEWSDEDUP_")]:
        monkeypatch.delenv(name)
    result = CliRunner().invoke(main, [command])
    assert result.exit_code == 2
    assert "NEWSDEDUP_REDIS_URL" in result.output


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def status_of(url: str, auth: str | None = None) -> int:
    request = urllib.request.Request(url)
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.redis
def test_flower_serves_the_dashboard_only_with_the_password(redis_url: str, tmp_path: Path) -> None:
    port = free_port()
    log = open(tmp_path / "flower.log", "wb")
    process = subprocess.Popen(
        [*NEWSDEDUP, "flower", "--port", str(port)],
        env=clean_env(
            NEWSDEDUP_REDIS_URL=redis_url, NEWSDEDUP_FLOWER_AUTH="ops:s3cret", NEWSDEDUP_LOG_FORMAT="json"
        ),
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 30
        while True:
            try:
                first = status_of(url)
                break
            except (urllib.error.URLError, ConnectionError):
                assert process.poll() is None, (tmp_path / "flower.log").read_text()
                assert time.monotonic() < deadline, "Flower did not start"
                time.sleep(0.2)
        assert first == 401
        assert status_of(url, "ops:wrong") == 401
        assert status_of(url, "ops:s3cret") == 200
        # It listens on 127.0.0.1 only (--address), not on every interface.
        with pytest.raises((urllib.error.URLError, ConnectionError)):
            status_of(f"http://127.0.0.2:{port}/", "ops:s3cret")
        # The password is not on the command line for `ps` to show.
        assert "s3cret" not in " ".join(process.args)  # type: ignore[arg-type]
        # Its container's health check: Flower's /healthcheck answers (no password needed).
        health = CliRunner().invoke(main, ["healthcheck", "flower", "--port", str(port)])
        assert health.exit_code == 0, health.output
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    # NEWSDEDUP_LOG_FORMAT=json: Flower's own lines are JSON objects too.
    lines = (tmp_path / "flower.log").read_text().splitlines()
    assert lines and all(json.loads(line)["logger"] for line in lines)
    assert any(json.loads(line)["logger"].startswith("flower") for line in lines)
