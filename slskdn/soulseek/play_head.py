"""Where a player is in a file still being fetched: the swarm's playback mode, from outside.

A ``PlayHead`` is handed to ``download_multi_source``; the swarm then fetches by priority
zones around it (``domain.swarm.zones``: the next seconds from reliable fast sources first).
``seek`` may be called from any thread while the download runs (an HTTP handler, a player's
callback): the running swarm is told at once and plans again.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from pathlib import Path

from slskdn.audio.flac_frames import stream_seconds
from slskdn.domain.candidates import CD_KBPS
from slskdn.domain.transfer_progress import KeptBytes

# STREAMINFO ends within the first 42 bytes (46 behind the shortest ID3v2 tag); a tag with
# cover art may push it further: a few KiB covers most.
HEAD_BYTES = 4096


class PlayHead:
    """A play position in bytes, moved by seconds at ``bitrate_kbps`` or by byte offset."""

    def __init__(self, bitrate_kbps: float, position: int = 0) -> None:
        if not (math.isfinite(bitrate_kbps) and bitrate_kbps > 0):
            raise ValueError(f"a play head needs a positive bitrate, not {bitrate_kbps}")
        self.bitrate_kbps = bitrate_kbps
        self._position = max(0, position)
        self._lock = threading.Lock()
        self._follower: Callable[[int], None] | None = None

    @property
    def position(self) -> int:
        with self._lock:
            return self._position

    @property
    def seconds(self) -> float:
        return self.position * 8 / (self.bitrate_kbps * 1000)

    def offset_of(self, seconds: float) -> int:
        """The byte offset ``seconds`` into the audio."""
        if not (math.isfinite(seconds) and seconds >= 0):
            raise ValueError(f"a play position is ≥ 0 s, not {seconds}")
        return int(seconds * self.bitrate_kbps * 1000 / 8)

    def seek(self, seconds: float) -> int:
        """Move to ``seconds`` into the audio; returns the byte offset."""
        return self.seek_offset(self.offset_of(seconds))

    def seek_offset(self, offset: int) -> int:
        """Move to byte ``offset``; returns it."""
        if offset < 0:
            raise ValueError(f"a play offset is ≥ 0, not {offset}")
        with self._lock:
            self._position = offset
            follower = self._follower
        if follower is not None:
            follower(offset)
        return offset

    def follow(self, follower: Callable[[int], None] | None) -> None:
        """(The download.) Call ``follower`` with each new position; None stops it."""
        with self._lock:
            self._follower = follower


def part_file_kbps(part: Path, size: int, kept: KeptBytes) -> float:
    """The rate a resumed download's file plays at, with no search results to ask: its size
    over the duration in the FLAC STREAMINFO kept in the part file; failing that, CD audio's
    (a fast guess, so the zones cover at least the seconds they are meant to)."""
    n = min(size, HEAD_BYTES)
    spans = [*kept.verified, *(s for spans in kept.received.values() for s in spans)]
    if n > 0 and any(a <= 0 and b >= n for a, b in spans):
        try:
            with part.open("rb") as f:
                seconds = stream_seconds(f.read(n))
        except OSError:
            seconds = None
        if seconds:
            return size * 8 / 1000 / seconds
    return CD_KBPS
