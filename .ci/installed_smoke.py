"""Run the installed newsdedup as a user would, from a folder of their own.

Called by .ci/package-check with the fresh virtual environment's Python and an empty folder.
The folder gets a ``config/sources.yaml`` of its own and, beside it, a folder named after every
layer of the project (``store/``, ``crawler/``, ...), each a package that fails on import: the
installed commands must never import the user's folders in place of their own.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

LAYERS = ("archive", "config", "crawler", "dedup", "extract", "fetched", "pipeline", "store", "workers")
SUMMARY = re.compile(r"(\d+) pages fetched, .* (\d+) articles created, .* (\d+) errors")


def run(work: Path, env: dict[str, str], *args: str) -> str:
    command = [str(Path(sysconfig.get_path("scripts")) / "newsdedup"), *args]
    result = subprocess.run(
        command, check=False, cwd=work, env=env, capture_output=True, text=True, timeout=300
    )
    print(f"$ newsdedup {' '.join(args)}  (exit {result.returncode})")
    print(result.stdout[-3000:], result.stderr[-3000:], sep="\n")
    if result.returncode != 0:
        sys.exit(f"newsdedup {' '.join(args)} failed with exit code {result.returncode}")
    return result.stdout


def main(work: Path) -> None:
    import newsdedup
    from newsdedup.demo import DemoSites

    installed = Path(newsdedup.__file__).resolve()
    assert "site-packages" in installed.parts, f"newsdedup imported from {installed}, not the installed wheel"
    for name in LAYERS:
        (work / name).mkdir(parents=True, exist_ok=True)
        (work / name / "__init__.py").write_text(
            f'raise ImportError("the user\'s own {name}/ folder was imported")\n'
        )
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSDEDUP_")}
    env["NEWSDEDUP_ALLOW_PRIVATE_ADDRESSES"] = "1"

    version = run(work, env, "--version")
    assert "newsdedup" in version, version
    run(work, env, "demo")
    with DemoSites(work / "sites") as sites:
        sites.publish(1)
        (work / "config" / "sources.yaml").write_text(sites.sources_file.read_text())
        run(work, env, "sources")
        output = run(work, env, "crawl")
    match = SUMMARY.search(output)
    assert match, output
    fetched, created, errors = map(int, match.groups())
    assert created > 0 and errors == 0, output
    feed = run(work, env, "feed", "--after", "0", "--format", "jsonl")
    assert len(feed.splitlines()) == created, feed
    assert (work / "data" / "newsdedup.db").exists(), (
        "the default store is data/newsdedup.db in the working folder"
    )
    print(f"installed wheel: {fetched} pages fetched, {created} articles created, 0 errors, from {work}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
