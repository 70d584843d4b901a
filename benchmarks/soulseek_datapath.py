"""CPU and bytes written by the ranged data path: one file from one loopback peer.

    scripts/bench soulseek_datapath [--size-mb 50] [--repeat 3] [--micro]

A ``--size-mb`` MB file is shared by one unthrottled aioslsk peer and fetched on loopback twice
per repeat: through the swarm (``download_multi_source``: engine, actors, ``DiskPartFile``)
and as one plain range (``download_range``, the data path alone). For each it measures wall
time, this process's CPU time (user + system, every thread: the uploader, the server and the
engine run here too, so the uploader's share is in both) and the bytes the process handed to
``write``/``pwrite`` (``wchar`` in ``/proc/self/io``). Figures are medians over the repeats;
the last line is one JSON object.

``--micro`` measures the write path alone, no network: ``--size-mb`` of data in 256 KiB
chunks through ``RangeWriter`` with a ``StreamClaim`` (first write wins, straight into the part
file) against the design it replaced (each stream into its own side file, each 1 MiB of
progress copied into the part file where not yet written), both hashing every byte.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from slskdn.config import load_settings
from slskdn.engine import Engine
from slskdn.soulseek.client import SessionConfig, SoulseekSession
from slskdn.soulseek.partfile import RangeWriter
from slskdn.soulseek.server import LoopbackServer
from slskdn.soulseek.swarm_download import download_multi_source
from slskdn.soulseek.written import WrittenRanges

MB = 1_000_000
TRACK = "Bench Artist - Bench Album/01 - Big File.bin"


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _written() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    return 0


def _measure(action: Callable[[], Any]) -> dict[str, float]:
    cpu, written, wall = _cpu(), _written(), time.perf_counter()
    action()
    return {"seconds": time.perf_counter() - wall, "cpu_s": _cpu() - cpu,
            "written_mb": (_written() - written) / MB}


def run(root: Path, size: int, repeat: int) -> dict[str, Any]:
    share = root / "share"
    target = share.joinpath(*TRACK.split("/"))
    target.parent.mkdir(parents=True)
    target.write_bytes(os.urandom(size))
    settings = load_settings(env={"SLSKDN_APP_DIR": str(root / "app")})
    runs: dict[str, list[dict[str, float]]] = {"swarm": [], "range": []}
    with Engine(settings) as engine:
        loop = engine.loop
        assert loop is not None
        server = LoopbackServer("127.0.0.1")

        def session(name: str, **extra: Any) -> SessionConfig:
            return SessionConfig(host="127.0.0.1", port=server.port, username=name,
                                 password="bench", listen_host="127.0.0.1",
                                 download_dir=root / name, **extra)

        async def up() -> tuple[SoulseekSession, SoulseekSession, str]:
            await server.start()
            peer = SoulseekSession(session("peer", share_dirs=[share]))
            await peer.start()
            client = SoulseekSession(session("client"))
            await client.start()
            files = await client.browse("peer")
            return peer, client, next(f.path for f in files if f.path.endswith("Big File.bin"))

        peer, client, remote = loop.submit(up()).result(60)
        try:
            for i in range(repeat):
                dest = client.local_path_for(remote).with_name(f"swarm-{i}.bin")

                def swarm(dest: Path = dest) -> None:
                    result = download_multi_source(engine, client, [("peer", remote)], size, dest,
                                                   time_limit=600, start_timeout=30)
                    assert result.ok, result.reason

                runs["swarm"].append(_measure(swarm))
                dest.unlink()
                part = root / f"range-{i}.part"

                def plain(part: Path = part) -> None:
                    outcome = loop.submit(client.download_range(
                        "peer", remote, 0, size, part, start_timeout=30)).result(600)
                    assert outcome.ok, outcome.reason

                runs["range"].append(_measure(plain))
                part.unlink()
                print(f"repeat {i + 1}: swarm {runs['swarm'][-1]}, range {runs['range'][-1]}",
                      flush=True)
        finally:
            async def down() -> None:
                await client.stop()
                await peer.stop()
                await server.stop()

            loop.submit(down()).result(60)
    return {kind: {key: round(statistics.median(r[key] for r in rs), 3) for key in rs[0]}
            for kind, rs in runs.items()}


CHUNK = 256 * 1024
COMMIT_EVERY = 1024 * 1024


async def _write_claimed(root: Path, data: bytes) -> None:
    part = root / "claimed.part"
    writer = RangeWriter(part, 0, block_size=65536, file_size=len(data),
                         claim=WrittenRanges().stream())
    writer.open()
    for offset in range(0, len(data), CHUNK):
        await writer.write(data[offset:offset + CHUNK])
    await writer.aclose()


async def _write_side_file(root: Path, data: bytes) -> None:
    """The replaced design: a side file per stream, progress copied into the part file."""
    part, side = root / "side.part", root / ".side.part.stream-1"
    writer = RangeWriter(side, 0, block_size=65536, file_size=len(data))
    writer.open()
    fd = os.open(part, os.O_RDWR | os.O_CREAT, 0o644)
    committed = 0

    def commit(upto: int) -> None:
        src = os.open(side, os.O_RDONLY)
        try:
            pos = committed
            while pos < upto:
                chunk = os.pread(src, min(1024 * 1024, upto - pos), pos)
                os.pwrite(fd, chunk, pos)
                pos += len(chunk)
        finally:
            os.close(src)

    for offset in range(0, len(data), CHUNK):
        await writer.write(data[offset:offset + CHUNK])
        if writer.position - committed >= COMMIT_EVERY or writer.position == len(data):
            commit(writer.position)
            committed = writer.position
    await writer.aclose()
    os.close(fd)


def micro(size: int, repeat: int) -> dict[str, Any]:
    data = os.urandom(size)
    runs: dict[str, list[dict[str, float]]] = {"first_write_wins": [], "side_file": []}
    for _ in range(repeat):
        for kind, write in (("first_write_wins", _write_claimed), ("side_file", _write_side_file)):
            with tempfile.TemporaryDirectory(prefix="slskdn-datapath-") as tmp:
                runs[kind].append(_measure(partial(asyncio.run, write(Path(tmp), data))))
    return {kind: {key: round(statistics.median(r[key] for r in rs), 3) for key in rs[0]}
            for kind, rs in runs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--micro", action="store_true", help="the write path alone")
    args = parser.parse_args()
    size = int(args.size_mb * MB)
    if args.micro:
        figures = micro(size, args.repeat)
        new, old = figures["first_write_wins"], figures["side_file"]
        print(f"{args.size_mb:g} MB written, median of {args.repeat}: first write wins "
              f"CPU {new['cpu_s']:.3f} s, {new['written_mb']:.0f} MB written; side file + copy "
              f"CPU {old['cpu_s']:.3f} s, {old['written_mb']:.0f} MB written; CPU ratio "
              f"{new['cpu_s'] / old['cpu_s']:.2f}")
        print(json.dumps({"size_mb": args.size_mb, "repeat": args.repeat, "micro": True,
                          **figures}))
        return
    with tempfile.TemporaryDirectory(prefix="slskdn-datapath-") as tmp:
        figures = run(Path(tmp), size, args.repeat)
    swarm, plain = figures["swarm"], figures["range"]
    print(f"{args.size_mb:g} MB, one loopback peer, median of {args.repeat}: "
          f"swarm {swarm['seconds']:.2f} s, CPU {swarm['cpu_s']:.2f} s, "
          f"written {swarm['written_mb']:.0f} MB; one range {plain['seconds']:.2f} s, "
          f"CPU {plain['cpu_s']:.2f} s, written {plain['written_mb']:.0f} MB")
    print(json.dumps({"size_mb": args.size_mb, "repeat": args.repeat, **figures}))


if __name__ == "__main__":
    main()
