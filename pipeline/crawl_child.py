"""A crawl in a child process: ``newsdedup crawl`` started by a long-lived process.

Scrapy's Twisted reactor cannot be restarted, so a process that lives longer than one crawl
(the API in embedded mode, a worker running ``newsdedup.crawl_source``) never runs Scrapy
itself; a crash of the crawl does not take it down either. Both start the child here.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping, Sequence

from newsdedup.config import Settings


def crawl_command(settings: Settings, sources: Sequence[str], crawl_id: str, wait: bool = True) -> list[str]:
    """The child's command line: ``wait=False`` returns once its pages are handed on
    (distributed mode), without waiting for the workers."""
    return [
        sys.executable,
        "-m",
        "newsdedup",
        "crawl",
        *sources,
        "--config",
        str(settings.config.resolve()),
        "--crawl-id",
        crawl_id,
        *([] if wait else ["--no-wait"]),
    ]


def start_crawl_process(
    settings: Settings,
    sources: Sequence[str],
    crawl_id: str,
    env: Mapping[str, str],
    wait: bool = True,
    capture: bool = False,
) -> subprocess.Popen[str]:
    """Start ``newsdedup crawl`` for ``sources`` under ``crawl_id`` with environment ``env``
    (``Settings.crawl_environment`` of the parent's). ``capture``: its stdout and stderr
    are pipes the caller must drain; otherwise they are the parent's."""
    pipe = subprocess.PIPE if capture else None
    return subprocess.Popen(
        crawl_command(settings, sources, crawl_id, wait=wait),
        env=dict(env),
        text=True,
        stdin=subprocess.DEVNULL,
        stdout=pipe,
        stderr=pipe,
    )
