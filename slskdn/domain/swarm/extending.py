"""Streams that run on: a Soulseek transfer about to reach its end is extended instead of
closed, when the bytes after it are pending or belong to a much slower source.

A new range from a Soulseek peer costs a negotiation (0.3–1.5 s, more with a requeue) during
which the peer sends nothing; for the fastest peer that is the largest single loss of a
download. But its stream need not stop: the downloader closes it when it wants, so moving the
end later is free. Past the end lie pending bytes (free to take), or the range of another
source: if that one is much slower, this stream re-fetches the few bytes it already has and
takes over the rest — the slow source is cancelled and pays the renegotiation instead, which
costs far fewer bytes.
"""

from __future__ import annotations

from .decisions import SOULSEEK, Cancel, Extend
from .planning import Binder, Run, describe_bytes
from .stealing import StealPlanner
from .zones import Zone


class ExtendPlanner(StealPlanner):
    def _extend_streams(self) -> None:
        if not self.config.cost_based or not self.config.extend_streams:
            return
        runs = [r for r in self.runs if r.kind == SOULSEEK and not r.virtual and not r.verdict
                and r.rate > 0 and not r.duplicated and r.request_end < self.rm.size]
        for run in sorted(runs, key=lambda r: (-r.rate, r.source_id)):
            if run not in self.runs:  # taken over earlier in this plan
                continue
            self._extend(run)

    def _extend(self, run: Run) -> None:
        v = self.sources[run.source_id]
        if v.verdict or not v.rate_live:
            return
        reach = run.starts_at + max(0, run.request_end - run.position) / run.rate
        binder = Binder(run.source_id, SOULSEEK, run.rate, reach)
        # What stopping costs: the bytes this source would not fetch while negotiating anew.
        stop_cost = run.rate * v.start_delay
        budget = int(stop_cost * self.config.extend_waste_share)
        end, chained, waste = self._chain(binder, run.request_end, budget, take_over_below=1.0)
        if end <= run.request_end:
            return
        if chained and self.playback and self.zones.zone_of(run.request_end) != Zone.LOW:
            return  # near the play head the owner that is already streaming keeps its bytes
        if chained:
            if reach - self.now > v.start_delay + self.config.rebalance_interval:
                return  # not yet: the slower source may still be the better owner later
            mine = reach + (end - run.request_end) / run.rate
            theirs = max(self._fin(r, end) for r in chained)
            if mine + self.config.min_gain_seconds >= theirs:
                return
            # Taking over makes the slower ones stop and negotiate instead: worth it only if
            # that, plus the bytes fetched again, costs less than this one stopping.
            their_cost = sum(r.rate * self.sources[r.source_id].start_delay for r in chained)
            if waste + their_cost >= stop_cost:
                return
        for r in chained:
            degraded = self._below_usual(r)
            self.decisions.append(Cancel(r.source_id, r.confirmed, r.end,
                                         f"taken over by faster {run.source_id}"
                                         + (" (far below its usual rate)" if degraded else ""),
                                         backoff=degraded))
            self.rm.release(r.source_id, r.owned_from, r.end)
            self.runs.remove(r)
        names = ", ".join(r.source_id for r in chained)
        reason = f"run on over {describe_bytes(end - run.request_end)}" + (
            f", taking over slower {names} ({describe_bytes(waste)} fetched again)"
            if chained else " of pending bytes")
        self.decisions.append(Extend(run.source_id, run.request_end, end, reason))
        self._assign_pending(run.source_id, run.request_end, end)
        run.end = self._last_owned(run.source_id, run.request_end, end, run.end)
        run.request_end = end

    def _last_owned(self, source_id: str, start: int, end: int, default: int) -> int:
        last = default
        for seg in self.rm.iter_segments(start, end):
            if seg.source == source_id and seg.state < 2:
                last = seg.end
        return last
