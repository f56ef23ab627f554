"""Run every benchmark, one after the other, each in its own process.

    python -m bench.run_all [--quick] [--data DIR] [--only NAME,NAME] [--skip NAME,NAME]

Each benchmark prints its own table and writes ``bench/results/<name>.json``; this prints a
line per benchmark at the end (exit code, seconds) and returns non-zero if any failed. Its
own process per benchmark: Scrapy's reactor cannot restart, and a crash stays contained.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.common import DEFAULT_DATA, print_table

# name → (takes --data, takes --quick, extra arguments for --quick)
BENCHMARKS: dict[str, tuple[bool, bool, list[str]]] = {
    "extraction": (True, False, ["--limit", "60"]),
    "dates": (True, False, ["--limit", "60"]),
    "blocked_pages": (True, False, []),
    "dedup_calibration": (True, True, []),
    "throughput": (True, True, []),
    "scaleout": (True, True, []),
    "index_scale": (False, True, []),
    "feed_api": (False, False, ["--articles", "10000", "--seconds", "3"]),
    "console": (False, False, ["--articles", "10000", "--runs", "5"]),
    "archive": (True, False, ["--limit", "60", "--repeat", "1", "--copies", "2"]),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="each benchmark's quick variant")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--only", default="", help="comma-separated benchmark names")
    parser.add_argument("--skip", default="", help="comma-separated benchmark names")
    args = parser.parse_args(argv)
    only = {n for n in args.only.split(",") if n}
    skip = {n for n in args.skip.split(",") if n}
    unknown = (only | skip) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s) {sorted(unknown)}; known: {', '.join(BENCHMARKS)}")

    root = Path(__file__).resolve().parents[1]
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))
    )
    rows = []
    for name, (takes_data, takes_quick, quick_extra) in BENCHMARKS.items():
        if (only and name not in only) or name in skip:
            continue
        command = [sys.executable, "-m", f"bench.{name}"]
        if takes_data:
            command += ["--data", str(args.data)]
        if args.quick:
            command += (["--quick"] if takes_quick else []) + quick_extra
        print(f"\n=== {name}: {' '.join(command[1:])}", flush=True)
        started = time.perf_counter()
        code = subprocess.run(command, cwd=root, env=env).returncode
        rows.append((name, code, time.perf_counter() - started))
    print("\n=== all benchmarks")
    print_table(["benchmark", "exit", "seconds"], rows)
    return 1 if any(code for _, code, _ in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
