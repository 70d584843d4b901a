"""The swarm's format check for a FLAC file being assembled (``FormatCheck`` of
``slskdn.domain.swarm.ports``): read the part file's bytes, judge their frames' CRCs.

A stream that starts inside bytes with no frame header at all (the zeros of an unfinished
copy, another file's bytes) is never synced, so no frame of it can fail. Once the file's
frames have been seen elsewhere, though, its layout is known: past the first frame, any
stretch of ``longest + MAX_HEADER`` bytes holds a header of that stream. A stream's first
``2 × (longest + MAX_HEADER)`` bytes (room for a whole frame and the next header) with no
header are reported bad; checked again once someone else sent them, they pass if they sync on
a frame, which is then where the check goes on from.
"""

from __future__ import annotations

from collections.abc import Callable

from .flac_frames import MAX_HEADER, FrameScan, Layout, frame_layout, has_header, scan_frames

Reader = Callable[[int, int], bytes | bytearray | memoryview]


class FlacFrameCheck:
    lookahead = MAX_HEADER  # a frame ends where the next one's header starts

    def __init__(self, read: Reader) -> None:
        self._read = read  # bytes [start, end) of the part file as assembled
        self._layout: Layout | None = None
        self._audio_from: int | None = None  # the earliest frame start confirmed so far
        # Stretches reported for holding no header: start -> end. The session takes a bad
        # span's start for a frame start; from these it is not, so they are checked anew.
        self._headerless: dict[int, int] = {}

    def scan(self, start: int, end: int, synced: bool) -> FrameScan:
        data = self._read(start, end)
        if synced and start in self._headerless:
            return self._recheck_headerless(start, data)
        result = scan_frames(data, start, synced=synced)
        if result.synced:
            self._learn(start if synced else None, result.checked_to, data)
        elif not result.bad:
            return self._judge_unsynced(start, data, result)
        return result

    def _learn(self, start: int | None, frame_start: int,
               data: bytes | bytearray | memoryview) -> None:
        """``frame_start`` is a frame start: the audio begins there or before. ``start``, when
        given, is one too, and the frame there was judged if the scan went past it: it is not
        the file's last, whose few left-over samples would bound every frame far too short."""
        if self._audio_from is None or frame_start < self._audio_from:
            self._audio_from = frame_start
        if self._layout is None and start is not None and frame_start > start:
            self._layout = frame_layout(bytes(data[:MAX_HEADER]))

    def _stretch(self, start: int) -> int | None:
        """How many bytes from ``start`` must hold a frame (None: unknown here)."""
        if self._layout is None or self._audio_from is None or start < self._audio_from:
            return None  # the layout is unknown, or this may be metadata before the audio
        return 2 * (self._layout.longest + MAX_HEADER)

    def _judge_unsynced(self, start: int, data: bytes | bytearray | memoryview,
                        result: FrameScan) -> FrameScan:
        stretch = self._stretch(start)
        if stretch is None or len(data) < stretch:
            return result
        assert self._layout is not None
        if has_header(data[:stretch], self._layout):
            return result
        self._headerless[start] = start + stretch
        return FrameScan(start, False, ((start, start + stretch),))

    def _recheck_headerless(self, start: int, data: bytes | bytearray | memoryview,
                            ) -> FrameScan:
        end = self._headerless[start]
        if len(data) < end - start:
            return FrameScan(start, True, ())  # not all here yet: ask again with more
        found = scan_frames(data, start, synced=False)
        if found.synced and not found.bad:
            return found  # (kept: the session may ask again from the same start)
        return FrameScan(start, True, ((start, end),))
