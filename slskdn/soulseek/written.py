"""Which bytes of one part file are written, and by which stream: the first write wins.

Several streams (one per peer) fill one part file. When their ranges overlap — a steal's
overlap block, a race, a third opinion on a disputed block — the swarm credits each byte to the
stream that delivered it first (``PartFile``: "first write wins until discarded"), so the data
path must keep that stream's bytes and never let a later stream overwrite them: the whole-file
trace would otherwise blame the wrong peer. ``WrittenRanges`` is that rule on disk. Each stream
holds a ``StreamClaim``; ``write`` stores only the bytes nobody wrote yet, below the claim's
limit, and ``forget`` (a convicted peer's bytes) lets the next stream write them again.

A stream that *skipped* bytes (someone wrote them first) still reports them as delivered: its
position covers them. Once those bytes are no longer the writer's — forgotten (``forget``), or
past a limit the writer's end was moved to (``set_limit``, ``stop``) — that report would credit
the stream with bytes it never wrote (a convicted peer's, still on disk). So such a stream is
*frozen* at the first of them: it writes nothing from there on, its reports stop there, and
``on_freeze`` tells its owner to close it (the swarm fetches the rest again). This is rare: it
takes two streams over the same bytes (a race, a third opinion) and one of them cut or
convicted.

The swarm credits a byte to whoever *reports* it first, so reports must come in the order the
bytes were written: ``advance`` holds a stream's reported position before any byte it skipped
whose writer has not reported it yet (``blocker``: the transport then reports that one first).

Threads: ``write`` runs in executor threads, ``set_limit``/``stop``/``forget`` on the swarm's
actor thread, ``advance`` on the loop thread. One lock serialises them, and the
``pwrite`` happens under it: a ``forget`` then never slips between a stream's claim and its
write (which would let the forgotten bytes land over their replacement).
"""

from __future__ import annotations

import itertools
import os
import threading
from bisect import bisect_right
from collections.abc import Callable

PREVIOUS_RUN = 0  # owner of bytes restored from an earlier run (no stream of this one)
_END = 1 << 62  # past any file


class WrittenRanges:
    """Sorted, non-overlapping ``(start, end, owner)`` spans of bytes in the part file."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._spans: list[tuple[int, int, int]] = []
        self._owners = itertools.count(PREVIOUS_RUN + 1)
        self._claims: list[StreamClaim] = []  # not stopped (pruned now and then)
        self._claim_of: dict[int, StreamClaim] = {}
        # Called with each frozen claim, lock released, on the thread that caused the freeze
        # (``forget``, ``set_limit`` or ``stop``: the swarm's actor thread).
        self.on_freeze: Callable[[StreamClaim], None] | None = None

    def stream(self) -> StreamClaim:
        """A claim for one new stream."""
        with self.lock:
            claim = StreamClaim(self, next(self._owners))
            self._claims.append(claim)
            self._claim_of[claim.owner] = claim
            return claim

    # --- queries (any thread) -----------------------------------------------------------------

    def gaps(self, start: int, end: int) -> list[tuple[int, int]]:
        """The parts of [start, end) nobody has written."""
        with self.lock:
            return self._gaps(start, end)

    def spans(self) -> list[tuple[int, int, int]]:
        with self.lock:
            return list(self._spans)

    def blocker(self, claim: StreamClaim) -> StreamClaim | None:
        """The stream whose unreported bytes hold ``claim``'s report back (None: nothing)."""
        with self.lock:
            if claim.reported is None or claim.received is None:
                return None
            return self._reportable(claim)[1]

    # --- changes ------------------------------------------------------------------------------

    def restore(self, start: int, end: int) -> None:
        """Bytes [start, end) are already in the part file (an earlier run wrote them)."""
        with self.lock:
            for a, b in self._gaps(start, end):
                self._add(a, b, PREVIOUS_RUN)

    def forget(self, start: int, end: int) -> list[StreamClaim]:
        """Bytes [start, end) are no longer anyone's: the next stream there writes them.
        Returns the streams frozen because of it (see ``_drop``)."""
        with self.lock:
            frozen = self._drop(start, end, None)
        self._notify_frozen(frozen)
        return frozen

    def _notify_frozen(self, frozen: list[StreamClaim]) -> None:
        if self.on_freeze is not None:
            for claim in frozen:
                self.on_freeze(claim)

    # --- internals (lock held) ----------------------------------------------------------------

    def _gaps(self, start: int, end: int) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        pos = start
        for a, b, _ in self._spans[self._first(start):]:
            if a >= end:
                break
            if a > pos:
                out.append((pos, a))
            pos = max(pos, b)
            if pos >= end:
                break
        if pos < end:
            out.append((pos, end))
        return out

    def _drop(self, start: int, end: int, owner: int | None) -> list[StreamClaim]:
        """Remove the spans in [start, end) (of ``owner``, or everyone's). A live stream that
        would still report removed bytes it did not write is frozen at the first of them (its
        report would credit it with bytes that are not its own), and so is the owner of
        forgotten bytes it has not reported yet; freezing drops their unreported bytes in turn.
        Returns the streams frozen."""
        frozen: list[StreamClaim] = []
        self._claims = [c for c in self._claims if not c.stopped]  # the others never report
        work: list[tuple[int, int, int | None]] = [(start, end, owner)]
        while work:
            lo, hi, who = work.pop()
            removed = [(max(a, lo), min(b, hi), o) for a, b, o in self._spans
                       if b > lo and a < hi and (who is None or o == who)]
            self._remove(lo, hi, who)
            for a, b, o in removed:
                for claim in self._claims:
                    if claim.owner == o and who is not None:
                        continue  # its own limit moved: already handled by the caller
                    at = claim._reports_over(a, b, skipped=claim.owner != o)
                    if at is not None:
                        work.append(claim._freeze(at))
                        frozen.append(claim)
        return frozen

    def _reportable(self, claim: StreamClaim) -> tuple[int, StreamClaim | None]:
        """How far ``claim``'s next report may go: its position (capped at its limit), but
        not past a byte it skipped whose writer has not reported it yet — the swarm credits
        whoever reports a byte first, and that must be the stream that wrote it. Returns the
        position and that writer (None when nothing holds it back)."""
        assert claim.reported is not None and claim.received is not None
        pos = claim.reported
        hi = claim.received if claim.limit is None else min(claim.received, claim.limit)
        for a, b, who in self._spans[self._first(pos):]:
            if a >= hi:
                break
            if who in (claim.owner, PREVIOUS_RUN):
                continue
            writer = self._claim_of[who]
            blocked = max(a, pos, writer.reported if writer.reported is not None else a)
            if blocked < min(b, hi):
                return blocked, writer
        return hi, None

    def _first(self, offset: int) -> int:
        """Index of the first span that ends after ``offset``."""
        i = bisect_right(self._spans, (offset, _END, 0)) - 1
        return i if i >= 0 and self._spans[i][1] > offset else i + 1

    def _add(self, start: int, end: int, owner: int) -> None:
        """Add a span over a gap, merging with same-owner neighbours."""
        i = bisect_right(self._spans, (start, end, owner))
        if i > 0 and self._spans[i - 1][1] == start and self._spans[i - 1][2] == owner:
            i -= 1
            start = self._spans.pop(i)[0]
        if i < len(self._spans) and self._spans[i][0] == end and self._spans[i][2] == owner:
            end = self._spans.pop(i)[1]
        self._spans.insert(i, (start, end, owner))

    def _remove(self, start: int, end: int, owner: int | None = None) -> None:
        out: list[tuple[int, int, int]] = []
        for a, b, who in self._spans:
            if b <= start or a >= end or (owner is not None and who != owner):
                out.append((a, b, who))
                continue
            if a < start:
                out.append((a, start, who))
            if b > end:
                out.append((end, b, who))
        self._spans = out


class StreamClaim:
    """One stream's share of a ``WrittenRanges``.

    ``limit``: the stream may not write at or past it (None: no limit but its own end);
    ``start``: where its first write began; ``received``: the absolute position its writes
    reached; ``reported``: the position last passed on to the swarm. Bytes the stream wrote
    past its limit are not its own: they are forgotten when the limit moves below them.
    ``stopped`` (cancelled or frozen): the limit never rises again.
    """

    def __init__(self, ranges: WrittenRanges, owner: int) -> None:
        self.ranges = ranges
        self.owner = owner
        self.limit: int | None = None
        self.start: int | None = None
        self.received: int | None = None
        self.reported: int | None = None
        self.stopped = False
        self.frozen = False

    def write(self, fd: int, offset: int, data: memoryview) -> int:
        """``pwrite`` the parts of ``data`` (at ``offset``) nobody wrote yet, below the limit;
        returns the bytes written. The stream counts as having received all of ``data``."""
        end = offset + len(data)
        stored = 0
        with self.ranges.lock:
            if self.start is None:
                self.start = self.reported = offset
            self.received = end
            stop = end if self.limit is None else min(end, self.limit)
            if self.stopped:
                stop = offset
            for a, b in self.ranges._gaps(offset, stop) if offset < stop else ():
                piece = data[a - offset:b - offset]
                done = 0
                while done < len(piece):  # pwrite may write less than asked
                    done += os.pwrite(fd, piece[done:], a + done)
                self.ranges._add(a, b, self.owner)
                stored += b - a
        return stored

    def set_limit(self, end: int) -> None:
        """Write nothing at or past ``end`` from now on; what was written there is forgotten.
        (A later ``end`` lets the stream write on, unless it is stopped.)"""
        with self.ranges.lock:
            if self.stopped and self.limit is not None:
                end = min(end, self.limit)
            self.limit = end
            frozen = self.ranges._drop(end, _END, self.owner)
        self.ranges._notify_frozen(frozen)

    def stop(self, credited: int | None = None) -> int:
        """No more writes; what was written past the position last reported is forgotten
        (the swarm never credited this stream with it). ``credited``: the swarm took the
        reports only this far (later ones were still on their way): forget past it too.
        Returns the position kept."""
        with self.ranges.lock:
            position = self.reported if self.reported is not None else 0
            if credited is not None:
                position = min(position, credited)
            self.stopped = True
            self.limit = position if self.limit is None else min(self.limit, position)
            frozen = self.ranges._drop(self.limit, _END, self.owner)
        self.ranges._notify_frozen(frozen)
        return position

    def advance(self) -> int | None:
        """Mark the stream reported as far as it may be now (see ``_reportable``); returns
        that position, or None when it has nothing new to report."""
        with self.ranges.lock:
            if self.received is None or self.reported is None:
                return None
            position = self.ranges._reportable(self)[0]
            if position <= self.reported:
                return None
            self.reported = position
            return position

    # --- (lock held) --------------------------------------------------------------------------

    def _reports_over(self, a: int, b: int, *, skipped: bool) -> int | None:
        """Where this live stream's coming reports would cover removed bytes [a, b): the first
        of them (None: they won't). Bytes it skipped count wherever it received them; its own
        bytes only where it has not reported them yet."""
        if self.stopped or self.start is None or self.received is None:
            return None
        lo = max(a, self.start) if skipped else max(a, self.reported or a)
        hi = min(b, self.received, _END if self.limit is None else self.limit)
        return lo if lo < hi else None

    def _freeze(self, at: int) -> tuple[int, int, int | None]:
        """Stop at ``at``; returns the span of its bytes to drop in turn (unreported ones)."""
        self.frozen = self.stopped = True
        self.limit = at if self.limit is None else min(self.limit, at)
        return max(self.limit, self.reported if self.reported is not None else 0), _END, \
            self.owner
