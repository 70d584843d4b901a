"""Multi-source download from real aioslsk peers on loopback, against the fluid bound T*.

    scripts/bench soulseek [--size-mb 50] [--caps 1,1,2,2,4,8] [--kill 4] [--repeat 1]

A file of --size-mb MB is shared by sandbox peers capped at --caps MiB/s; the peer capped at
--kill MiB/s is taken off the network halfway through the download's ideal time. The swarm
(through a real Engine: actors, event store) downloads it from all of them; then the fastest
peer alone downloads it, in the same run, as the single-best baseline. T* comes from the same
caps and the kill time: every source from t = 0 (negotiation counted as zero, so the bound
is optimistic), with the 1 s burst aioslsk's limiter allows each peer before throttling.
The last line is one JSON object.

Everything runs in one process: the sandbox's peers, the server and the downloader share one
asyncio loop and the GIL, so the figures measure the protocol and the scheduling, not six
independent machines.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import statistics
import tempfile
import threading
import time
from pathlib import Path

from slskdn.config import load_settings
from slskdn.engine import Engine
from slskdn.simulation.lower_bound import SourceCurve, fluid_lower_bound
from slskdn.soulseek.sandbox import PeerSpec, Sandbox, SandboxFile
from slskdn.soulseek.swarm_download import download_multi_source

MIB = 1024 * 1024
BURST_S = 1.0
TRACK = "Bench Artist - Bench Album/01 - Big File.bin"


def run_once(root: Path, size: int, caps: list[float], kill_cap: float) -> dict[str, object]:
    names = [f"peer{i}-{cap:g}MiBps" for i, cap in enumerate(caps)]
    victim = names[caps.index(kill_cap)] if kill_cap in caps else None
    ideal = size / (sum(caps) * MIB)
    kill_at = ideal / 2
    settings = load_settings(env={"SLSKDN_APP_DIR": str(root / "app")})
    with Engine(settings) as engine:
        loop = engine.loop
        assert loop is not None
        peers = [PeerSpec(n, upload_kbps=round(c * 1024)) for n, c in zip(names, caps, strict=True)]

        async def up() -> tuple[Sandbox, object]:
            sandbox = Sandbox(root / "sandbox", [SandboxFile(TRACK, size)], peers)
            await sandbox.start()
            return sandbox, await sandbox.client("downloader")

        sandbox, client = loop.submit(up()).result(60)
        try:
            sources = [(n, sandbox.remote_path(n, TRACK)) for n in names]
            killer = None
            if victim is not None:

                def kill() -> None:
                    loop.submit(sandbox.kill_peer(victim)).result(30)

                killer = threading.Timer(kill_at, kill)
                killer.start()
            started = time.perf_counter()
            swarm = download_multi_source(
                engine, client, sources, size, client.local_path_for(sources[0][1]),  # type: ignore[attr-defined]
                expected_sha256=None, time_limit=600,
            )  # fmt: skip
            swarm_s = time.perf_counter() - started
            if killer is not None:
                killer.join()
            best = names[caps.index(max(caps))]
            root / "sandbox" / "single" / "file.bin"
            client.config.download_dir.mkdir(parents=True, exist_ok=True)  # type: ignore[attr-defined]
            started = time.perf_counter()
            single = download_multi_source(
                engine, client, [(best, sandbox.remote_path(best, TRACK))], size,
                client.local_path_for("single/" + TRACK.replace("/", "_")),  # type: ignore[attr-defined]
                time_limit=600,
            )  # fmt: skip
            single_s = time.perf_counter() - started
            reference = sandbox.sha256(TRACK)
        finally:
            loop.submit(sandbox.stop()).result(60)
    curves = [
        SourceCurve(0.0, kill_at if n == victim else math.inf, [(0.0, c * MIB)])
        for n, c in zip(names, caps, strict=True)
    ]
    # aioslsk's upload limiter lets each peer send one second's worth at once before it
    # throttles: the bound gets the same head start, so efficiency stays ≤ 1.
    burst = sum(c * MIB * BURST_S for c in caps)
    t_star = fluid_lower_bound(max(0.0, size - burst), curves, math.inf)
    return {
        "seconds": swarm_s,
        "t_star": t_star,
        "efficiency": t_star / swarm_s,
        "throughput_mb_s": size / swarm_s / 1e6,
        "single_best_seconds": single_s,
        "speedup_vs_single_best": single_s / swarm_s,
        "sha256_ok": swarm.ok and swarm.sha256 == reference and single.sha256 == reference,
        "bytes_by_peer": swarm.bytes_by_peer,
        "killed": victim,
        "kill_at_s": kill_at,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=50.0)
    parser.add_argument("--caps", default="1,1,2,2,4,8", help="MiB/s per peer")
    parser.add_argument("--kill", type=float, default=4.0, help="cap of the peer to kill (0: none)")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    caps = [float(c) for c in args.caps.split(",")]
    size = int(args.size_mb * 1e6)
    runs = []
    for i in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="slskdn-bench-soulseek-") as tmp:
            run = run_once(Path(tmp), size, caps, args.kill)
        runs.append(run)
        print(f"run {i + 1}/{args.repeat}: {run['seconds']:.2f} s (T* {run['t_star']:.2f} s), "
              f"single best {run['single_best_seconds']:.2f} s, sha256_ok={run['sha256_ok']}, "
              f"served {run['bytes_by_peer']}", flush=True)  # fmt: skip

    def med(key: str) -> float:
        return round(statistics.median(float(r[key]) for r in runs), 3)  # type: ignore[arg-type]

    print(json.dumps({
        "benchmark": "soulseek", "size_bytes": size, "caps_mib_s": caps, "killed_cap": args.kill,
        "efficiency": med("efficiency"), "throughput_mb_s": med("throughput_mb_s"),
        "speedup_vs_single_best": med("speedup_vs_single_best"), "seconds": med("seconds"),
        "t_star": med("t_star"), "single_best_seconds": med("single_best_seconds"),
        "sha256_ok": all(r["sha256_ok"] for r in runs), "runs": len(runs),
    }))  # fmt: skip


if __name__ == "__main__":
    asyncio.set_event_loop_policy(None)
    main()
