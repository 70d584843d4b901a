"""The loopback Soulseek network every daemon test logs in to."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from slskdn.actors.loop import LoopThread
from slskdn.soulseek.sandbox import PeerSpec, Sandbox, SandboxFile

from .harness import SIZE, TRACK, Network


@pytest.fixture
def network(tmp_path: Path) -> Iterator[Network]:
    """Three peers at 512 KiB/s each sharing one 6 MiB file: about 4 s of download."""
    loop = LoopThread().start()
    peers = [PeerSpec(f"peer-{i}", upload_kbps=512) for i in range(3)]
    sandbox = Sandbox(tmp_path / "sandbox", [SandboxFile(TRACK, SIZE)], peers)
    loop.submit(sandbox.start()).result(60)
    try:
        yield Network(sandbox, sandbox.host, sandbox.server.port)
    finally:
        loop.submit(sandbox.stop()).result(60)
        loop.stop()
