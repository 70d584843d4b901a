"""The swarm engine driving real aioslsk peers: one file from several sandbox peers at once,
through a real Engine (actors, event store), with a peer that dies and one that lies."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from slskdn.domain.ids import peer_id
from slskdn.soulseek.misbehaviour import Misbehaviour
from slskdn.soulseek.sandbox import PeerSpec
from tests.soulseek.conftest import MiB
from tests.soulseek.engine_setup import Setup, on_disk, setups

TRACK = "Artist - Album/01 - Track.bin"
SIZE = 4 * MiB


@pytest.fixture
def make_setup(tmp_path: Path) -> Iterator[Callable[[list[PeerSpec]], Setup]]:
    yield from setups(tmp_path, TRACK, SIZE)


def test_three_rate_limited_peers_serve_one_file(make_setup: Any) -> None:
    setup = make_setup([PeerSpec("fast", upload_kbps=1024), PeerSpec("medium", upload_kbps=512),
                        PeerSpec("slow", upload_kbps=256)])
    result = setup.download()

    assert result.ok, result.reason
    assert result.sha256 == setup.sandbox.sha256(TRACK) == on_disk(result)
    assert not result.part_path.exists()
    assert result.dest_path is not None
    assert result.dest_path.is_relative_to(setup.client.config.download_dir.resolve())
    served = {user: n for user, n in result.bytes_by_peer.items() if n > 0}
    assert len(served) >= 2, result.bytes_by_peer
    assert sum(served.values()) >= SIZE
    print(f"\n{SIZE / MiB:.0f} MiB from {served} in {result.seconds:.2f} s "
          f"= {SIZE / MiB / result.seconds:.2f} MiB/s")

    events = setup.events()
    seen = Counter(e["type"] for e in events)
    assert seen["Transfer.Completed"] == 1
    assert seen["Transfer.RangeRequested"] >= 2
    assert seen["Transfer.RangeReceived"] == seen["Peer.RangeServed"] > 0
    completed = next(e for e in events if e["type"] == "Transfer.Completed")
    assert completed["aggregate_id"] == str(result.transfer_id)
    assert completed["data"]["sha256"] == result.sha256
    serving = {e["aggregate_id"] for e in events if e["type"] == "Peer.RangeServed"}
    assert serving == {str(peer_id(user)) for user in served}


def test_a_peer_killed_and_one_dropping_mid_range_do_not_stop_the_file(make_setup: Any) -> None:
    setup = make_setup([
        PeerSpec("steady", upload_kbps=768),
        PeerSpec("victim", upload_kbps=512),
        PeerSpec("dropper", upload_kbps=512, misbehaviour=Misbehaviour(disconnect_after=300_000)),
    ])
    sandbox = setup.sandbox

    async def kill_when_uploading() -> int:
        uploads = sandbox.peers["victim"].transfers.get_uploads
        while not any(t.bytes_transfered > 100_000 for t in uploads()):
            await asyncio.sleep(0.02)
        sent = max(t.bytes_transfered for t in uploads())
        await sandbox.kill_peer("victim")
        return sent

    assert setup.engine.loop is not None
    killed = setup.engine.loop.submit(kill_when_uploading())
    result = setup.download()

    assert killed.result(timeout=1) < SIZE  # it died mid-range
    assert result.ok, result.reason
    assert result.sha256 == sandbox.sha256(TRACK) == on_disk(result)
    events = setup.events()
    errors = {e["aggregate_id"] for e in events if e["type"] == "Peer.ErrorObserved"}
    assert str(peer_id("victim")) in errors
    assert str(peer_id("dropper")) in errors
    assert any(e["type"] == "Transfer.RangeFailed" for e in events)


def test_a_corrupt_peer_is_caught_and_its_bytes_replaced(make_setup: Any) -> None:
    setup = make_setup([
        PeerSpec("liar", upload_kbps=1024, misbehaviour=Misbehaviour(corrupt=(0, SIZE))),
        PeerSpec("honest-1", upload_kbps=512),
        PeerSpec("honest-2", upload_kbps=512),
    ])
    result = setup.download(expected_sha256=setup.sandbox.sha256(TRACK))

    assert result.ok, result.reason
    assert result.verified
    assert result.sha256 == setup.sandbox.sha256(TRACK) == on_disk(result)
    assert set(result.convicted) == {"liar"}  # and no honest peer blamed
    assert result.bytes_by_peer.get("liar", 0) > 0  # it did serve (wrong) bytes
    events = setup.events()
    corrupt = [e for e in events if e["type"] == "Peer.CorruptDataSent"]
    assert {e["aggregate_id"] for e in corrupt} == {str(peer_id("liar"))}
    # Streams wrote straight into the part file: no side files, the file is all that is left.
    assert result.dest_path is not None
    assert [p.name for p in result.dest_path.parent.iterdir()] == [result.dest_path.name]
