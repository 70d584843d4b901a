"""A loopback Soulseek network: the loopback server plus N aioslsk peers sharing files.

Each peer shares a directory of generated files (the same path gives the same bytes on every
peer, so they are copies of one file), uploads at a rate limit, and may misbehave: stall or
drop mid-upload, or serve a corrupt copy (same size, one range differs). Everything listens on
127.0.0.1 with OS-chosen ports. The server always runs on the caller's loop.

Where the peers run (``peer_processes``):

- ``0`` (the default): on the caller's loop. Start-up takes ~0.1 s, tests drive and inspect
  every peer directly (``sb.peers[name]`` is its ``SoulseekSession``), and nothing is left
  running when a test fails. But peers and downloader share one loop and one core, so this
  measures the protocol and the scheduling, not throughput.
- ``N``: in N peer-host processes (``sandbox_host``), peers spread so that each process gets a
  similar sum of caps; N ≥ the number of peers gives one process per peer. Start-up takes
  ~1 s; ``kill_peer`` SIGKILLs a one-peer process (the kernel closes its sockets), else has
  its host log it out. Benchmarks use this.

``python -m slskdn.soulseek.sandbox ROOT`` runs the demo sandbox (one process per peer) until
SIGINT/SIGTERM and writes ``ROOT/sandbox.json`` (what ``slskdn sandbox up|down|status`` need).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import signal
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from slskdn.logs import get_logger

from .client import SessionConfig, SoulseekSession
from .misbehaviour import Misbehaviour
from .sandbox_host import PeerHost
from .sandbox_peer import PASSWORD, PeerSpec, remote_paths, start_peer
from .server import LoopbackServer

__all__ = ["PASSWORD", "STATE_FILE", "PeerSpec", "Sandbox", "SandboxFile", "read_state"]

log = get_logger(__name__)

STATE_FILE = "sandbox.json"


@dataclass(frozen=True)
class SandboxFile:
    """A shared file. ``.flac``/``.mp3`` with ``seconds`` are real audio (noise, so they carry
    bitrate/duration attributes); anything else is ``size`` random bytes."""

    path: str  # relative, "/"-separated: "Artist - Album/01 - Title.flac"
    size: int = 0
    seconds: float = 0.0


def make_content(item: SandboxFile, seed: int) -> bytes:
    """Deterministic bytes of a sandbox file (the reference copy)."""
    digest = hashlib.sha256(f"{seed}:{item.path}".encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "little"))
    suffix = Path(item.path).suffix.lower()
    if item.seconds > 0 and suffix in (".flac", ".mp3"):
        return _audio(rng, item.seconds, suffix, Path(item.path).stem)
    return rng.randbytes(item.size)


def _audio(rng: random.Random, seconds: float, suffix: str, title: str) -> bytes:
    import io

    import mutagen
    import numpy as np
    import soundfile as sf

    frames = int(44100 * seconds)
    noise = np.random.default_rng(rng.getrandbits(32)).uniform(-0.3, 0.3, (frames, 2))
    buffer = io.BytesIO()
    if suffix == ".mp3":
        sf.write(buffer, noise, 44100, format="MP3", subtype="MPEG_LAYER_III",
                 bitrate_mode="CONSTANT", compression_level=0.0)
    else:
        sf.write(buffer, noise, 44100, format="FLAC", subtype="PCM_16")
    # A title tag: aioslsk only reads bitrate/duration of files that carry tags at all.
    buffer.seek(0)
    tagged = mutagen.File(buffer, easy=True)
    if tagged.tags is None:
        tagged.add_tags()
    tagged.tags["title"] = title
    buffer.seek(0)
    tagged.save(buffer)
    return buffer.getvalue()


def corrupt(data: bytes, span: tuple[int, int], stride: int = 1) -> bytes:
    """The same bytes except every ``stride``-th one in [a, b) flipped: same size, different
    content."""
    if stride < 1:
        raise ValueError(f"corrupt_stride must be ≥ 1, not {stride}")
    a, b = max(0, span[0]), min(len(data), span[1])
    out = bytearray(data)
    out[a:b:stride] = out[a:b:stride].translate(_FLIP)
    return bytes(out)


_FLIP = bytes(x ^ 0x5A for x in range(256))


class Sandbox:
    """``async with Sandbox(root, files, peers) as sb:`` — see the module docstring."""

    def __init__(self, root: Path, files: Sequence[SandboxFile], peers: Sequence[PeerSpec], *,
                 seed: int = 0, host: str = "127.0.0.1", requeue_interval: float = 1.0,
                 peer_processes: int = 0) -> None:
        if peer_processes < 0:
            raise ValueError(f"peer_processes must be ≥ 0, not {peer_processes}")
        self.root = Path(root)
        self.files = {f.path: f for f in files}
        self.specs = {p.name: p for p in peers}
        self.seed = seed
        self.host = host
        self.requeue_interval = requeue_interval
        self.peer_processes = peer_processes
        self.server = LoopbackServer(host)
        self.peers: dict[str, SoulseekSession] = {}  # peers on this loop (peer_processes=0)
        self.hosts: dict[str, PeerHost] = {}  # peer name → its process (peer_processes>0)
        self.clients: dict[str, SoulseekSession] = {}
        self._content: dict[str, bytes] = {}

    # --- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        for item in self.files.values():
            self._content[item.path] = make_content(item, self.seed)
            reference = self.reference(item.path)
            reference.parent.mkdir(parents=True, exist_ok=True)
            reference.write_bytes(self._content[item.path])
        for spec in self.specs.values():
            self._fill_share(spec)
        await self.server.start()
        try:
            if self.peer_processes == 0:
                await asyncio.gather(*(self._start_peer(s) for s in self.specs.values()))
            else:
                await self._start_hosts()
        except BaseException:
            await self.stop()
            raise
        log.info("sandbox up", server=f"{self.host}:{self.server.port}",
                 peers=len(self.online_peers()), processes=len(self.host_list()))

    async def stop(self) -> None:
        sessions = [*self.clients.values(), *self.peers.values()]
        await asyncio.gather(*(s.stop() for s in sessions), return_exceptions=True)
        await asyncio.gather(*(h.stop() for h in self.host_list()), return_exceptions=True)
        self.clients.clear()
        self.peers.clear()
        await self.server.stop()

    async def __aenter__(self) -> Sandbox:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _share(self, name: str) -> Path:
        return self.root / "peers" / name / "share"

    def _fill_share(self, spec: PeerSpec) -> None:
        share = self._share(spec.name)
        share.mkdir(parents=True, exist_ok=True)
        for path in spec.files if spec.files is not None else self.files:
            target = share.joinpath(*path.split("/"))
            target.parent.mkdir(parents=True, exist_ok=True)
            target.unlink(missing_ok=True)
            if spec.misbehaviour.corrupt is not None:
                target.write_bytes(corrupt(self._content[path], spec.misbehaviour.corrupt,
                                           spec.misbehaviour.corrupt_stride))
                continue
            try:  # an honest copy is the reference itself: no 50 MB written per peer
                os.link(self.reference(path), target)
            except OSError:
                target.write_bytes(self._content[path])

    async def _start_peer(self, spec: PeerSpec) -> None:
        self.peers[spec.name] = await start_peer(
            spec, (self.host, self.server.port), self._share(spec.name),
            self.root / "peers" / spec.name / "downloads", requeue_interval=self.requeue_interval)

    async def _start_hosts(self) -> None:
        groups: list[list[PeerSpec]] = [[] for _ in range(min(self.peer_processes,
                                                             len(self.specs)))]

        def weight(spec: PeerSpec) -> int:
            return spec.upload_kbps or 1 << 20  # uncapped weighs most

        # Fastest first onto the least-loaded process: similar upload work in each.
        for spec in sorted(self.specs.values(), key=weight, reverse=True):
            min(groups, key=lambda g: (sum(map(weight, g)), len(g))).append(spec)
        hosts = [PeerHost(
            i, [(s, self._share(s.name), self.root / "peers" / s.name / "downloads")
                for s in group],
            (self.host, self.server.port), requeue_interval=self.requeue_interval,
            log_path=self.root / "hosts" / f"host-{i}.log") for i, group in enumerate(groups)]
        for host in hosts:
            for name in host.specs:
                self.hosts[name] = host
        # Let every host finish starting (or fail) before a failure stops them all.
        started = await asyncio.gather(*(h.start() for h in hosts), return_exceptions=True)
        for outcome in started:
            if isinstance(outcome, BaseException):
                raise outcome

    async def client(self, name: str, **overrides: Any) -> SoulseekSession:
        """A downloading session logged in to the sandbox (stopped with it)."""
        config = SessionConfig(
            host=self.host, port=self.server.port, username=name, password=PASSWORD,
            download_dir=self.root / "clients" / name / "downloads", listen_host=self.host,
            requeue_interval=self.requeue_interval)
        session = SoulseekSession(replace(config, **overrides))
        await session.start()
        self.clients[name] = session
        return session

    async def kill_peer(self, name: str) -> None:
        """Take a peer off the network now: its sockets close mid-whatever."""
        if name in self.peers:
            await self.peers.pop(name).stop()
        elif name in self.hosts:
            await self.hosts[name].kill(name)
        else:
            raise KeyError(f"no sandbox peer {name!r} is online")

    # --- what tests and tools read ------------------------------------------------------------

    def online_peers(self) -> list[str]:
        """The peers not killed (in either layout)."""
        return [name for name in self.specs
                if name in self.peers or (name in self.hosts and name in self.hosts[name].online)]

    def host_list(self) -> list[PeerHost]:
        return list({id(h): h for h in self.hosts.values()}.values())

    def content(self, path: str) -> bytes:
        return self._content[path]

    def reference(self, path: str) -> Path:
        return self.root / "reference" / Path(*path.split("/"))

    def sha256(self, path: str) -> str:
        return hashlib.sha256(self._content[path]).hexdigest()

    def remote_path(self, peer: str, path: str) -> str:
        """How ``peer`` names ``path`` on the network (``@@alias\\dir\\file``)."""
        absolute = os.path.abspath(self._share(peer) / Path(*path.split("/")))
        if peer in self.hosts:
            return self.hosts[peer].remote_path(peer, absolute)
        try:
            return remote_paths(self.peers[peer])[absolute]
        except KeyError:
            raise KeyError(f"{peer} does not share {path}") from None

    def state(self) -> dict[str, Any]:
        """A JSON-able description: where the server is, who is on it, what they share."""
        online = set(self.online_peers())
        return {
            "pid": os.getpid(),
            "server": {"host": self.host, "port": self.server.port},
            "password": PASSWORD,
            "online": self.server.online_users(),
            "files": [{"path": f.path, "size": len(self._content[f.path]),
                       "sha256": self.sha256(f.path)} for f in self.files.values()],
            "peers": [{"name": s.name, "upload_kbps": s.upload_kbps,
                       "misbehaviour": asdict(s.misbehaviour), "online": s.name in online,
                       "pid": self.hosts[s.name].pid if s.name in self.hosts else os.getpid()}
                      for s in self.specs.values()],
        }


def demo_layout() -> tuple[list[SandboxFile], list[PeerSpec]]:
    """An album shared by five peers: two good, one slow, one that stalls, one corrupt."""
    files = [SandboxFile(f"Sandbox Artist - Demo Album/0{i} - Track {i}.flac", seconds=12.0)
             for i in (1, 2, 3)] + [SandboxFile("Sandbox Artist - Demo Album/cover.jpg",
                                                size=200_000)]
    peers = [
        PeerSpec("fast-1", upload_kbps=2048),
        PeerSpec("fast-2", upload_kbps=1536),
        PeerSpec("slow", upload_kbps=128),
        PeerSpec("staller", upload_kbps=1024, misbehaviour=Misbehaviour(stall_after=400_000)),
        PeerSpec("corrupt", upload_kbps=1024,
                 misbehaviour=Misbehaviour(corrupt=(1_000_000, 1_065_536))),
    ]
    return files, peers


def read_state(root: Path) -> dict[str, Any] | None:
    """The state a running sandbox wrote, or None when none is running there."""
    try:
        state: dict[str, Any] = json.loads((Path(root) / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    return state


async def serve(root: Path, stop: asyncio.Event, *, seed: int = 0) -> None:
    """Run the demo sandbox until ``stop`` is set; keeps ``root/sandbox.json`` current."""
    files, peers = demo_layout()
    state_path = Path(root) / STATE_FILE
    async with Sandbox(Path(root), files, peers, seed=seed,
                       peer_processes=len(peers)) as sandbox:
        state_path.write_text(json.dumps(sandbox.state(), indent=2))
        try:
            await stop.wait()
        finally:
            state_path.unlink(missing_ok=True)


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m slskdn.soulseek.sandbox ROOT``: run until SIGINT or SIGTERM."""
    from slskdn.logs import configure_logging

    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        raise SystemExit("usage: python -m slskdn.soulseek.sandbox ROOT")
    configure_logging()

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(Path(argv[0]), stop)

    asyncio.run(run())


if __name__ == "__main__":
    main()
