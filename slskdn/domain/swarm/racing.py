"""Races: a duplicate transfer against the range it races (end game, a stalled or far slower
source); whichever is ahead wins the rest of the range and the other is cancelled (a mixin of
``SwarmSession``, which owns the state declared below)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .decisions import OVERLAY
from .ports import RangeTransport
from .range_map import ByteState, RangeMap
from .tracking import SourceRuntime, Transfer


class Racing:
    """Needs the session's state and helpers, declared here for the type checker."""

    if TYPE_CHECKING:
        transport: RangeTransport
        range_map: RangeMap
        sources: dict[str, SourceRuntime]
        transfers: dict[int, Transfer]

        def _cancel(self, t: Transfer, now: float, reason: str,
                    backoff: bool = False) -> None: ...
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
            victim = self._raced(d)
            if victim is None or d.position > victim.position:
                if victim is not None:
                    # Raced for being slow or stalled: do not ask it again right away (the
                    # logged Cancel says so; it used to say "no back-off" either way).
                    self._cancel(victim, now, f"lost the race to {d.source_id}",
                                 backoff=not d.races_healthy)
                self._promote(d, now)
            elif len(d.samples) >= 3 and victim.position >= d.position:
                self._cancel(d, now, f"slower than {victim.source_id}, which it raced")
        for t in list(self.transfers.values()):
            if (t.duplicate_of is None and not t.verify_only and t.position < t.end
                    and self.sources[t.source_id].spec.kind == OVERLAY
                    and self.range_map.received_until(t.position) >= t.end):
                self._cancel(t, now, "its bytes arrived from another source first")

    def _raced(self, d: Transfer) -> Transfer | None:
        """The transfer ``d`` races, while it runs. Its end may have moved earlier since the
        race began (an overlay peer took a chunk from its back, a split): it is still raced
        over what is left of it. Looking it up by the race's end promoted the racer at once,
        however far behind, and left the raced stream running unowned, never closed."""
        if d.races is not None:
            victim = self.transfers.get(d.races)
            return victim if victim is not None and victim.source_id == d.duplicate_of else None
        return self._transfer_ending(d.duplicate_of or "", d.end)

    def _promote(self, d: Transfer, now: float) -> None:
        """A racing transfer won: it now owns the pending rest of its range.

        Bytes in flight from someone else there stay theirs: the loser was cancelled first
        (its bytes are pending now), so they belong to a live transfer (a chunk stolen from
        the loser's back, a range given out after the loser ended) that still fetches them;
        taking them left that transfer running with nothing of its own. The racer's end is
        pulled back to its last byte of its own, so it does not fetch a stolen tail again."""
        d.duplicate_of = None
        for start, end in self.range_map.pending():
            if start < d.end and end > d.position:
                self.range_map.assign(max(start, d.position), min(end, d.end), d.source_id)
        last = max((seg.end for seg in self.range_map.iter_segments(d.position, d.end)
                    if seg.state == ByteState.IN_FLIGHT and seg.source == d.source_id),
                   default=None)
        if last is None:
            if d.position < d.end:
                self._cancel(d, now, "won its race with nothing left of its own to fetch")
            return
        if last < d.end:
            d.end = last
            self.transport.set_end(d.request_id, last)
