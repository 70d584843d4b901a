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


def test_a_seek_pulls_the_swarm_to_the_new_play_head(make_setup: Any) -> None:
    setup = make_setup(PEERS)
    head = play_head(setup, 15.0)
    seeks: list[tuple[float, int]] = []

    def seek_back() -> None:  # the listener jumps back to 2 s once the download runs
        time.sleep(1.0)
        seeks.append((time.monotonic(), head.seek(2.0)))

    threading.Thread(target=seek_back, daemon=True).start()
    result = setup.download(config=ZONES, play_head=head)

    assert result.ok, result.reason
    assert result.sha256 == setup.sandbox.sha256(TRACK) == on_disk(result)
    ((seek_at, offset),) = seeks
    after = [s for s in result.streams if s.requested_at is not None and s.requested_at > seek_at]
    assert any(s.start == offset and s.outcome == "ok" for s in after), [
        (s.source_id, s.start, s.outcome) for s in after]
    # A source streaming bytes far past the head was closed and asked again at once, by the
    # same peer, for bytes next to the head (the transport waits for the old stream to end).
    pulled = [(t, d.source_id) for t, d in result.decisions
              if isinstance(d, Cancel) and "play head" in d.reason]
    assert pulled, [d for _, d in result.decisions]
    when, peer = pulled[0]
    again = [s for s in result.streams if s.source_id == peer and s.requested_at is not None
             and s.requested_at > when]
    assert again and again[0].outcome == "ok" and again[0].start is not None
    assert again[0].start < setup.size * 15 // 25  # back toward the head, not past it
