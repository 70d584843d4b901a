"""Playback mode over real aioslsk peers: ``download_multi_source`` with a ``PlayHead`` fetches
the bytes a player needs next first, and follows the head when it is moved mid-download —
closing a stream and asking the same peer again at once when that is what it takes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from slskdn.domain.swarm.decisions import Cancel
from slskdn.domain.swarm.session import SessionConfig
from slskdn.domain.swarm.zones import ZoneConfig
from slskdn.soulseek.play_head import PlayHead
from slskdn.soulseek.sandbox import PeerSpec
from slskdn.soulseek.swarm_download import SwarmDownloadResult
from tests.soulseek.engine_setup import Setup, on_disk, setups

TRACK = "Artist - Album/01 - Track.flac"
SECONDS = 25.0
# Slow enough that the whole file takes seconds: a seek lands while most of it is missing.
PEERS = [PeerSpec("fast", upload_kbps=256), PeerSpec("medium", upload_kbps=128),
         PeerSpec("slow", upload_kbps=48)]
ZONES = SessionConfig(zones=replace(ZoneConfig(), high_seconds=2.0, mid_seconds=5.0))


@pytest.fixture
def make_setup(tmp_path: Path) -> Iterator[Callable[[list[PeerSpec]], Setup]]:
    yield from setups(tmp_path, TRACK, seconds=SECONDS)


def play_head(setup: Setup, at_seconds: float) -> PlayHead:
    head = PlayHead(setup.size * 8 / 1000 / SECONDS)
    head.seek(at_seconds)
    return head


def first_round(result: SwarmDownloadResult) -> list[int]:
    """Where the streams asked for before any stream ended start."""
    first_end = min(s.ended_at for s in result.streams if s.ended_at is not None)
    return sorted(s.start for s in result.streams
                  if s.start is not None and s.requested_at is not None
                  and s.requested_at < first_end)


def test_playing_from_mid_file_fetches_from_the_play_head_first(make_setup: Any) -> None:
    setup = make_setup(PEERS)
    head = play_head(setup, 15.0)
    result = setup.download(config=ZONES, play_head=head)

    assert result.ok, result.reason
    assert result.sha256 == setup.sandbox.sha256(TRACK) == on_disk(result)
    # Without a play head the first ranges start at byte 0 and tile the file forward.
    starts = first_round(result)
    assert starts and starts[0] == head.position, (starts, head.position)


def download_with_seek(setup: Setup, head: PlayHead, wait: Callable[[], object],
                       ) -> tuple[SwarmDownloadResult, float, int]:
    """Download while a listener seeks back to 2 s once ``wait`` returns; the result, a time
    before the seek (a plan made after it asks later) and the new head's offset."""
    seeks: list[tuple[float, int]] = []

    def seek_back() -> None:
        wait()
        before = time.monotonic()
        seeks.append((before, head.seek(2.0)))

    threading.Thread(target=seek_back, daemon=True).start()
    result = setup.download(config=ZONES, play_head=head)
    assert result.ok, result.reason
    assert result.sha256 == setup.sandbox.sha256(TRACK) == on_disk(result)
    ((seek_at, offset),) = seeks
    return result, seek_at, offset


def test_a_seek_brings_a_stream_to_the_new_play_head(make_setup: Any) -> None:
    setup = make_setup(PEERS)
    head = play_head(setup, 15.0)
    result, seek_at, offset = download_with_seek(setup, head, lambda: time.sleep(1.0))

    after = [s for s in result.streams if s.requested_at is not None and s.requested_at > seek_at]
    # Whoever gets there (a source that frees up, or one pulled off its stream, depending on
    # timing), the bytes next to the new head are the first asked for after the seek.
    assert after and after[0].start == offset and after[0].outcome == "ok", [
        (s.source_id, s.start, s.outcome) for s in after]


def test_a_seek_pulls_a_peer_off_bytes_far_past_the_new_head(make_setup: Any) -> None:
    # One peer streams from 15 s to the end for seconds; nobody else will be free: closing its
    # stream and asking it again at the head is the only way to play on.
    setup = make_setup(PEERS[:1])
    head = play_head(setup, 15.0)
    part = Path(str(setup.client.local_path_for(setup.sources()[0][1])) + ".part")

    def once_streaming() -> None:
        deadline = time.monotonic() + 20.0
        while time.monotonic() < deadline and not received_past(part, head.position):
            time.sleep(0.02)

    result, seek_at, offset = download_with_seek(setup, head, once_streaming)
    pulled = [(t, d) for t, d in result.decisions
              if isinstance(d, Cancel) and "play head" in d.reason]
    assert pulled, [d for _, d in result.decisions]
    when, _ = pulled[0]
    assert when >= seek_at
    # Asked again at once, by the same peer, for the bytes at the head (the transport waits
    # for the old stream to end before it negotiates again).
    again = [s for s in result.streams if s.requested_at is not None and s.requested_at > when]
    assert again and again[0].start == offset and again[0].outcome == "ok", [
        (s.source_id, s.start, s.outcome) for s in again]


def received_past(part: Path, position: int) -> bool:
    """Has audio arrived a little past ``position`` in the part file (zeros until then)?"""
    try:
        with part.open("rb") as f:
            f.seek(position + 64 * 1024)
            return any(f.read(256))
    except OSError:
        return False
