"""The scheduler's working model: a copy of the byte map and the runs, changed as a plan is
built so that later decisions in the same plan see the earlier ones."""

from __future__ import annotations

import math
from collections.abc import Iterable

from .decisions import (
    OVERLAY,
    SOULSEEK,
    Assign,
    Cancel,
    Decision,
    Duplicate,
    Steal,
)
from .planning import (
    Binder,
    Run,
    Take,
)
from .range_map import ByteState, RangeMap
from .snapshot import DEGRADED_SHARE, SchedulerConfig, SourceView, SwarmSnapshot
from .zones import Zone, ZoneSpan


class Workbench:
    """State shared by the planning steps (stealing, overlay queues, negotiation)."""

    def __init__(self, snapshot: SwarmSnapshot, config: SchedulerConfig) -> None:
        self.s = snapshot
        self.config = config
        self.limits = config.mode_limits
        self.now = snapshot.now
        self.zones = snapshot.zones
        self.playback = snapshot.zones.byte_rate is not None
        self.rm = RangeMap(snapshot.file_size, snapshot.segments)
        self.sources = {v.source_id: v for v in snapshot.sources}
        self.runs: list[Run] = []
        self.decisions: list[Decision] = []
        self.rebalance_notes: list[str] = []
        usable = [v for v in snapshot.sources if v.state != "dead" and v.available]
        self.only_quarantined = bool(usable) and all(v.quarantined for v in usable)
        self._build_runs()
        usable_now = [v for v in snapshot.sources if self._usable(v)]
        self.high_zone_fallback: str | None = None
        if self.playback and not any(
                self.zones.eligible(Zone.HIGH, self._rate(v), self._reliable(v), v.rate_measured)
                for v in usable_now) and usable_now:
            self.high_zone_fallback = self._by_cost(usable_now)[0].source_id

    # --- model -------------------------------------------------------------------------------

    def _rate(self, v: SourceView) -> float:
        rate = max(v.rate, 0.0)
        return rate * v.reliability if self.config.cost_based else rate

    def _build_runs(self) -> None:
        for v in self.s.sources:
            queue_end = self.now  # overlay requests are served one after another
            for r in v.requests:
                # A race owns nothing of the range it races, but what it streams on into
                # beyond it is its own: a run like any other (a stalled racer hid it).
                owned = []
                for seg in self.rm.iter_segments(r.position, r.end):
                    if seg.state == ByteState.IN_FLIGHT and seg.source == v.source_id:
                        owned.append(seg)
                    elif seg.state < ByteState.RECEIVED and owned:
                        # Someone else's (or nobody's) bytes inside the range: the run, as
                        # far as cuts go, ends before them.
                        break
                if not owned:
                    continue
                end, owned_from = owned[-1].end, owned[0].start
                rate = 0.0 if v.verdict else self._rate(v)
                if r.first_byte_at is not None and queue_end <= self.now:
                    # No extrapolation past the confirmed position: a silent source may not
                    # have moved at all. Cuts keep a block of margin for the one that did.
                    position, starts = r.position, self.now
                else:
                    position = r.position
                    starts = max(queue_end, r.progress_at + v.first_byte_delay)
                run = Run(v.source_id, v.kind, position, end, owned_from, rate, starts, v.verdict,
                          confirmed=r.position, measured=v.rate_live, request_end=r.end)
                self.runs.append(run)
                if v.kind == OVERLAY:
                    queue_end = run.finish() if rate > 0 else math.inf
        # A race run by a source that is itself underperforming does not count as a race.
        duplicated = {r.duplicate_of for v in self.s.sources for r in v.requests
                      if r.duplicate_of and not v.verdict}
        for run in self.runs:
            run.duplicated = run.source_id in duplicated

    def _usable(self, v: SourceView) -> bool:
        return (v.state != "dead" and v.available
                and (not v.quarantined or self.only_quarantined))

    def _below_usual(self, run: Run) -> bool:
        """The run's planning rate is far below its source's usual (EMA) rate: it is failing,
        not just slow, so losing its range backs it off."""
        usual = self.sources[run.source_id].usual_rate
        return usual is not None and run.rate < DEGRADED_SHARE * usual

    def _reliable(self, v: SourceView) -> bool:
        return not v.quarantined and v.verdict is None and v.reliability >= 0.5

    def _eligible(self, v: SourceView, rate: float, zone: Zone) -> bool:
        if zone == Zone.HIGH and self.high_zone_fallback is not None:
            # Nobody is known to be fast enough for playback: the best-ranked source takes the
            # next seconds alone rather than betting them on several unknowns.
            return v.source_id == self.high_zone_fallback
        return self.zones.eligible(zone, rate, self._reliable(v), v.rate_measured)

    def _relaxed(self, span: ZoneSpan) -> bool:
        return self.zones.critical and span.zone == Zone.HIGH

    def _by_cost(self, views: Iterable[SourceView]) -> list[SourceView]:
        items = list(views)
        if self.config.cost_based:
            return sorted(items, key=lambda v: (v.quarantined, v.cost, v.source_id))
        return sorted(items, key=lambda v: v.source_id)

    def _binder(self, v: SourceView, starts_at: float, negotiating: bool = False) -> Binder:
        overlap = self.config.overlap_blocks * self.config.block_size if v.kind == SOULSEEK else 0
        return Binder(v.source_id, v.kind, max(self._rate(v), 1.0), starts_at, overlap,
                      negotiating)

    def _victims(self, binder: Binder, span: ZoneSpan, soulseek: bool) -> list[Run]:
        return [r for r in self.runs
                if r.source_id != binder.source_id and r.end > span.start
                and r.remaining(span.end) > 0
                and (r.kind == SOULSEEK or not soulseek or r.verdict is not None
                     or (r.measured and r.rate < self.config.race_below * binder.rate))
                and r.owned_from < r.end and not (r.verdict and r.duplicated)]

    def _fin(self, run: Run, limit: int) -> float:
        """Finish time, with "never" (a stalled run) as a large finite number for comparing."""
        return min(run.finish(limit), self.now + 1e6)

    def _threshold(self, victim: Run, span: ZoneSpan, binder: Binder) -> float:
        """Seconds a take must save. A source that is ready (its negotiation already paid)
        takes any work that helps; opening a new negotiation must be worth a fraction of the
        time left, so that we do not take a peer's upload slot for a marginal gain."""
        if self._relaxed(span):
            return 0.0
        if not binder.negotiating:
            return self.config.min_gain_seconds
        left = self._fin(victim, span.end) - self.now
        return max(self.config.min_gain_seconds, self.limits.gain_fraction * left)

    # --- applying takes to the working model -------------------------------------------------

    def _emit(self, v: SourceView, take: Take) -> None:
        for sid in take.taken_over:
            run = next(r for r in self.runs if r.source_id == sid and r.end <= take.end
                       and r.owned_from >= take.start)
            degraded = self._below_usual(run)
            self.decisions.append(Cancel(sid, run.confirmed, run.end,
                                         f"taken over by faster {v.source_id}"
                                         + (" (far below its usual rate)" if degraded else ""),
                                         backoff=degraded))
        if take.kind == "assign":
            self.decisions.append(Assign(v.source_id, take.start, take.end, take.reason))
        elif take.kind == "steal":
            assert take.victim is not None
            self.decisions.append(Steal(take.victim, take.victim_end, take.new_end, v.source_id,
                                        take.start, take.end, take.reason))
        else:
            assert take.victim is not None
            self.rebalance_notes.append(f"{take.reason}: {v.source_id} races it from byte "
                                        f"{take.start}")
            self.decisions.append(Duplicate(v.source_id, take.victim, take.start, take.end,
                                            take.reason, healthy=take.healthy))

    def _apply(self, v: SourceView, binder: Binder, take: Take, virtual: bool) -> None:
        for sid in take.taken_over:
            for run in [r for r in self.runs if r.source_id == sid and r.end <= take.end
                        and r.owned_from >= take.start]:
                self.rm.release(sid, run.owned_from, run.end)
                self.runs.remove(run)
        owned_from = take.start
        if take.kind == "assign":
            self._assign_pending(v.source_id, take.start, take.end)
        elif take.kind == "steal":
            assert take.victim is not None
            thief_end = min(take.end, take.victim_end)
            self.rm.steal(take.victim, take.victim_end, take.new_end, v.source_id, thief_end)
            self._assign_pending(v.source_id, thief_end, take.end)
            owned_from = take.new_end
            for run in self.runs:
                if run.source_id == take.victim and run.end == take.victim_end:
                    run.end = take.new_end
                    run.request_end = take.new_end
                    run.owned_from = min(run.owned_from, take.new_end)
        else:
            for run in self.runs:
                if run.source_id == take.victim and run.end == take.victim_end:
                    run.duplicated = True
            # A racing transfer owns nothing of the victim's range (the race decides) but owns
            # what it streams on into beyond it.
            self._assign_pending(v.source_id, take.victim_end, take.end)
            if take.end <= take.victim_end:
                return
        self.runs.append(Run(v.source_id, v.kind, take.start, take.end,
                             self._owned_from(v.source_id, owned_from, take.end), binder.rate,
                             binder.starts_at, virtual=virtual, measured=False))

    def _owns(self, run: Run, start: int, end: int | None = None) -> bool:
        """Does the run's source still have bytes in flight in [start, end)? A cut there is
        only a steal if it does."""
        return self._owned_from(run.source_id, start, run.end if end is None else end) < (
            run.end if end is None else end)

    def _owned_from(self, source_id: str, start: int, end: int) -> int:
        """First byte in [start, end) in flight from ``source_id`` (``end`` if none)."""
        for seg in self.rm.iter_segments(start, end):
            if seg.state == ByteState.IN_FLIGHT and seg.source == source_id:
                return seg.start
        return end

    def _assign_pending(self, source_id: str, start: int, end: int) -> None:
        for g0, g1 in self.rm.pending():
            if g0 < end and g1 > start:
                self.rm.assign(max(g0, start), min(g1, end), source_id)
