"""A real Engine (actors, event store) plus a sandbox and a downloading session, for tests that
run ``download_multi_source`` against real aioslsk peers."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slskdn.config import load_settings
from slskdn.domain.ids import peer_id
from slskdn.engine import Engine
from slskdn.history import iter_events
from slskdn.soulseek.client import SoulseekSession
from slskdn.soulseek.sandbox import PeerSpec, Sandbox, SandboxFile
from slskdn.soulseek.swarm_download import SwarmDownloadResult, download_multi_source


@dataclass
class Setup:
    engine: Engine
    sandbox: Sandbox
    client: SoulseekSession
    track: str
    size: int

    def on_loop(self, coro: Any, timeout: float = 30.0) -> Any:
        assert self.engine.loop is not None
        return self.engine.loop.submit(coro).result(timeout)

    def sources(self) -> list[tuple[str, str]]:
        return [(name, self.sandbox.remote_path(name, self.track))
                for name in self.sandbox.peers]

    def download(self, sources: Sequence[tuple[str, str]] | None = None,
                 dest: Path | None = None, **options: Any) -> SwarmDownloadResult:
        sources = list(sources if sources is not None else self.sources())
        dest = dest or self.client.local_path_for(sources[0][1])
        options.setdefault("time_limit", 45)
        return download_multi_source(self.engine, self.client, sources, self.size, dest,
                                     **options)

    def events(self) -> list[dict[str, Any]]:
        self.engine.flush()
        assert self.engine.store is not None
        return list(iter_events(self.engine.store))

    def peer_errors(self, username: str) -> list[str]:
        """Reasons of the ``Peer.ErrorObserved`` events recorded for ``username``."""
        return [e["data"]["reason"] for e in self.events()
                if e["type"] == "Peer.ErrorObserved"
                and e["aggregate_id"] == str(peer_id(username))]


MakeSetup = Callable[..., Setup]


def make_setup_factory(tmp_path: Path, started: list[tuple[Engine, Sandbox | None]],
                       ) -> MakeSetup:
    def make(peers: list[PeerSpec], track: str, size: int, seconds: float = 0.0) -> Setup:
        """``seconds`` > 0: ``track`` (.flac/.mp3) is real audio that long; ``size`` is
        then what it came to."""
        engine = Engine(load_settings(env={"SLSKDN_APP_DIR": str(tmp_path / "app")})).start()
        started.append((engine, None))
        assert engine.loop is not None

        async def up() -> tuple[Sandbox, SoulseekSession]:
            sandbox = Sandbox(tmp_path / "sandbox", [SandboxFile(track, size, seconds)], peers)
            started[-1] = (engine, sandbox)
            await sandbox.start()
            return sandbox, await sandbox.client("downloader")

        sandbox, client = engine.loop.submit(up()).result(30)
        return Setup(engine, sandbox, client, track, len(sandbox.content(track)))

    return make


def setups(tmp_path: Path, track: str, size: int = 0, seconds: float = 0.0,
           ) -> Iterator[Callable[[list[PeerSpec]], Setup]]:
    """Body of a test module's ``make_setup`` fixture: engines + sandboxes sharing ``track``,
    all stopped at the end (``yield from setups(tmp_path, TRACK, SIZE)``)."""
    started: list[tuple[Engine, Sandbox | None]] = []
    make = make_setup_factory(tmp_path, started)
    try:
        yield lambda peers: make(peers, track, size, seconds)
    finally:
        stop_all(started)


def stop_all(started: list[tuple[Engine, Sandbox | None]]) -> None:
    for engine, sandbox in started:
        try:
            if sandbox is not None and engine.loop is not None:
                engine.loop.submit(sandbox.stop()).result(30)
        finally:
            engine.stop()


def on_disk(result: SwarmDownloadResult) -> str:
    assert result.dest_path is not None
    return hashlib.sha256(result.dest_path.read_bytes()).hexdigest()
