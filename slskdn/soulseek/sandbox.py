"""A Soulseek network in one process: the loopback server plus N aioslsk peers sharing files.

Each peer shares a directory of generated files (the same path gives the same bytes on every
peer, so they are copies of one file), uploads at a rate limit, and may misbehave: stall or
drop mid-upload, or serve a corrupt copy (same size, one range differs). Everything listens on
127.0.0.1 with OS-chosen ports.

One process, one asyncio loop: start-up takes ~0.1 s, tests drive and inspect every peer
directly (kill one at a chosen moment, read the reference bytes), and nothing is left running
when a test fails. The cost: all peers share the loop and one core, so the sandbox measures the
protocol and scheduling, not the throughput of independent machines; rate limits keep the peers
well below what one core can push. ``python -m slskdn.soulseek.sandbox ROOT`` runs the demo
sandbox until SIGINT/SIGTERM and writes ``ROOT/sandbox.json`` (what ``slskdn sandbox
up|down|status`` need).
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
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from slskdn.logs import get_logger

from .client import SessionConfig, SoulseekSession
from .misbehaviour import MisbehavingTransferManager, Misbehaviour
from .server import LoopbackServer

log = get_logger(__name__)

STATE_FILE = "sandbox.json"
PASSWORD = "sandbox"  # every sandbox account; the server registers users on first login


@dataclass(frozen=True)
class SandboxFile:
    """A shared file. ``.flac``/``.mp3`` with ``seconds`` are real audio (noise, so they carry
    bitrate/duration attributes); anything else is ``size`` random bytes."""

    path: str  # relative, "/"-separated: "Artist - Album/01 - Title.flac"
    size: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class PeerSpec:
    name: str
    files: Sequence[str] | None = None  # paths of SandboxFiles; None: all of them
    upload_kbps: int = 0  # KiB/s; 0 = unlimited. aioslsk's limiter allows a 1 s burst first
    upload_slots: int = 2
    misbehaviour: Misbehaviour = field(default_factory=Misbehaviour)
    ticket_start: int | None = None  # pin to reproduce aioslsk's fixed ticket sequence


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


def corrupt(data: bytes, span: tuple[int, int]) -> bytes:
    """The same bytes except every one in [a, b) flipped: same size, different content."""
    a, b = max(0, span[0]), min(len(data), span[1])
    return data[:a] + bytes(x ^ 0x5A for x in data[a:b]) + data[b:]


class Sandbox:
    """``async with Sandbox(root, files, peers) as sb:`` — see the module docstring."""

    def __init__(self, root: Path, files: Sequence[SandboxFile], peers: Sequence[PeerSpec], *,
                 seed: int = 0, host: str = "127.0.0.1", requeue_interval: float = 1.0) -> None:
        self.root = Path(root)
        self.files = {f.path: f for f in files}
        self.specs = {p.name: p for p in peers}
        self.seed = seed
        self.host = host
        self.requeue_interval = requeue_interval
        self.server = LoopbackServer(host)
        self.peers: dict[str, SoulseekSession] = {}
        self.clients: dict[str, SoulseekSession] = {}
        self._content: dict[str, bytes] = {}

    # --- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        for item in self.files.values():
            self._content[item.path] = make_content(item, self.seed)
            reference = self.reference(item.path)
            reference.parent.mkdir(parents=True, exist_ok=True)
            reference.write_bytes(self._content[item.path])
        await self.server.start()
        try:
            await asyncio.gather(*(self._start_peer(spec) for spec in self.specs.values()))
        except BaseException:
            await self.stop()
            raise
        log.info("sandbox up", server=f"{self.host}:{self.server.port}", peers=len(self.peers))

    async def stop(self) -> None:
        sessions = [*self.clients.values(), *self.peers.values()]
        await asyncio.gather(*(s.stop() for s in sessions), return_exceptions=True)
        self.clients.clear()
        self.peers.clear()
        await self.server.stop()

    async def __aenter__(self) -> Sandbox:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _start_peer(self, spec: PeerSpec) -> None:
        share = self.root / "peers" / spec.name / "share"
        for path in spec.files if spec.files is not None else self.files:
            data = self._content[path]
            if spec.misbehaviour.corrupt is not None:
                data = corrupt(data, spec.misbehaviour.corrupt)
            target = share.joinpath(*path.split("/"))
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        share.mkdir(parents=True, exist_ok=True)
        config = SessionConfig(
            host=self.host, port=self.server.port, username=spec.name, password=PASSWORD,
            download_dir=self.root / "peers" / spec.name / "downloads", share_dirs=[share],
            listen_host=self.host, upload_slots=spec.upload_slots,
            upload_speed_kbps=spec.upload_kbps, ticket_start=spec.ticket_start,
            requeue_interval=self.requeue_interval)
        session = SoulseekSession(config, manager_factory=MisbehavingTransferManager,
                                  misbehaviour=spec.misbehaviour)
        await session.start()
        self.peers[spec.name] = session

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
        session = self.peers.pop(name)
        await session.stop()

    # --- what tests and tools read ------------------------------------------------------------

    def content(self, path: str) -> bytes:
        return self._content[path]

    def reference(self, path: str) -> Path:
        return self.root / "reference" / Path(*path.split("/"))

    def sha256(self, path: str) -> str:
        return hashlib.sha256(self._content[path]).hexdigest()

    def remote_path(self, peer: str, path: str) -> str:
        """How ``peer`` names ``path`` on the network (``@@alias\\dir\\file``)."""
        shares = self.peers[peer].client.shares
        absolute = os.path.abspath(self.root / "peers" / peer / "share" / Path(*path.split("/")))
        for directory in shares.shared_directories:
            for item in directory.items:
                if item.get_absolute_path() == absolute:
                    return str(item.get_remote_path())
        raise KeyError(f"{peer} does not share {path}")

    def state(self) -> dict[str, Any]:
        """A JSON-able description: where the server is, who is on it, what they share."""
        return {
            "pid": os.getpid(),
            "server": {"host": self.host, "port": self.server.port},
            "password": PASSWORD,
            "online": self.server.online_users(),
            "files": [{"path": f.path, "size": len(self._content[f.path]),
                       "sha256": self.sha256(f.path)} for f in self.files.values()],
            "peers": [{"name": s.name, "upload_kbps": s.upload_kbps,
                       "misbehaviour": asdict(s.misbehaviour),
                       "online": s.name in self.peers} for s in self.specs.values()],
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
    async with Sandbox(Path(root), files, peers, seed=seed) as sandbox:
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
