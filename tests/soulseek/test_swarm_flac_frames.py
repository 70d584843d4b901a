"""FLAC frame CRCs judged as real aioslsk peers deliver (``domain/swarm/frames`` through
``download_multi_source``): a peer whose copy has scattered bit errors is caught by its frames,
with no SHA-256 known, and honest peers are never blamed for bytes they did not send."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from slskdn.domain.ids import peer_id
from slskdn.domain.swarm.decisions import Rebalance
from slskdn.soulseek.misbehaviour import Misbehaviour
from slskdn.soulseek.sandbox import PeerSpec
from slskdn.soulseek.swarm_download import SwarmDownloadResult
from tests.soulseek.engine_setup import Setup, on_disk, setups

TRACK = "Artist - Album/01 - Track.flac"
SECONDS = 25.0  # about 4.4 MB of FLAC-coded noise


@pytest.fixture
def make_setup(tmp_path: Path) -> Iterator[Callable[[list[PeerSpec]], Setup]]:
    yield from setups(tmp_path, TRACK, seconds=SECONDS)


def notes(result: SwarmDownloadResult) -> list[str]:
    return [d.reason for _, d in result.decisions if isinstance(d, Rebalance)]


def test_a_peer_with_scattered_bit_errors_is_convicted_by_its_frames(make_setup: Any) -> None:
    # Every 8192nd byte flipped from 256 KiB on: each of its frames there fails its CRC-16.
    liar = Misbehaviour(corrupt=(256 * 1024, 1 << 30), corrupt_stride=8192)
    setup = make_setup([PeerSpec("liar", upload_kbps=1024, misbehaviour=liar),
                        PeerSpec("honest-1", upload_kbps=512),
                        PeerSpec("honest-2", upload_kbps=512)])
    result = setup.download()

    assert result.ok, result.reason
    assert result.sha256 == setup.sandbox.sha256(TRACK) == on_disk(result)
    assert set(result.convicted) == {"liar"}, result.convicted  # no honest peer blamed
    assert "no valid FLAC frame" in result.convicted["liar"]
    said = notes(result)
    assert any(n.startswith("liar suspended: its bytes at") for n in said), said
    # Found while the file arrived, not by the audio MD5 check at the end.
    assert not any("check failed" in n for n in said), said
    corrupt = [e for e in setup.events() if e["type"] == "Peer.CorruptDataSent"]
    assert {e["aggregate_id"] for e in corrupt} == {str(peer_id("liar"))}


def test_honest_peers_of_a_flac_are_never_suspected(make_setup: Any) -> None:
    setup = make_setup([PeerSpec("fast", upload_kbps=1024), PeerSpec("medium", upload_kbps=512),
                        PeerSpec("slow", upload_kbps=256)])
    result = setup.download()

    assert result.ok, result.reason
    assert result.sha256 == setup.sandbox.sha256(TRACK) == on_disk(result)
    assert result.convicted == {}
    assert not any("FLAC frame" in n for n in notes(result)), notes(result)


@pytest.mark.parametrize("liar_first", [True, False], ids=["runs-into-it", "starts-in-it"])
def test_a_peer_whose_copy_stops_being_flac_is_convicted_by_its_frames(
        make_setup: Any, liar_first: bool) -> None:
    # From 256 KiB on its copy is something else (every byte changed): no frame header is
    # left there, so no CRC can fail. Whoever answers our first request late (a second one,
    # a second later) arrives when the others stream already. Liar first: its stream starts
    # at 0 and runs into that stretch, where the frame it was in never ends. Liar last: its
    # stream starts inside it and never syncs, but the others' frames showed how long a frame
    # can be, and a stretch twice that with no header is no FLAC.
    late = Misbehaviour(ignore_queue_requests=1)
    junk = (256 * 1024, 1 << 30)
    setup = make_setup([
        PeerSpec("liar", upload_kbps=1024, misbehaviour=Misbehaviour(
            corrupt=junk, ignore_queue_requests=0 if liar_first else 1)),
        PeerSpec("honest-1", upload_kbps=512, misbehaviour=late if liar_first else Misbehaviour()),
        PeerSpec("honest-2", upload_kbps=512, misbehaviour=late if liar_first else Misbehaviour()),
    ])
    result = setup.download()

    assert result.ok, result.reason
    assert result.sha256 == setup.sandbox.sha256(TRACK) == on_disk(result)
    assert set(result.convicted) == {"liar"}, result.convicted
    assert "no valid FLAC frame" in result.convicted["liar"], result.convicted
    said = notes(result)
    assert any(n.startswith("liar suspended: its bytes at") for n in said), said
    assert not any("check failed" in n for n in said), said
