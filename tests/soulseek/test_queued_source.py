"""A sandbox peer whose one upload slot is busy queues our request: the swarm is told (the
source is marked queued in the log), and the peer still serves once its slot frees."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from slskdn.domain.ids import peer_id
from slskdn.soulseek.sandbox import PeerSpec
from tests.soulseek.conftest import MiB, wait_until
from tests.soulseek.engine_setup import Setup, on_disk, setups

TRACK = "Artist - Album/01 - Queued.bin"
SIZE = 1 * MiB
BLOCKED = 512 * 1024  # what the other downloader takes from the busy peer first


@pytest.fixture
def make_setup(tmp_path: Path) -> Iterator[Callable[[list[PeerSpec]], Setup]]:
    yield from setups(tmp_path, TRACK, SIZE)


def test_a_peer_with_its_slot_busy_reports_queued_then_serves(make_setup: Any) -> None:
    # One slot at 256 KiB/s (no burst): the other downloader holds it for about 2 s.
    busy = PeerSpec("busy", upload_kbps=256, upload_slots=1, upload_burst_s=0.05)
    setup = make_setup([busy, PeerSpec("slow", upload_kbps=24, upload_burst_s=0.05)])
    sandbox = setup.sandbox

    async def occupy_the_slot() -> Any:
        other = await sandbox.client("other")
        fetch = asyncio.ensure_future(other.download_range(
            "busy", sandbox.remote_path("busy", TRACK), 0, BLOCKED,
            other.config.download_dir / "blocker.part"))
        uploads = sandbox.peers["busy"].transfers.get_uploads
        await wait_until(lambda: any(t.bytes_transfered > 0 for t in uploads()))
        return fetch

    blocker = setup.on_loop(occupy_the_slot())
    result = setup.download()

    assert setup.on_loop(asyncio.wait_for(blocker, 30)).ok  # the slot was really taken
    assert result.ok, result.reason
    assert result.sha256 == sandbox.sha256(TRACK) == on_disk(result)
    events = setup.events()
    queued = [e for e in events if e["type"] == "Transfer.SourceQueued"]
    assert [e["data"]["peer_id"] for e in queued] == [str(peer_id("busy"))]
    assert queued[0]["data"]["place"] == 1
    # It still delivered after the queue, and most of the file: the slow peer alone is ~40 s.
    assert result.bytes_by_peer.get("busy", 0) > SIZE // 2, result.bytes_by_peer
    served = [e for e in events if e["type"] == "Transfer.RangeReceived"
              and e["data"]["peer_id"] == str(peer_id("busy"))]
    assert served and all(e["position"] > queued[0]["position"] for e in served)

