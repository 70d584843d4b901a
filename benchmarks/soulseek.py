"""Multi-source download from real aioslsk peers on loopback, against the fluid bound T*.

    scripts/bench soulseek [--size-mb 50] [--caps 1,1,2,2,4,8] [--kill 4] [--repeat 1]
                           [--burst 0] [--peer-processes 6] [--set swarm.KEY=VALUE]
                           [--no-ceiling] [--py-spy FILE] [--show-decisions]

A file of --size-mb MB is shared by sandbox peers capped at --caps MiB/s, each peer in its own
process (--peer-processes: how many processes host them; 0 puts them on the downloader's loop).
The swarm (through a real Engine: actors, event store) downloads it from all of them; the peer
capped at --kill MiB/s is SIGKILLed halfway through the ideal time S / Σcaps. Then, same run:
the fastest surviving peer alone through the same path (the single-best baseline), the same
peer through a bare ranged download (does the cap hold?), and an uncapped peer alone, bare and
through the swarm (the downloader's own ceiling).

T* (DESIGN.md's fluid bound) counts every peer from t = 0 at its cap, the killed one until the
measured kill time, each with its limiter's bucket up front (--burst s of its cap, one 64 KiB
chunk at 0; aioslsk's own limiter, --burst aioslsk, holds one second): no negotiation, no CPU
limit, so it is a true lower bound. Each peer's negotiation (request → first byte, measured on
a small file beforehand) is reported beside it, and ``t_star_negotiated`` adds it as a start
delay (a tighter figure, but measured, so not a strict bound).

CPU: the downloader process (seconds, share of wall time, by thread), each peer process, and
the whole machine (so load from anything else shows). The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from benchmarks._cpu import CpuWindow
from slskdn.config import ConfigError, load_settings
from slskdn.engine import Engine
from slskdn.logs import configure_logging, get_logger
from slskdn.simulation.lower_bound import SourceCurve, fluid_lower_bound
from slskdn.soulseek.client import SoulseekSession
from slskdn.soulseek.ranges import RangeProgress
from slskdn.soulseek.sandbox import PeerSpec, Sandbox, SandboxFile
from slskdn.soulseek.swarm_download import SwarmDownloadResult, download_multi_source
from slskdn.swarm_settings import session_config

MIB = 1024 * 1024
TRACK = "Bench Artist - Bench Album/01 - Big File.bin"
PROBE = "Bench Artist - Bench Album/00 - Probe.bin"
CEILING = "uncapped"
log = get_logger("benchmarks.soulseek")

SETTLE_S = 1.5  # between phases: a peer notices a closed upload late and ignores new requests


class Run:
    """One sandbox, one engine: the swarm and its references."""

    def __init__(self, root: Path, args: argparse.Namespace, caps: list[float]) -> None:
        self.root, self.args, self.caps = root, args, caps
        self.size = int(args.size_mb * 1e6)
        self.names = [f"peer{i}-{cap:g}MiBps" for i, cap in enumerate(caps)]
        self.victim = self.names[caps.index(args.kill)] if args.kill in caps else None
        burst = None if args.burst == "aioslsk" else float(args.burst)
        self.specs = [PeerSpec(n, files=[TRACK, PROBE], upload_kbps=round(c * 1024),
                               upload_burst_s=burst) for n, c in zip(self.names, caps, strict=True)]
        if args.ceiling:
            self.specs.append(PeerSpec(CEILING, files=[TRACK]))
        alive = [(c, n) for n, c in zip(self.names, caps, strict=True) if n != self.victim]
        self.best = max(alive)[1]
        self.settings = load_settings(env={"SLSKDN_APP_DIR": str(root / "app")},
                                      overrides=args.overrides)
        self.engine: Engine
        self.timeline: tuple[str, dict[str, float], dict[str, int]] = ("", {}, {})
        self.sandbox: Sandbox
        self.client: SoulseekSession

    def on_loop(self, coro: Any, timeout: float = 120.0) -> Any:
        assert self.engine.loop is not None
        return self.engine.loop.submit(coro).result(timeout)

    def execute(self) -> dict[str, Any]:
        with Engine(self.settings) as engine:
            self.engine = engine
            self.sandbox = Sandbox(self.root / "sandbox",
                                   [SandboxFile(TRACK, self.size), SandboxFile(PROBE, 256 * 1024)],
                                   self.specs, peer_processes=self.args.peer_processes)
            self.on_loop(self.sandbox.start())
            try:
                self.client = self.on_loop(self.sandbox.client("downloader"))
                return self._phases()
            finally:
                self.on_loop(self.sandbox.stop())

    def _phases(self) -> dict[str, Any]:
        negotiation = {n: self._probe(n) for n in self.names}
        swarm, swarm_s, kill_at, cpu = self._swarm()
        time.sleep(SETTLE_S)
        single = self._download("single", [self.best])
        time.sleep(SETTLE_S)
        cap = self._bare_rate(self.best, min(self.size, int(3 * self.caps[self.names.index(
            self.best)] * MIB)))
        ceiling: dict[str, Any] = {}
        if self.args.ceiling:
            ceiling["bare_mib_s"] = self._bare_rate(CEILING, self.size)
            time.sleep(SETTLE_S)
            window = CpuWindow().start()
            alone = self._download("ceiling", [CEILING])
            window.stop()
            ceiling["swarm_path_mib_s"] = self.size / MIB / alone[1]
            ceiling["swarm_path_cpu_ms_per_mb"] = window.process_s * 1e3 / (self.size / 1e6)
            ceiling["swarm_path_threads_ms_per_mb"] = {
                n: round(v * 1e3 / (self.size / 1e6), 2) for n, v in window.threads_s.items()
                if v >= 0.005}
        reference = self.sandbox.sha256(TRACK)
        bursts = {s.name: s.burst_bytes for s in self.specs}
        t_star = self._t_star(kill_at, bursts, {})
        t_neg = self._t_star(kill_at, bursts, negotiation)
        cpu["downloader_cpu_ms_per_mb"] = cpu["downloader_cpu_s"] * 1e3 / (self.size / 1e6)
        return {
            "seconds": swarm_s, "t_star": t_star, "efficiency": t_star / swarm_s,
            "t_star_negotiated": t_neg, "efficiency_vs_negotiated": t_neg / swarm_s,
            "throughput_mb_s": self.size / swarm_s / 1e6,
            "single_best": self.best, "single_best_seconds": single[1],
            "speedup_vs_single_best": single[1] / swarm_s,
            "sha256_ok": bool(swarm.ok and swarm.sha256 == reference
                              and single[0].sha256 == reference),
            "bytes_by_peer": swarm.bytes_by_peer, "delivered_bytes": swarm.delivered_bytes,
            "wasted_share": swarm.delivered_bytes / self.size - 1.0,
            # What each peer served over what its cap allowed while it was up: who idled.
            "utilisation": {n: round(swarm.bytes_by_peer.get(n, 0) / (c * MIB * (
                kill_at if n == self.victim and kill_at else swarm_s)), 3)
                for n, c in zip(self.names, self.caps, strict=True)},
            "killed": self.victim, "kill_at_s": kill_at,
            "negotiation_s": negotiation,
            "cap_check": {"peer": self.best, "cap_mib_s": self.caps[self.names.index(self.best)],
                          "delivered_mib_s": cap},
            "ceiling": ceiling, "cpu": cpu, "idle": self.timeline[1],
            "decisions": self.timeline[2], "timeline": self.timeline[0],
        }

    def _t_star(self, kill_at: float | None, bursts: dict[str, int],
                start: dict[str, float]) -> float:
        # Each peer sends at most its bucket + cap × t: the buckets go first, at t = 0.
        curves = [SourceCurve(start.get(n, 0.0), kill_at if n == self.victim and kill_at
                              else math.inf, [(0.0, c * MIB)])
                  for n, c in zip(self.names, self.caps, strict=True)]
        head = sum(bursts[n] for n in self.names)
        return fluid_lower_bound(max(0.0, self.size - head), curves, math.inf)

    def _probe(self, name: str) -> float:
        """Seconds from the request to the first byte (queue, transfer request, file
        connection): the cost of one negotiation with this peer, alone."""
        part = self.client.config.download_dir / "probes" / f"{name}.part"
        outcome = self.on_loop(self.client.download_range(
            name, self.sandbox.remote_path(name, PROBE), 0, 1024, part, start_timeout=30))
        if not outcome.ok:
            raise RuntimeError(f"probe of {name} failed: {outcome.reason}")
        return float(outcome.waited_s)

    def _swarm(self) -> tuple[SwarmDownloadResult, float, float | None, dict[str, Any]]:
        kill_at: list[float] = []
        # One line per process, named after the peers it hosts.
        hosts = {"+".join(h.specs): h for h in self.sandbox.host_list()}
        window = CpuWindow(others={label: h.cpu_seconds for label, h in hosts.items()})
        killer = None
        started = 0.0
        if self.victim is not None:
            victim = self.victim

            def kill() -> None:
                for label, host in hosts.items():
                    if victim in host.specs and len(host.online) == 1:
                        window.mark(label)  # its last reading: it is about to vanish
                self.on_loop(self.sandbox.kill_peer(victim), 30)
                kill_at.append(time.perf_counter() - started)

            killer = threading.Timer(self.size / (sum(self.caps) * MIB) / 2, kill)
        profiler = _start_py_spy(self.args.py_spy)
        window.start()
        started = time.perf_counter()
        if killer is not None:
            killer.start()
        result, _ = self._download("swarm", self.names, timed=False)
        swarm_s = time.perf_counter() - started
        window.stop()
        _stop_py_spy(profiler)
        if killer is not None:
            killer.join()
        if not result.ok:
            raise RuntimeError(f"the swarm failed: {result.reason}")
        self.timeline = timeline(result, self.names, self.caps, swarm_s)
        if self.args.show_decisions:
            print("\n".join(f"  {t - result.started:6.3f} {d}" for t, d in result.decisions),
                  flush=True)
        return result, swarm_s, kill_at[0] if kill_at else None, window.summary()

    def _download(self, label: str, peers: list[str],
                  timed: bool = True) -> tuple[SwarmDownloadResult, float]:
        sources = [(n, self.sandbox.remote_path(n, TRACK)) for n in peers]
        dest = self.client.config.download_dir / label / "file.bin"
        log.info("benchmark phase", phase=label, peers=peers)  # t = 0 of a timeline in the log
        started = time.perf_counter()
        result = download_multi_source(self.engine, self.client, sources, self.size, dest,
                                       session_config(self.settings), time_limit=600)
        seconds = time.perf_counter() - started
        if timed and not result.ok:
            raise RuntimeError(f"{label} download failed: {result.reason}")
        return result, seconds

    def _bare_rate(self, name: str, size: int) -> float:
        """MiB/s of one ranged download without the swarm, over its last three quarters (past
        any limiter bucket and the first reads)."""
        samples: list[tuple[float, int]] = []

        def progress(p: RangeProgress) -> None:
            samples.append((time.perf_counter(), p.position))

        part = self.client.config.download_dir / "bare" / f"{name}.part"
        started = time.perf_counter()
        outcome = self.on_loop(self.client.download_range(
            name, self.sandbox.remote_path(name, TRACK), 0, size, part, progress,
            progress_interval=0.05, start_timeout=30), 600)
        if not outcome.ok:
            raise RuntimeError(f"bare download from {name} failed: {outcome.reason}")
        part.unlink(missing_ok=True)
        if len(samples) < 3:
            return size / MIB / (time.perf_counter() - started - outcome.waited_s)
        t_end, p_end = samples[-1]
        t0, p0 = next((t, p) for t, p in samples if p >= size / 4)
        return (p_end - p0) / MIB / (t_end - t0) if t_end > t0 else math.nan


def timeline(result: SwarmDownloadResult, names: list[str], caps: list[float],
             seconds: float) -> tuple[str, dict[str, float], dict[str, int]]:
    """Per peer, each stream: negotiated → ready → first byte → ended (seconds from the
    start), its range, how often its end moved; then each peer's idle time (not streaming
    while the swarm ran, before it died) and what that cost at its cap; and the decisions
    by kind."""
    t0 = result.started
    lines, idle = [], {}
    for name, cap in zip(names, caps, strict=True):
        streams = [r for r in result.streams if r.source_id == name]
        busy, parts = 0.0, []
        last_end = seconds
        for r in streams:
            def at(t: float | None) -> str:
                return "-" if t is None else f"{t - t0:.2f}"
            if r.first_byte_at is not None and r.ended_at is not None:
                busy += r.ended_at - r.first_byte_at
            if r.outcome is not None and r.outcome != "ok" and "cancel" not in r.outcome:
                last_end = min(last_end, (r.ended_at or t0 + seconds) - t0)
            span = "" if r.start is None else (
                f" [{r.start / 1e6:.2f}-{(r.position or r.start) / 1e6:.2f} MB of "
                f"{(r.first_end or 0) / 1e6:.2f}→{(r.end or 0) / 1e6:.2f}]")
            moved = f" +{r.extended}/-{r.cut}" if r.extended or r.cut else ""
            parts.append(f"{at(r.negotiated_at)}>{at(r.ready_at)}>{at(r.first_byte_at)}>"
                         f"{at(r.ended_at)}{span}{moved} {(r.outcome or '?')[:40]}")
        idle[name] = round(max(0.0, last_end - busy), 3)
        lines.append(f"  {name} idle {idle[name]:.2f} s (≈{idle[name] * cap * MIB / 1e6:.1f} MB "
                     f"at cap): " + " | ".join(parts))
    kinds: dict[str, int] = {}
    for _, d in result.decisions:
        kinds[type(d).__name__] = kinds.get(type(d).__name__, 0) + 1
    lines.append(f"  decisions {kinds}")
    return "\n".join(lines), idle, kinds


def _start_py_spy(path: str | None) -> subprocess.Popen[bytes] | None:
    if not path:
        return None
    exe = shutil.which("py-spy")
    if exe is None:
        raise SystemExit("--py-spy needs py-spy on PATH (pip install py-spy)")
    fmt = {".txt": "raw", ".json": "speedscope"}.get(Path(path).suffix, "flamegraph")
    proc = subprocess.Popen([exe, "record", "--pid", str(os.getpid()), "--rate", "250",
                             "--format", fmt, "--output", path, "--threads", "--gil"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # attach before the phase starts
    return proc


def _stop_py_spy(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is not None:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)


def _median(runs: list[dict[str, Any]], get: Callable[[dict[str, Any]], float | None],
            ndigits: int = 3) -> float | None:
    values = [v for v in (get(r) for r in runs) if v is not None and math.isfinite(v)]
    return round(statistics.median(values), ndigits) if values else None


def summarize(runs: list[dict[str, Any]], args: argparse.Namespace,
              caps: list[float]) -> dict[str, Any]:
    cpu = [r["cpu"] for r in runs]
    peers = sorted({n for c in cpu for n in c["peer_processes_cpu_s"]})
    threads = sorted({n for c in cpu for n in c["downloader_threads_cpu_s"]})
    return {
        "benchmark": "soulseek", "size_bytes": int(args.size_mb * 1e6), "caps_mib_s": caps,
        "burst_s": args.burst, "killed_cap": args.kill, "peer_processes": args.peer_processes,
        "settings": args.overrides,
        "efficiency": _median(runs, lambda r: r["efficiency"]),
        "throughput_mb_s": _median(runs, lambda r: r["throughput_mb_s"]),
        "speedup_vs_single_best": _median(runs, lambda r: r["speedup_vs_single_best"]),
        "sha256_ok": all(r["sha256_ok"] for r in runs),
        "seconds": _median(runs, lambda r: r["seconds"]),
        "t_star": _median(runs, lambda r: r["t_star"]),
        "t_star_negotiated": _median(runs, lambda r: r["t_star_negotiated"]),
        "efficiency_vs_negotiated": _median(runs, lambda r: r["efficiency_vs_negotiated"]),
        "single_best_seconds": _median(runs, lambda r: r["single_best_seconds"]),
        "kill_at_s": _median(runs, lambda r: r["kill_at_s"]),
        "wasted_share": _median(runs, lambda r: r["wasted_share"]),
        "utilisation": {n: _median(runs, lambda r, n=n: r["utilisation"][n])
                        for n in runs[0]["utilisation"]},
        "negotiation_s_median": _median(
            runs, lambda r: statistics.median(r["negotiation_s"].values())),
        "cap_check_mib_s": {"cap": runs[0]["cap_check"]["cap_mib_s"], "delivered": _median(
            runs, lambda r: r["cap_check"]["delivered_mib_s"])},
        "ceiling": {k: _median(runs, lambda r, k=k: r["ceiling"].get(k)) for k in (
            "bare_mib_s", "swarm_path_mib_s", "swarm_path_cpu_ms_per_mb")} if args.ceiling
        else None,
        "cpu": {
            "downloader_cpu_s": _median(runs, lambda r: r["cpu"]["downloader_cpu_s"]),
            "downloader_cpu_ms_per_mb": _median(
                runs, lambda r: r["cpu"]["downloader_cpu_ms_per_mb"]),
            "downloader_cpu_share": _median(runs, lambda r: r["cpu"]["downloader_cpu_share"]),
            "downloader_threads_cpu_s": {t: _median(
                runs, lambda r, t=t: r["cpu"]["downloader_threads_cpu_s"].get(t, 0.0))
                for t in threads},
            "peer_processes_cpu_s": {p: _median(
                runs, lambda r, p=p: r["cpu"]["peer_processes_cpu_s"].get(p)) for p in peers},
            "other_processes_cpu_s": _median(runs, lambda r: r["cpu"]["other_processes_cpu_s"]),
        },
        "runs": len(runs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=50.0)
    parser.add_argument("--caps", default="1,1,2,2,4,8", help="MiB/s per peer")
    parser.add_argument("--kill", type=float, default=4.0, help="cap of the peer to kill (0: none)")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--burst", default="0",
                        help="seconds of cap a peer may send at once, or 'aioslsk' (1 s)")
    parser.add_argument("--peer-processes", type=int, default=-1,
                        help="processes hosting the peers (default: one per peer; 0: in-process)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="SECTION.KEY=VALUE",
                        help="a config setting for the downloader, e.g. "
                             "swarm.rebalance_interval_s=0.25 (repeatable)")
    parser.add_argument("--show-decisions", action="store_true",
                        help="print every decision of the swarm with its time")
    parser.add_argument("--no-ceiling", dest="ceiling", action="store_false",
                        help="skip the uncapped-peer measurements")
    parser.add_argument("--py-spy", metavar="FILE",
                        help="profile the downloader during the swarm phase, sampling the "
                             "thread holding the GIL (.txt: folded stacks, .json: speedscope, "
                             "else an SVG flame graph)")
    args = parser.parse_args()
    caps = [float(c) for c in args.caps.split(",")]
    try:
        args.overrides = {k: yaml.safe_load(v) for k, _, v in (
            o.partition("=") for o in args.overrides)}
        load_settings(env={"SLSKDN_APP_DIR": str(Path(tempfile.gettempdir()) / "slskdn-bench")},
                      overrides=args.overrides)  # a bad --set fails now, not after a run
    except (ConfigError, yaml.YAMLError) as exc:
        parser.error(f"--set: {exc}")
    if args.peer_processes < 0:
        args.peer_processes = len(caps) + int(args.ceiling)
    log_path = Path(tempfile.gettempdir()) / "slskdn-bench-soulseek.log"
    configure_logging(log_format="json")
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(log_path.open("w"))  # the downloader's log; each peer host has its own
    runs = []
    for i in range(args.repeat):
        tmp = Path(tempfile.mkdtemp(prefix="slskdn-bench-soulseek-"))
        try:
            run = Run(tmp, args, caps).execute()
        except BaseException:
            print(f"run {i + 1} failed; logs: {log_path} and {tmp}/sandbox/hosts/", flush=True)
            raise
        shutil.rmtree(tmp, ignore_errors=True)
        runs.append(run)
        cpu = run["cpu"]
        print(f"run {i + 1}/{args.repeat}: {run['seconds']:.2f} s vs T* {run['t_star']:.2f} s "
              f"(efficiency {run['efficiency']:.2f}; with negotiation "
              f"{run['t_star_negotiated']:.2f} s), single best {run['single_best_seconds']:.2f} s, "
              f"sha256_ok={run['sha256_ok']}, killed at {run['kill_at_s']}, "
              f"served {run['bytes_by_peer']}, utilisation {run['utilisation']}, "
              f"wasted {run['wasted_share']:.3f}, cap check {run['cap_check']}, "
              f"ceiling {run['ceiling']}, negotiation {run['negotiation_s']}, "
              f"cpu {json.dumps(cpu)}", flush=True)  # fmt: skip
        print(run["timeline"], flush=True)
    print(json.dumps(summarize(runs, args, caps)))


if __name__ == "__main__":
    main()
