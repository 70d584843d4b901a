"""The file format's own check, inside a running session (a mixin of ``SwarmSession``).

A FLAC frame ends with a CRC-16 of itself, so a frame that lies wholly inside one source's
bytes and fails it shows that source sent wrong bytes — at once, with no reference digest and
no second opinion. Cross-checks between sources find such a source only where two of them
overlap, and the whole-file check only at the end, after which tracing it takes rounds of
re-fetching.

A failed frame only makes its sender a *suspect*: a frame can also be broken in the file
itself (every copy shared from one damaged rip). The suspect stops at once (its transfers are
cancelled, it takes no new work) and the frame is fetched again from someone else. If that
copy passes, the suspect is convicted. If it fails with the very same bytes, the file is
damaged there: the suspect is cleared and format checks stop for this file (the end check
still judges it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .decisions import Decision, Rebalance
from .ports import FormatCheck, PartFile, RangeTransport
from .range_map import ByteState, RangeMap
from .tracking import SourceRuntime, Transfer

if TYPE_CHECKING:
    from .integrity import IntegrityLedger

FRAME_SUSPECT = "sent a broken frame"
# What the format check found wrong (FLAC, the only format checked so far).
BROKEN = "a CRC fails, or no frame header is where one must be"


class FrameChecking:
    """Needs the session's state and helpers, declared here for the type checker."""

    if TYPE_CHECKING:
        transport: RangeTransport
        part: PartFile
        range_map: RangeMap
        ledger: IntegrityLedger
        sources: dict[str, SourceRuntime]
        format_check: FormatCheck | None
        _replan: bool

        def _cancel(self, t: Transfer, now: float, reason: str,
                    backoff: bool = False) -> None: ...
        def _log(self, now: float, d: Decision) -> None: ...
        def convict(self, source_id: str, reason: str, now: float) -> None: ...

    def _init_frames(self) -> None:
        # (start, end) of a frame that failed -> {suspect: digest of the bytes it sent}
        self._bad_frames: dict[tuple[int, int], dict[str, str]] = {}
        self._frames_off = False

    def frames_under_recheck(self) -> tuple[tuple[int, int], ...]:
        """Failed frames waiting for another source's copy (their suspects take no work)."""
        return tuple(sorted(self._bad_frames))

    def _check_frames(self, t: Transfer, now: float) -> None:
        """Judge the frames this stream completed that are in the file as its own bytes."""
        if self.format_check is None or self._frames_off or t.position <= t.start:
            return
        sid = t.source_id
        src = self.sources[sid]
        if src.suspended is not None or sid in self.ledger.convicted:
            return
        if t.frames_checked < 0:
            t.frames_checked = t.start
            t.frames_synced = any(s == t.start for s, _ in self._bad_frames)
        start = t.frames_checked
        # Only bytes that are this source's own in the file can accuse it: skip past any
        # written by someone else first (a boundary block, a raced stretch).
        for seg in self.range_map.iter_segments(start, t.position):
            if seg.state < ByteState.RECEIVED or seg.source != sid:
                start, t.frames_synced = seg.end, False
        if t.position - start < 2:
            t.frames_checked = max(t.frames_checked, start)
            return
        synced = t.frames_synced and start == t.frames_checked
        # A frame ends where the next one's header starts: read that header too when it is
        # here (whoever sent it), or a stream's last frame could never be judged.
        end = min(self.range_map.size, t.position + self.format_check.lookahead)
        if any(seg.state < ByteState.RECEIVED for seg in self.range_map.iter_segments(
                t.position, end)):
            end = t.position
        scan = self.format_check.scan(start, end, synced)
        t.frames_checked, t.frames_synced = scan.checked_to, scan.synced
        for span in scan.bad:
            if span[1] <= t.position:  # its own bytes only
                self._frame_failed(sid, span, now)
                if self._frames_off or self.sources[sid].suspended is not None:
                    return

    def _recheck_suspect_frames(self, now: float) -> None:
        """Judge again each failed frame once others have sent it anew (and the next frame's
        header is here to end it)."""
        if self.format_check is None or self._frames_off:
            return
        for span, suspects in list(self._bad_frames.items()):
            start, end = span
            tail = min(self.range_map.size, end + self.format_check.lookahead)
            segments = list(self.range_map.iter_segments(start, tail))
            if any(seg.state < ByteState.RECEIVED for seg in segments) or any(
                    seg.source in suspects for seg in segments if seg.start < end):
                continue
            scan = self.format_check.scan(start, tail, True)
            if scan.checked_to <= start and span not in scan.bad:
                continue  # the frame's end is not here yet: wait for more bytes
            if span not in scan.bad:
                del self._bad_frames[span]
                for suspect in suspects:
                    self._frame_confirmed(span, suspect, now)
                continue
            digest = self.part.digest(start, end)
            if digest in suspects.values():
                self._file_damaged(span, now)
                return
            senders = {seg.source for seg in segments if seg.start < end and seg.source}
            if len(senders) == 1:  # mixed senders: nobody to blame until one sends it all
                self._frame_failed(senders.pop(), span, now)

    def _frame_failed(self, sid: str, span: tuple[int, int], now: float) -> None:
        if sid in self.ledger.convicted:
            return
        start, end = span
        digest = self.part.digest(start, end)
        suspects = self._bad_frames.setdefault(span, {})
        if any(other != sid and d == digest for other, d in suspects.items()):
            self._file_damaged(span, now)
            return
        src = self.sources[sid]
        if src.suspended is not None:  # already stopped: only its copy of this frame goes
            suspects[sid] = digest
            self.part.discard(start, end)
            self.range_map.invalidate(sid, start, end)
            return
        if not any(s.source_id != sid and s.state != "dead" and s.suspended is None
                   for s in self.sources.values()):
            if not suspects:
                del self._bad_frames[span]
            return  # nobody else could fetch the frame: the end check will judge the file
        suspects[sid] = digest
        for t in list(src.transfers.values()):
            self._cancel(t, now, FRAME_SUSPECT)
        if src.state in ("negotiating", "queued", "ready"):
            self.transport.release(sid)
            src.state = "idle"
        src.suspended = FRAME_SUSPECT
        self.part.discard(start, end)
        self.range_map.invalidate(sid, start, end)
        self._log(now, Rebalance(f"{sid} suspended: its bytes at {start}–{end} are no valid "
                                 f"FLAC frame ({BROKEN}); fetching them from another source"))
        self._replan = True

    def _file_damaged(self, span: tuple[int, int], now: float) -> None:
        """Two sources sent the same failing frame: the file itself is damaged there."""
        self._frames_off = True
        names = sorted(self._bad_frames.get(span, {}))
        for suspects in self._bad_frames.values():
            for sid in suspects:
                if self.sources[sid].suspended == FRAME_SUSPECT:
                    self.sources[sid].suspended = None
        self._bad_frames.clear()
        self._log(now, Rebalance(
            f"frame at {span[0]}–{span[1]} fails its check alike in more than one copy "
            f"({', '.join(names)} and another): the file itself is damaged there; "
            "format checks are off for it"))
        self._replan = True

    def _frame_confirmed(self, span: tuple[int, int], suspect: str, now: float) -> None:
        """Others sent a copy of a failed frame that passes: the suspect sent wrong bytes."""
        if suspect in self.ledger.convicted:
            return
        self.convict(suspect, f"sent bytes that are no valid FLAC frame ({span[0]}–{span[1]}: "
                              f"{BROKEN}); the copy others sent passes", now)
