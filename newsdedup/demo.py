"""`newsdedup demo`: three small news sites on loopback, crawled twice, with the reasons.

Round 1 serves the first state of the sites; between the rounds one story is updated in
place and another is republished as an "UPDATE 1-" revision at a new URL. Each round is a
separate `newsdedup crawl` process, exactly as an operator would run it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from importlib import resources
from pathlib import Path

import click

from newsdedup.siteserver import SiteServer

SITES = {"harbor-times": "127.0.0.2", "coastal-wire": "127.0.0.3", "metro-daily": "127.0.0.4"}


class DemoSites:
    """The bundled sample sites served on loopback (127.0.0.2-4), one round at a time.

    Used by ``newsdedup demo`` and by the end-to-end tests. ``sources_file`` names the sites
    at the addresses they are served at; ``publish(n)`` lays round ``n``'s files over them.
    """

    def __init__(self, work: Path) -> None:
        self.work = work
        self.bundle = Path(str(resources.files("newsdedup") / "demo_sites"))
        self.servers: dict[str, SiteServer] = {}
        self.sources_file = work / "sources.yaml"

    def __enter__(self) -> DemoSites:
        try:
            for name, address in SITES.items():
                root = self.work / "www" / name
                if root.exists():
                    shutil.rmtree(root)
                root.mkdir(parents=True)
                self.servers[name] = SiteServer(root, host=address).start()
        except BaseException:
            self.__exit__()
            raise
        self.placeholders = {f"{{{name}}}": server.base_url for name, server in self.servers.items()}
        self.sources_file.write_text(
            _fill((self.bundle / "sources.yaml").read_text(encoding="utf-8"), self.placeholders),
            encoding="utf-8",
        )
        return self

    def __exit__(self, *exc_info: object) -> None:
        for server in self.servers.values():
            server.stop()

    def publish(self, round_number: int) -> None:
        _publish(self.bundle / f"round{round_number}", self.work / "www", self.placeholders)

    def url(self, site: str, path: str = "") -> str:
        return self.servers[site].base_url + path


def run_demo(keep: Path | None = None) -> None:
    with ExitStack() as stack:
        work = (
            Path(keep)
            if keep
            else Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="newsdedup-demo-")))
        )
        work.mkdir(parents=True, exist_ok=True)
        sites = stack.enter_context(DemoSites(work))
        database = work / "demo.db"
        if database.exists():
            database.unlink()
        env = {k: v for k, v in os.environ.items() if k != "NEWSDEDUP_REDIS_URL"}
        env.update(
            NEWSDEDUP_DATABASE_URL=f"sqlite:///{database}",
            NEWSDEDUP_CONFIG=str(sites.sources_file),
            NEWSDEDUP_ARCHIVE_DIR=str(work / "archive"),
        )  # the demo's pages stay in its folder

        click.secho("newsdedup demo", bold=True)
        for name, server in sites.servers.items():
            click.echo(f"  serving {name:<13} at {server.base_url}")
        for round_number in (1, 2):
            sites.publish(round_number)
            click.secho(f"\nRound {round_number}: newsdedup crawl --explain", bold=True)
            if round_number == 2:
                click.echo(
                    "  (between rounds: the terminal story was updated in place, and the bridge story "
                    'republished as an "UPDATE 1-" revision at a new URL)'
                )
            _run([sys.executable, "-m", "newsdedup", "crawl", "--explain"], env)

        click.secho("\nThe deduplicated feed (newsdedup feed):", bold=True)
        feed = subprocess.run(
            [sys.executable, "-m", "newsdedup", "feed"], env=env, check=True, capture_output=True, text=True
        ).stdout
        for line in feed.splitlines():
            record = json.loads(line)
            click.echo(f"  seq {record['seq']:>2}  v{record['version']}  {record['title']}")
            click.echo(
                f"          canonical {record['canonical_url']}  sources: {', '.join(record['sources'])}"
            )
            for url in record["urls"]:
                if url != record["canonical_url"]:
                    click.echo(f"          also at   {url}")

        requests = [r for server in sites.servers.values() for r in server.requests]
        disallowed = [r for r in requests if r.path.startswith("/drafts/")]
        conditional = [
            r for r in requests if r.headers.get("if-none-match") or r.headers.get("if-modified-since")
        ]
        not_modified = [r for r in requests if r.status == 304]
        click.secho("\nPoliteness:", bold=True)
        click.echo(
            f"  {len(requests)} requests in all; {len(disallowed)} to the robots.txt-disallowed /drafts/; "
            f"{len(conditional)} conditional requests in round 2, {len(not_modified)} answered 304 Not Modified"
        )
        if keep:
            click.echo(f"\nThe demo's database is kept at {database}")


def _publish(source_root: Path, www: Path, placeholders: dict[str, str]) -> None:
    """Copy one round's files over the served folders, filling in the sites' addresses."""
    for path in sorted(source_root.rglob("*")):
        if path.is_file():
            target = www / path.relative_to(source_root)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(_fill(path.read_text(encoding="utf-8"), placeholders), encoding="utf-8")


def _fill(text: str, placeholders: dict[str, str]) -> str:
    for key, value in placeholders.items():
        text = text.replace(key, value)
    return text


def _run(command: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(command, env=env, text=True, capture_output=True, check=False)
    sys.stdout.write(result.stdout)
    if result.returncode != 0:
        sys.stderr.write(result.stderr)
        raise click.ClickException(f"{' '.join(command[2:])} failed with exit code {result.returncode}")
    warnings = [line for line in result.stderr.splitlines() if " WARNING " in line or " ERROR " in line]
    for line in warnings:
        click.echo(f"  log: {line.split(': ', 1)[-1]}")
