"""Races: a duplicate transfer against the range it races (end game, a stalled or far slower
source); whichever is ahead wins the rest of the range and the other is cancelled (a mixin of
``SwarmSession``, which owns the state declared below)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .decisions import OVERLAY
from .range_map import ByteState, RangeMap
from .tracking import SourceRuntime, Transfer

if TYPE_CHECKING:
    from .session import SessionConfig


class Racing:
    """Needs the session's state and helpers, declared here for the type checker."""

    if TYPE_CHECKING:
        config: SessionConfig
        range_map: RangeMap
        sources: dict[str, SourceRuntime]
        transfers: dict[int, Transfer]

        def _cancel(self, t: Transfer, now: float, reason: str) -> None: ...
        def _transfer_ending(self, source_id: str, end: int) -> Transfer | None: ...

    def _resolve_races(self, now: float) -> None:
        for d in [t for t in self.transfers.values() if t.duplicate_of]:
            if d.request_id not in self.transfers:
                continue
            if d.verify_only:
                continue
            if d.position < d.end and self.range_map.received_until(d.position) >= d.end:
                self._cancel(d, now, "its bytes arrived from another source first")
                continue
            victim = self._transfer_ending(d.duplicate_of or "", d.end)
            if victim is None or d.position > victim.position:
                if victim is not None:
                    self._cancel(victim, now, f"lost the race to {d.source_id}")
                    if not d.races_healthy:
                        # Raced for being slow or stalled: do not ask it again right away.
                        self.sources[victim.source_id].backoff_until = \
                            now + self.config.failure_backoff_s
                self._promote(d)
            elif len(d.samples) >= 3 and victim.position >= d.position:
                self._cancel(d, now, f"slower than {victim.source_id}, which it raced")
        for t in list(self.transfers.values()):
            if (t.duplicate_of is None and not t.verify_only and t.position < t.end
                    and self.sources[t.source_id].spec.kind == OVERLAY
                    and self.range_map.received_until(t.position) >= t.end):
                self._cancel(t, now, "its bytes arrived from another source first")

    def _promote(self, d: Transfer) -> None:
        """A racing transfer won: it now owns the rest of its range."""
        d.duplicate_of = None
        for seg in list(self.range_map.iter_segments(d.position, d.end)):
            if seg.state == ByteState.IN_FLIGHT and seg.source != d.source_id:
                self.range_map.release(seg.source or "", seg.start, seg.end)
        for start, end in self.range_map.pending():
            if start < d.end and end > d.position:
                self.range_map.assign(max(start, d.position), min(end, d.end), d.source_id)
