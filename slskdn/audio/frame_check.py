"""The swarm's format check for a FLAC file being assembled (``FormatCheck`` of
``slskdn.domain.swarm.ports``): read the part file's bytes, judge their frames' CRCs."""

from __future__ import annotations

from collections.abc import Callable

from .flac_frames import MAX_HEADER, FrameScan, scan_frames

Reader = Callable[[int, int], bytes | bytearray | memoryview]


class FlacFrameCheck:
    lookahead = MAX_HEADER  # a frame ends where the next one's header starts

    def __init__(self, read: Reader) -> None:
        self._read = read  # bytes [start, end) of the part file as assembled

    def scan(self, start: int, end: int, synced: bool) -> FrameScan:
        return scan_frames(self._read(start, end), start, synced=synced)
