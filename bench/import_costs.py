"""What each deferred import saves: the import time a module would add to a process that has
imported its importer, as ``python -X importtime`` counts it (the sum of the self times of the
modules it loads in addition), the least of several runs.

A sum of import times, not the wall time of a command, so that a busy machine inflates it less.
Each ``# deferred`` import in the code names the figure measured here; one that saves nothing
measurable belongs at the top of its module (CONTRIBUTING.md, "a new import").

    python -m bench.import_costs [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

from bench.common import print_table, write_results

# (the module already imported in the process that defers, the deferred import, where)
DEFERRED = [
    ("newsdedup.dedup.fingerprint", "numpy", "dedup/fingerprint.py"),
    ("newsdedup.dedup.fingerprint", "newsdedup.dedup.datasketch_import", "dedup/fingerprint.py"),
    # what it saves: datasketch with SciPy's integrate, as it imports by itself
    ("newsdedup.dedup.fingerprint", "datasketch", "dedup/datasketch_import.py (without it)"),
    ("newsdedup.store.engine", "alembic.config", "store/engine.py"),
    ("newsdedup.store.engine", "alembic.command", "store/engine.py"),
    ("newsdedup.pipeline.page_pipeline", "newsdedup.store.store", "pipeline/page_pipeline.py"),
    # the crawling process of an embedded crawl, which opens the pipeline and extracts only
    # the pages that come before its pool is up
    ("newsdedup.pipeline.services", "newsdedup.extract.extractor", "pipeline/page_pipeline.py"),
    ("newsdedup.pipeline.archiving", "newsdedup.crawler.archive", "pipeline/archiving.py"),
    ("newsdedup.workers.app", "newsdedup.workers.pages", "workers/app.py, tasks.py, process_services.py"),
    ("newsdedup.workers.app", "newsdedup.workers.sweeper", "workers/app.py, tasks.py"),
    ("newsdedup.workers.app", "newsdedup.dedup.datasketch_import", "workers/app.py"),
    ("newsdedup.cli", "newsdedup.crawl", "newsdedup/cli.py"),
    (
        "newsdedup.cli",
        "newsdedup.pipeline.services",
        "newsdedup/cli.py, status_command.py, archive_commands.py",
    ),
    ("newsdedup.cli", "uvicorn", "newsdedup/cli.py"),
    ("newsdedup.cli", "newsdedup.workers.app", "newsdedup/cli.py"),
    ("newsdedup.cli", "newsdedup.demo", "newsdedup/cli.py"),
    ("newsdedup.cli", "newsdedup.workers.index_repair", "newsdedup/cli.py"),
    ("newsdedup.cli", "newsdedup.archive.reader", "newsdedup/archive_commands.py"),
    ("newsdedup.cli", "newsdedup.reprocess", "newsdedup/archive_commands.py"),
    ("newsdedup.cli", "newsdedup.archive.prune", "newsdedup/archive_commands.py"),
    ("newsdedup.cli", "newsdedup.source_status", "newsdedup/status_command.py"),
    ("newsdedup.crawl", "newsdedup.workers.crawl_side", "newsdedup/crawl.py"),
    ("newsdedup.crawl", "newsdedup.pipeline.embedded", "newsdedup/crawl.py"),
    ("newsdedup.crawl", "newsdedup.pipeline.services", "newsdedup/crawl.py"),
    ("newsdedup.api.app", "newsdedup.workers.api_side", "newsdedup/api/crawls.py, crawl_routes.py"),
    ("newsdedup.reprocess", "newsdedup.workers.crawl_side", "newsdedup/reprocess.py"),
    ("newsdedup.healthcheck", "newsdedup.workers.app", "newsdedup/healthcheck.py"),
    ("newsdedup.crawler.run", "scrapy.signals", "crawler/run.py"),
    ("newsdedup.crawler.run", "twisted.internet.task", "crawler/run.py"),
]


def added_microseconds(base: str, target: str) -> int:
    """The import time ``import target`` adds to a fresh interpreter that imported ``base``."""
    code = f"import sys; import {base}; sys.stderr.write('AFTER\\n'); import {target}"
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-2000:])
    total = 0
    for line in result.stderr.split("AFTER\n", 1)[1].splitlines():
        if line.startswith("import time:") and "|" in line:
            self_time = line.split("|")[0].split(":")[1].strip()
            if self_time.isdigit():
                total += int(self_time)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    rows = []
    for base, target, where in DEFERRED:
        runs = [added_microseconds(base, target) for _ in range(args.runs)]
        rows.append((where, base, target, min(runs) / 1000, statistics.median(runs) / 1000))
    print_table(["where", "process has", "deferred import", "least ms", "median ms"], rows)
    write_results(
        "import_costs",
        {
            "runs": args.runs,
            "costs": [dict(zip(("where", "base", "target", "least_ms", "median_ms"), r)) for r in rows],
        },
    )


if __name__ == "__main__":
    main()
