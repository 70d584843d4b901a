"""Which bytes of a file are pending, in flight, received or verified — and from which source.

The map is a sorted list of segments that tile [0, size) with no gap and no overlap, so every
byte is in exactly one state by construction. Adjacent segments with the same state and source
are always merged (the canonical form), and operations split segments at their own boundaries.
Errors raise ``RangeError`` and leave the map unchanged.
"""

from __future__ import annotations

import enum
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass


class RangeError(ValueError):
    """An operation does not fit the current state of the map."""


class ByteState(enum.IntEnum):
    PENDING = 0
    IN_FLIGHT = 1
    RECEIVED = 2
    VERIFIED = 3


@dataclass(frozen=True, slots=True)
class Segment:
    """Bytes [start, end) in one state. ``source`` is None exactly when the state is PENDING."""

    start: int
    end: int
    state: ByteState
    source: str | None

    @property
    def size(self) -> int:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class ReceiveResult:
    """What marking bytes as received changed: first writer wins."""

    new_bytes: int  # bytes that were pending or in flight and are now received
    duplicate_bytes: int  # bytes that had already been received (wasted download)
    taken_from: tuple[str, ...]  # sources whose in-flight bytes someone else delivered first


# (state, source) for one segment, or None to leave a segment as it is.
_Rewrite = Callable[[Segment], tuple[ByteState, str | None] | None]


class RangeMap:
    """The byte accounting of one file being downloaded from several sources."""

    def __init__(self, size: int, segments: Iterable[Segment] | None = None) -> None:
        if size <= 0:
            raise RangeError(f"file size must be positive, got {size}")
        self.size = size
        if segments is None:
            self._segments = [Segment(0, size, ByteState.PENDING, None)]
        else:
            self._segments = _canonical(list(segments))
            self._check_tiling()

    # --- queries -----------------------------------------------------------------------------

    def segments(self) -> tuple[Segment, ...]:
        return tuple(self._segments)

    def copy(self) -> RangeMap:
        clone = RangeMap.__new__(RangeMap)
        clone.size = self.size
        clone._segments = list(self._segments)
        return clone

    def segment_at(self, offset: int) -> Segment:
        if not 0 <= offset < self.size:
            raise RangeError(f"offset {offset} outside [0, {self.size})")
        return self._segments[self._index(offset)]

    def iter_segments(self, start: int = 0, end: int | None = None) -> Iterator[Segment]:
        """Segments overlapping [start, end), clipped to it."""
        end = self.size if end is None else end
        if start >= end:
            return
        for seg in self._segments[self._index(start) :]:
            if seg.start >= end:
                break
            yield Segment(max(seg.start, start), min(seg.end, end), seg.state, seg.source)

    def ranges(self, state: ByteState, source: str | None = None) -> list[tuple[int, int]]:
        return [
            (s.start, s.end)
            for s in self._segments
            if s.state == state and (source is None or s.source == source)
        ]

    def bytes_in(self, state: ByteState, source: str | None = None) -> int:
        return sum(r[1] - r[0] for r in self.ranges(state, source))

    def in_flight(self, source: str) -> list[tuple[int, int]]:
        return self.ranges(ByteState.IN_FLIGHT, source)

    def pending(self) -> list[tuple[int, int]]:
        return self.ranges(ByteState.PENDING)

    def sources(self) -> set[str]:
        return {s.source for s in self._segments if s.source is not None}

    def is_complete(self) -> bool:
        """Every byte has been received (verified or not)."""
        return all(s.state >= ByteState.RECEIVED for s in self._segments)

    def is_verified(self) -> bool:
        return all(s.state == ByteState.VERIFIED for s in self._segments)

    def received_until(self, offset: int) -> int:
        """End of the run of received bytes that starts at ``offset`` (``offset`` if none)."""
        if offset >= self.size:
            return self.size
        end = offset
        for seg in self._segments[self._index(offset) :]:
            if seg.state < ByteState.RECEIVED:
                break
            end = seg.end
        return end

    # --- operations --------------------------------------------------------------------------

    def assign(self, start: int, end: int, source: str) -> None:
        """Pending bytes [start, end) are now in flight from ``source``."""
        self._check_range(start, end)
        for seg in self.iter_segments(start, end):
            if seg.state != ByteState.PENDING:
                raise RangeError(f"cannot assign [{start}, {end}): [{seg.start}, {seg.end}) is "
                                 f"{seg.state.name.lower()}")
        self._rewrite(start, end, lambda _s: (ByteState.IN_FLIGHT, source))

    def release(self, source: str, start: int = 0, end: int | None = None) -> int:
        """Bytes in flight from ``source`` within [start, end) go back to pending."""
        end = self.size if end is None else end
        self._check_range(start, end)
        return self._rewrite_counted(start, end, lambda s: (
            (ByteState.PENDING, None)
            if s.state == ByteState.IN_FLIGHT and s.source == source else None))

    def steal(self, victim: str, victim_end: int, new_end: int, thief: str,
              thief_end: int | None = None) -> None:
        """Move the end of the victim's in-flight range that ends at ``victim_end`` to ``new_end``.

        The victim's in-flight bytes in [new_end, thief_end) become the thief's
        (``thief_end`` defaults to ``victim_end``) and those in [thief_end, victim_end) go back to
        pending. Bytes already received in between stay as they are (a stream re-fetches them);
        in-flight bytes of any other source there are an error.
        """
        thief_end = victim_end if thief_end is None else thief_end
        if not 0 <= new_end <= thief_end <= victim_end <= self.size:
            raise RangeError(f"steal needs new_end {new_end} <= thief_end {thief_end} "
                             f"<= victim_end {victim_end}")
        owned = 0
        for seg in self.iter_segments(new_end, victim_end):
            if seg.state == ByteState.IN_FLIGHT and seg.source != victim:
                raise RangeError(f"[{seg.start}, {seg.end}) is in flight from {seg.source}, "
                                 f"not {victim}")
            if seg.state < ByteState.RECEIVED:
                owned += seg.size
            if seg.state == ByteState.PENDING:
                raise RangeError(f"[{seg.start}, {seg.end}) is pending, not {victim}'s")
        if owned == 0:
            raise RangeError(f"{victim} has nothing in flight in [{new_end}, {victim_end})")

        def mine(to: tuple[ByteState, str | None]) -> _Rewrite:
            return lambda s: to if s.state == ByteState.IN_FLIGHT and s.source == victim else None

        self._rewrite(new_end, thief_end, mine((ByteState.IN_FLIGHT, thief)))
        if thief_end < victim_end:
            self._rewrite(thief_end, victim_end, mine((ByteState.PENDING, None)))

    def mark_received(self, start: int, end: int, source: str) -> ReceiveResult:
        """``source`` delivered [start, end). The first delivery of a byte wins; later ones are
        counted as duplicates and change nothing."""
        self._check_range(start, end)
        duplicate = 0
        taken: set[str] = set()
        for seg in self.iter_segments(start, end):
            if seg.state >= ByteState.RECEIVED:
                duplicate += seg.size
            elif seg.state == ByteState.IN_FLIGHT and seg.source != source:
                taken.add(seg.source or "")
        new = self._rewrite_counted(start, end, lambda s: (
            (ByteState.RECEIVED, source) if s.state < ByteState.RECEIVED else None))
        return ReceiveResult(new, duplicate, tuple(sorted(taken)))

    def mark_verified(self, start: int, end: int) -> int:
        """Received bytes [start, end) have been cross-checked; returns bytes newly verified."""
        self._check_range(start, end)
        for seg in self.iter_segments(start, end):
            if seg.state < ByteState.RECEIVED:
                raise RangeError(f"cannot verify [{seg.start}, {seg.end}): it is "
                                 f"{seg.state.name.lower()}")
        return self._rewrite_counted(start, end, lambda s: (
            (ByteState.VERIFIED, s.source) if s.state == ByteState.RECEIVED else None))

    def invalidate(self, source: str, start: int = 0, end: int | None = None) -> int:
        """Received (not verified) bytes from ``source`` go back to pending: they are suspect."""
        end = self.size if end is None else end
        self._check_range(start, end)
        return self._rewrite_counted(start, end, lambda s: (
            (ByteState.PENDING, None)
            if s.state == ByteState.RECEIVED and s.source == source else None))

    def invalidate_range(self, start: int, end: int) -> int:
        """Received bytes [start, end), whoever sent them, go back to pending."""
        self._check_range(start, end)
        return self._rewrite_counted(start, end, lambda s: (
            (ByteState.PENDING, None) if s.state == ByteState.RECEIVED else None))

    # --- internals ---------------------------------------------------------------------------

    def _index(self, offset: int) -> int:
        return bisect_right(self._segments, offset, key=lambda s: s.start) - 1

    def _check_range(self, start: int, end: int) -> None:
        if not 0 <= start <= end <= self.size:
            raise RangeError(f"range [{start}, {end}) outside [0, {self.size})")

    def _rewrite_counted(self, start: int, end: int, fn: _Rewrite) -> int:
        changed = 0

        def counting(seg: Segment) -> tuple[ByteState, str | None] | None:
            nonlocal changed
            result = fn(seg)
            if result is not None and result != (seg.state, seg.source):
                changed += seg.size
            return result

        self._rewrite(start, end, counting)
        return changed

    def _rewrite(self, start: int, end: int, fn: _Rewrite) -> None:
        """Apply ``fn`` to the parts of segments inside [start, end), then re-merge."""
        if start >= end:
            return
        first = self._index(start)
        last = self._index(end - 1)
        window: list[Segment] = []
        for seg in self._segments[first : last + 1]:
            if seg.start < start:  # split off the part before the range
                window.append(Segment(seg.start, start, seg.state, seg.source))
            inner = Segment(max(seg.start, start), min(seg.end, end), seg.state, seg.source)
            result = fn(inner)
            if result is not None:
                inner = Segment(inner.start, inner.end, result[0], result[1])
            window.append(inner)
            if seg.end > end:  # split off the part after the range
                window.append(Segment(end, seg.end, seg.state, seg.source))
        # Merge with one neighbour on each side so the canonical form holds.
        lo = max(first - 1, 0)
        hi = min(last + 2, len(self._segments))
        merged = _canonical(self._segments[lo:first] + window + self._segments[last + 1 : hi])
        self._segments[lo:hi] = merged

    def _check_tiling(self) -> None:
        position = 0
        for seg in self._segments:
            if seg.start != position or seg.end <= seg.start:
                raise RangeError(f"segments do not tile [0, {self.size}) at {position}")
            if (seg.source is None) != (seg.state == ByteState.PENDING):
                raise RangeError(f"segment [{seg.start}, {seg.end}) has a wrong source")
            position = seg.end
        if position != self.size:
            raise RangeError(f"segments end at {position}, not {self.size}")


def _canonical(segments: list[Segment]) -> list[Segment]:
    out: list[Segment] = []
    for seg in segments:
        if seg.end <= seg.start:
            continue
        if out and out[-1].state == seg.state and out[-1].source == seg.source \
                and out[-1].end == seg.start:
            out[-1] = Segment(out[-1].start, seg.end, seg.state, seg.source)
        else:
            out.append(seg)
    return out


def merge_ranges(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Union of half-open ranges as sorted, disjoint, non-touching ranges."""
    out: list[tuple[int, int]] = []
    for start, end in sorted(r for r in ranges if r[1] > r[0]):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def align_up(offset: int, block: int, limit: int) -> int:
    """The next block boundary at or after ``offset``, capped at ``limit``."""
    return min(-(-offset // block) * block, limit)


def align_down(offset: int, block: int) -> int:
    return offset // block * block
