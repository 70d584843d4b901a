"""Takes for a source about to get work: pending bytes, a split of a running range, a split
that streams on over slower ranges, or a race against an underperforming one."""

from __future__ import annotations

import math
from dataclasses import replace

from .decisions import (
    SOULSEEK,
)
from .outlook import Outlook
from .planning import (
    Binder,
    Run,
    Take,
    balanced_finish,
    chained_split,
    describe_bytes,
    fair_take,
    pending_in,
    split_for,
    steal_saving,
)
from .range_map import ByteState, align_up
from .resume import EARLIER_RUN
from .snapshot import SourceView
from .zones import ZoneSpan


class StealPlanner(Outlook):
    def _soulseek_take(self, v: SourceView, binder: Binder) -> Take | None:
        for span in self.zones.spans:
            if not self._eligible(v, binder.rate, span.zone):
                continue
            gaps = pending_in(self.rm.pending(), span.start, span.end)
            if gaps:
                g0, g1 = min(gaps) if self.playback else self._lead_gap(gaps)
                end, chained, _ = self._chain(binder, g1)
                why = " (a failed frame, to re-check)" if self._rechecked(g0, g1) else ""
                return Take("assign", g0, end, reason=f"pending {describe_bytes(g1 - g0)}{why}",
                            taken_over=tuple(r.source_id for r in chained))
            take = self._steal_in(binder, span, soulseek=True)
            if take is not None:
                return take
        return None

    def _steal_in(self, binder: Binder, span: ZoneSpan, soulseek: bool) -> Take | None:
        """The best take from running ranges: the one that ends the zone soonest overall.

        Every victim is tried with every kind of take (split, split-and-stream-on, race); the
        winner minimises the zone's makespan, ties going to the larger own saving.
        """
        victims = self._victims(binder, span, soulseek)
        if not victims:
            return None
        if not self.config.cost_based:  # classic: the back half of the largest range
            victim = max(victims, key=lambda r: (r.remaining(span.end), r.source_id))
            return self._split(binder, victim, span, victim.remaining(span.end) / 2.0)
        live = [r for r in self.runs if r.remaining(span.end) > 0 and r.end > span.start]
        extra: list[Take] = []
        if not binder.negotiating and (self.config.plan_arrivals
                                       or self._all_known(binder, live)):
            expected = self._expected(binder)
            if expected:
                planned = self._global_take(binder, victims, live, expected, span)
                if planned is not None and self.config.plan_arrivals:
                    return planned
                if planned is not None:
                    # Facts, not guesses, but a plan of everyone's arrivals that later binders
                    # cannot follow exactly (block cuts, thresholds): it is one candidate
                    # among the others, judged by the same look ahead.
                    extra.append(planned)
        share = self._share(binder, live, span)
        best: Take | None = None
        best_key: tuple[float, float, float] | None = None
        # The look ahead judges when the whole file ends; in playback what counts is when the
        # bytes near the play head arrive, which the plain makespan of the zone measures.
        use_outlook = self.config.forecast and not binder.negotiating and not self.playback
        if use_outlook:
            lanes, helpers = self._lanes(span), self._helpers(binder)
            # Each split saves its victim time; the planned cut may leave the binder bytes it
            # fetches after its victim would have, so it must beat the binder staying idle.
            idle = self._idle_outlook(lanes, helpers) if extra else None
        candidates = [t for victim in victims for t in self._options(binder, victim, span, share)]
        for take in extra + candidates:
            if use_outlook:
                end, mean = self._outlook(binder, take, lanes, helpers)
                key = (round(end, 2), round(mean, 3), -take.saves)
                if idle is not None and any(take is x for x in extra) and key[:2] >= idle:
                    continue
            else:
                involved = {take.victim, *take.taken_over}
                others = max((self._fin(r, span.end) for r in live
                              if r.source_id not in involved), default=self.now)
                key = (round(max(others, take.finish), 3), 0.0, -take.saves)
            if best_key is None or key < best_key:
                best, best_key = take, key
        return best

    def _global_take(self, binder: Binder, victims: list[Run], live: list[Run],
                     expected: list[tuple[float, float]], span: ZoneSpan) -> Take | None:
        """Sources still negotiating will arrive: cut the range that would finish last so its
        owner keeps exactly what it can do by the balanced finish time of everyone (those
        expected included); the binder takes the rest, and later binders cut it the same way."""
        work = sum(r.remaining(span.end) for r in live)
        caps = [(r.rate, r.starts_at) for r in live if not r.virtual] + expected
        caps.append((binder.rate, binder.starts_at))
        target = balanced_finish(caps, work, self.now)
        block = self.config.block_size
        best: Take | None = None
        best_fin = target + self.config.min_gain_seconds
        for v in victims:
            if v.virtual or v.verdict or v.rate <= 0:
                continue
            fin = self._fin(v, span.end)
            if fin <= best_fin:
                continue
            keep = v.rate * max(0.0, target - v.starts_at)
            zone_end = min(v.end, span.end)
            earliest = max(align_up(v.position + block, block, v.end), v.owned_from)
            new_end = max(align_up(int(v.position + keep), block, zone_end), earliest)
            if zone_end - new_end < self.config.min_steal_bytes or not self._owns(v, new_end):
                continue
            mine = binder.starts_at + (zone_end - new_end) / binder.rate
            if binder.starts_at >= fin or min(mine, target) >= fin:
                continue
            start = new_end
            if binder.overlap and new_end - binder.overlap >= earliest:
                start = new_end - binder.overlap
            kept = (new_end - v.position) / v.rate + v.starts_at
            best_fin = fin
            best = Take("steal", start, v.end, v.source_id, v.end, new_end, fin - max(kept, mine),
                        f"take {describe_bytes(v.end - new_end)} from {v.source_id}: it keeps "
                        f"what it can fetch by {target - self.now:.1f} s from now",
                        finish=max(kept, mine))
        return best

    def _share(self, binder: Binder, live: list[Run], span: ZoneSpan) -> float:
        """Bytes of the zone this binder should take if the sources still negotiating arrive
        as expected: its part of the balanced finish time. Without this, sources that bind one
        after another halve each other's ranges and end up unbalanced (1/4, 1/4, 1/2 for three
        equal sources); with it they end up with a third each. Infinite when nobody is coming."""
        expected = self._expected(binder) if self.config.plan_arrivals else []
        if not expected:
            return math.inf
        caps = [(r.rate, r.starts_at) for r in live] + expected
        caps.append((binder.rate, binder.starts_at))
        target = balanced_finish(caps, sum(r.remaining(span.end) for r in live), self.now)
        return binder.rate * max(0.0, target - binder.starts_at)

    def _all_known(self, binder: Binder, live: list[Run]) -> bool:
        """Are the binder's rate, every running rate and every expected arrival measured?"""
        if not self.config.plan_known_arrivals or not self.sources[binder.source_id].rate_measured:
            return False
        if any(not (r.measured or r.verdict) for r in live if not r.virtual):
            return False
        return all(v.rate_measured and v.timing_known for v in self.s.sources
                   if v.source_id != binder.source_id and v.kind == SOULSEEK and v.available
                   and v.state in ("negotiating", "queued") and not v.verdict)

    def _expected(self, binder: Binder) -> list[tuple[float, float]]:
        """(rate, first byte) of Soulseek sources negotiating now and expected soon."""
        out = []
        for v in self.s.sources:
            if (v.source_id != binder.source_id and v.kind == SOULSEEK and v.available
                    and v.state in ("negotiating", "queued") and v.ready_at is not None
                    and not v.verdict):
                out.append((self._rate(v), max(v.ready_at, self.now) + v.first_byte_delay))
        return out

    def _options(self, binder: Binder, victim: Run, span: ZoneSpan,
                 share: float = math.inf) -> list[Take]:
        if victim.virtual:
            takes = [self._take_over(binder, victim, span)]
        elif victim.verdict or (victim.measured
                                and victim.rate < self.config.race_below * binder.rate):
            # Far slower than the binder (or stalled): splitting would leave it a stub it may
            # never deliver; race it from its position instead and let the loser be cancelled.
            takes = [self._race(binder, victim, span)]
        else:
            takes = [self._chained_steal(binder, victim, span)]
            if (self.config.endgame_race and not self.playback and victim.measured
                    and victim.rate < self.config.endgame_race_below * binder.rate
                    and victim.remaining(span.end) <= 2 * self.config.min_steal_bytes):
                # A healthy but clearly slower range can be raced too when its tail is too
                # small to split well; the look ahead judges the race like any take. (Racing
                # whole ranges of near-equal peers duplicated megabytes; in session 4 one
                # scenario with overlay chunks stolen from the raced range never finished, see
                # docs/swarm.md.)
                takes.append(self._race(binder, victim, span))
        if not victim.verdict:
            fair = fair_take(victim, binder, span.end)
            planned = self._split(binder, victim, span, min(fair, share)) if share < fair else None
            takes.append(planned or self._split(binder, victim, span, fair))
            if self.config.forecast and not binder.negotiating:
                r = victim.remaining(span.end)
                for f in self.config.split_fractions:
                    takes.append(self._split(binder, victim, span, r * f))
        return [t for t in takes if t is not None]

    def _split(self, binder: Binder, victim: Run, span: ZoneSpan, amount: float) -> Take | None:
        """The binder takes about ``amount`` bytes from the back of the victim's zone part."""
        block = self.config.block_size
        if amount < self.config.overlap_min_take:
            binder = replace(binder, overlap=0)  # a cross-check block is dear on a small take
        new_end = split_for(victim, binder, amount, span.end, block, safety=block)
        if (new_end is None or victim.end - new_end < self.config.min_steal_bytes
                or not self._owns(victim, new_end)):
            return None
        saves = steal_saving(victim, binder, new_end, span.end)
        if saves < self._threshold(victim, span, binder):
            return None
        start = new_end
        if binder.overlap and new_end - binder.overlap >= max(
                victim.owned_from, align_up(victim.position + block, block, victim.end)):
            start = new_end - binder.overlap
        return Take("steal", start, victim.end, victim.source_id, victim.end, new_end, saves,
                    f"take {describe_bytes(victim.end - new_end)} from {victim.source_id}, "
                    f"saves {saves:.1f} s", finish=self._fin(victim, span.end) - saves)

    def _lead_gap(self, gaps: list[tuple[int, int]]) -> tuple[int, int]:
        """Which pending gap a binder starts in: a frame under re-check first (its suspect
        takes no work until someone fetches it, and a culprit's other bytes are re-opened only
        once it is convicted), else the largest."""
        urgent = [g for g in gaps if self._rechecked(*g)]
        return min(urgent) if urgent else max(gaps, key=lambda g: (g[1] - g[0], g))

    def _rechecked(self, start: int, end: int) -> bool:
        return any(start < e and s < end for s, e in self.s.rechecks)

    def _chain(self, binder: Binder, end: int, budget: int | None = None,
               take_over_below: float | None = None) -> tuple[int, list[Run], int]:
        """How far a Soulseek binder should stream on past ``end``.

        A stream cannot skip bytes, but it can run on: over pending bytes (nobody's), and over
        the range of a much slower source — re-fetching the few bytes that source already got
        (``waste``) — which then loses its range. Returns (new end, runs taken over, waste).
        """
        if binder.kind != SOULSEEK or not self.config.cost_based:
            return end, [], 0
        taken: list[Run] = []
        waste = 0
        if budget is None:
            budget = max(self.config.block_size, int(binder.rate * 0.25))
        # Hopping over received bytes to the next pending gap saves someone a negotiation
        # for that gap: worth up to about half a negotiation of re-fetched bytes.
        view = self.sources.get(binder.source_id)
        hop = max(budget, int(binder.rate * (view.start_delay if view else 0.0)
                              * self.config.extend_waste_share))
        while end < self.rm.size:
            seg = self.rm.segment_at(end)
            if seg.state == ByteState.PENDING:
                end = seg.end
                continue
            owner = seg.source
            if owner == EARLIER_RUN:
                break  # verified by an earlier run: never fetched again
            if seg.state >= ByteState.RECEIVED:
                if seg.end >= self.rm.size:
                    break
                again = seg.end - end  # ``end`` may lie inside the segment
                after = self.rm.segment_at(seg.end)
                if after.state == ByteState.PENDING and waste + again <= hop:
                    waste += again
                    end = after.end
                    continue
                if waste + again > budget:
                    break
                if after.state != ByteState.IN_FLIGHT or after.source != owner:
                    break
                owner, skip = after.source, again
            else:
                skip = 0
            run = next((r for r in self.runs if r.source_id == owner and r.kind == SOULSEEK
                        and r.owned_from <= end + skip < r.end), None)
            if (run is None or run.virtual or run.duplicated or run.owned_from != end + skip
                    or not (run.measured or run.verdict)
                    or run.rate >= (self.config.take_over_below if take_over_below is None
                                    else take_over_below) * binder.rate):
                break
            waste += skip
            taken.append(run)
            end = run.end
        return end, taken, waste

    def _chained_steal(self, binder: Binder, victim: Run, span: ZoneSpan) -> Take | None:
        """The steal from ``victim`` that streams on over slower runs after it, if any."""
        end, chained, waste = self._chain(binder, victim.end)
        if not chained:
            return None
        block = self.config.block_size
        if end - victim.position < self.config.overlap_min_take:
            binder = replace(binder, overlap=0)
        x = chained_split(victim, binder, end, waste)
        earliest = max(align_up(victim.position + block, block, victim.end), victim.owned_from)
        new_end = max(align_up(int(x), block, victim.end), earliest)
        if new_end >= victim.end or not self._owns(victim, new_end):
            return None
        kept = Run(victim.source_id, victim.kind, victim.position, new_end, victim.owned_from,
                   victim.rate, victim.starts_at, victim.verdict)
        mine = binder.starts_at + (end - new_end + waste + binder.overlap) / binder.rate
        before = max([self._fin(victim, span.end), *(self._fin(r, span.end) for r in chained)])
        saves = before - max(kept.finish(), mine)
        if saves < self._threshold(victim, span, binder):
            return None
        start = new_end
        if binder.overlap and new_end - binder.overlap >= earliest:
            start = new_end - binder.overlap
        names = ", ".join(r.source_id for r in chained)
        return Take("steal", start, end, victim.source_id, victim.end, new_end, saves,
                    f"take {describe_bytes(victim.end - new_end)} from {victim.source_id} and "
                    f"stream on over slower {names}, saves {saves:.1f} s",
                    taken_over=tuple(r.source_id for r in chained),
                    finish=max(kept.finish(), mine))

    def _take_over(self, binder: Binder, victim: Run, span: ZoneSpan) -> Take | None:
        """Planning only: a source still negotiating holds a planned range. If this binder
        would finish all of it sooner, it plans to take all of it (the late one is released
        when it turns up with nothing left); otherwise they split it like any range."""
        mine = binder.starts_at + (victim.remaining() + binder.overlap) / binder.rate
        if mine + self._threshold(victim, span, binder) < victim.finish():
            start = max(victim.position, victim.owned_from)
            if start >= victim.end or not self._owns(victim, start):
                return None
            return Take("steal", start, victim.end, victim.source_id, victim.end, start,
                        self._fin(victim, span.end) - mine, f"{victim.source_id} is not ready yet",
                        finish=mine)
        return None

    def _race(self, binder: Binder, victim: Run, span: ZoneSpan) -> Take | None:
        """Replace an underperforming transfer without closing it: race it from its position."""
        if victim.duplicated or victim.virtual:
            return None
        start = victim.confirmed  # from what it confirmed, or the race would leave a gap
        if start >= victim.end:
            return None
        far = victim.rate < self.config.race_below * binder.rate  # else an end-game race
        # Far below its own usual rate it is failing, not just slower: the loser is backed off
        # (asked again at once, a stalled peer got a fresh range on its old, good record).
        degraded = victim.measured and self._below_usual(victim)
        why = victim.verdict or f"{victim.rate / 1000:.0f} kB/s, {'far ' if far else ''}" \
                                f"slower than {binder.source_id}" \
                                + (" and far below its usual rate" if degraded else "")
        end, chained, _ = self._chain(binder, victim.end)
        mine = binder.starts_at + (end - start) / binder.rate
        before = max([self._fin(victim, span.end), *(self._fin(r, span.end) for r in chained)])
        if before - mine < self._threshold(victim, span, binder):
            return None
        return Take("duplicate", start, end, victim.source_id, victim.end, saves=before - mine,
                    reason=f"race {victim.source_id}: {why}",
                    taken_over=tuple(r.source_id for r in chained), finish=mine,
                    healthy=not victim.verdict and not far and not degraded)

