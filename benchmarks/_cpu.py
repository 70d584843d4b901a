"""Where CPU time goes during a benchmark phase: this process by thread, other processes, the
whole machine (Linux /proc; every figure is None elsewhere)."""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _stat_cpu(path: str) -> float | None:
    try:
        fields = Path(path).read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def thread_cpu() -> dict[str, float]:
    """CPU seconds of this process's live threads, summed by thread name without its number
    (``asyncio_3`` → ``asyncio``), so a pool counts as one line."""
    totals: dict[str, float] = {}
    for thread in threading.enumerate():
        if thread.native_id is None:
            continue
        cpu = _stat_cpu(f"/proc/self/task/{thread.native_id}/stat")
        if cpu is not None:
            name = re.sub(r"[-_ ]?\d+$", "", thread.name.split(" (")[0]) or thread.name
            totals[name] = totals.get(name, 0.0) + cpu
    return totals


def machine_busy() -> float | None:
    """CPU seconds all cores spent not idle since boot."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return (sum(values[:8]) - idle) / TICK


@dataclass
class CpuWindow:
    """CPU used between ``start()`` and ``stop()``; other processes read by ``others``
    (name → a function giving their CPU seconds so far, None once unreadable)."""

    others: dict[str, Callable[[], float | None]] = field(default_factory=dict)
    wall_s: float = 0.0
    process_s: float = 0.0
    threads_s: dict[str, float] = field(default_factory=dict)
    others_s: dict[str, float | None] = field(default_factory=dict)
    machine_s: float | None = None
    _t0: tuple[float, float, dict[str, float], dict[str, float | None], float | None] | None = None

    def start(self) -> CpuWindow:
        self._t0 = (time.perf_counter(), time.process_time(), thread_cpu(),
                    {n: f() for n, f in self.others.items()}, machine_busy())
        return self

    def mark(self, name: str) -> None:
        """Read one of ``others`` now (before it exits: a killed process leaves no figure)."""
        assert self._t0 is not None
        before, now = self._t0[3].get(name), self.others[name]()
        if before is not None and now is not None:
            self.others_s[name] = now - before

    def stop(self) -> CpuWindow:
        assert self._t0 is not None
        wall, proc, threads, _, machine = self._t0
        self.wall_s = time.perf_counter() - wall
        self.process_s = time.process_time() - proc
        now = thread_cpu()
        self.threads_s = {n: now[n] - threads.get(n, 0.0) for n in now}
        for name in self.others:
            if name not in self.others_s:
                self.mark(name)
        busy = machine_busy()
        self.machine_s = busy - machine if busy is not None and machine is not None else None
        return self

    def summary(self, process_label: str = "downloader") -> dict[str, object]:
        peers = {n: round(v, 3) for n, v in self.others_s.items() if v is not None}
        ours = self.process_s + sum(peers.values())
        threads = {n: round(v, 3) for n, v in sorted(self.threads_s.items(),
                                                      key=lambda kv: -kv[1]) if v >= 0.005}
        return {
            "wall_s": round(self.wall_s, 3),
            f"{process_label}_cpu_s": round(self.process_s, 3),
            f"{process_label}_cpu_share": round(self.process_s / self.wall_s, 3)
            if self.wall_s else None,
            f"{process_label}_threads_cpu_s": threads,
            "peer_processes_cpu_s": peers,
            "machine_busy_s": round(self.machine_s, 3) if self.machine_s is not None else None,
            "machine_cores": os.cpu_count(),
            # Whatever else ran on the machine meanwhile (another benchmark, a test run...).
            "other_processes_cpu_s": round(self.machine_s - ours, 3)
            if self.machine_s is not None else None,
        }
