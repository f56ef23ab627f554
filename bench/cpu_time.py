"""CPU seconds spent by groups of processes during a measurement, read from /proc (Linux).

Distributed mode runs in several processes (the crawl command, the workers, PostgreSQL,
Redis); on a machine with few cores their CPU time, not their wall time, says where a page's
cost goes. A sampler thread reads ``/proc/<pid>/stat`` every ``interval`` seconds (about 1 %
of a core at 0.5 s, and taken off the figures) and keeps
the last figure seen for every process a classifier names, so a process that exits during
the measurement (the crawl command's PostgreSQL backend) still counts, up to its last sample.
"""

from __future__ import annotations

import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PROC = Path("/proc")

# (pid, ppid, pgid, command name) -> group name, or None to ignore the process
Classifier = Callable[[int, int, int, str], "str | None"]


def _read_stat(pid: int) -> tuple[int, int, str, float] | None:
    """(ppid, pgid, comm, CPU seconds) of a process, or None if it is gone."""
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # comm is in parentheses and may hold spaces: split after its closing parenthesis.
    close = raw.rfind(")")
    comm = raw[raw.find("(") + 1 : close]
    fields = raw[close + 2 :].split()
    # after comm: state(0) ppid(1) pgrp(2) ... utime(11) stime(12)
    return int(fields[1]), int(fields[2]), comm, (int(fields[11]) + int(fields[12])) / TICKS


class CpuSampler:
    """``with CpuSampler(classify) as sampler: ...`` then ``sampler.seconds()`` per group."""

    def __init__(self, classify: Classifier, interval: float = 0.5) -> None:
        self.classify = classify
        self.interval = interval
        self._start: dict[int, float] = {}
        self._last: dict[int, tuple[str, float]] = {}
        self._started = False  # processes first seen after the start count from 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cpu-sampler", daemon=True)
        self.available = PROC.joinpath("self", "stat").exists()
        self.own_seconds = 0.0  # the sampler's own CPU time (it runs in the caller's process)

    def _sample(self) -> None:
        for entry in PROC.iterdir():
            if not entry.name.isdigit():
                continue
            pid = int(entry.name)
            stat = _read_stat(pid)
            if stat is None:
                continue
            ppid, pgid, comm, cpu = stat
            group = self.classify(pid, ppid, pgid, comm)
            if group is None:
                continue
            self._start.setdefault(pid, 0.0 if self._started else cpu)
            self._last[pid] = (group, cpu)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()
        self.own_seconds = time.thread_time()

    def __enter__(self) -> CpuSampler:
        if self.available:
            self._sample()  # processes alive now count from here, not from their start
            self._started = True
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.available:
            self._stop.set()
            self._thread.join()
            self._sample()

    def seconds(self) -> dict[str, float]:
        """CPU seconds per group; the sampler's own time is taken off its process's group."""
        totals: dict[str, float] = defaultdict(float)
        for pid, (group, cpu) in self._last.items():
            totals[group] += cpu - self._start.get(pid, 0.0)
            if pid == os.getpid():
                totals[group] = max(0.0, totals[group] - self.own_seconds)
        return dict(totals)
