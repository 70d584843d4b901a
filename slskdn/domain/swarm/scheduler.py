"""The scheduling policy: from a snapshot of the file and its sources to a list of decisions.

Pure: ``plan(snapshot, config)`` reads frozen data and returns plain records; the caller applies
them and calls again at the next event or rebalance tick. Rules (docs/swarm.md explains why):

- A Soulseek source has ONE contiguous range at a time, bound when its file connection opens
  (``ready``), not when it starts negotiating: the costly negotiation never commits to an offset
  chosen on stale information. It takes pending bytes first, else the take (split, split and
  stream on over much slower ranges, or a race of a stalled one) that ends the zone soonest.
- An idle Soulseek source negotiates only if the take it can expect once ready (after its
  negotiation and queue delay) saves enough time: tiny tails that the current owner finishes
  before the negotiation completes are left alone. Sources never asked yet fan out (their rate
  is a guess; a ready source with nothing worth taking is released), up to the mode's cap.
- Overlay sources keep a libtorrent-style queue of fixed chunks (≈ queue seconds × rate).
- An underperforming (stalled) transfer keeps running until a replacement races it
  (``Duplicate``); the session cancels whichever loses.
- End-game: overlay chunks still in flight at slow sources are duplicated to faster ones.
- Playback: zones in priority order; high-zone bytes go only to reliable fast sources.

The steps live in ``workbench`` (the working model), ``stealing`` and ``overlay``; this module
orders them: bind ready sources, fill overlay queues, then decide negotiations.
"""
from __future__ import annotations

import math

from .decisions import (
    OVERLAY,
    SOULSEEK,
    Cancel,
    Decision,
    Negotiate,
    Rebalance,
    Release,
)
from .extending import ExtendPlanner
from .overlay import OverlayPlanner
from .planning import pending_in
from .range_map import ByteState
from .snapshot import SchedulerConfig, SourceView, SwarmSnapshot
from .zones import Zone

# An overlay peer silent this long on the chunk it is serving holds its queued chunks back
# from everyone: they are handed back before the stall verdict (which takes a whole window).
QUEUE_SILENCE_S = 2.0
# ... or this long once its silence put it far below its usual rate: waiting the full 2 s left
# its queue to be raced a chunk at a time, each race a Soulseek negotiation.
QUEUE_SILENCE_MIN_S = 0.5


def plan(snapshot: SwarmSnapshot, config: SchedulerConfig) -> list[Decision]:
    """Decisions for this moment; an empty list means: keep going."""
    return _Planner(snapshot, config).run()


class _Planner(ExtendPlanner, OverlayPlanner):
    def run(self) -> list[Decision]:
        self._drop_long_queues()
        for v in self._by_cost(s for s in self.s.sources if s.kind == SOULSEEK
                               and s.state == "ready"):
            self._bind_ready(v)
        self._extend_streams()
        for v in self._by_cost(s for s in self.s.sources if s.kind == OVERLAY):
            if self._usable(v) and v.state != "dead" and not self._queue_stalled(v):
                self._fill_overlay(v)
        self._negotiate()
        if self.playback and self.config.pull_to_play_head:
            self._pull_to_play_head()
        if self.zones.critical and self.decisions:
            buf = self.zones.buffer_seconds or 0.0
            self.decisions.insert(0, Rebalance(
                f"rescue: buffer {buf:.1f} s below {self.zones.config.critical_buffer_seconds:g} s",
                rescue=True))
        if self.rebalance_notes:
            self.decisions.insert(0, Rebalance("; ".join(self.rebalance_notes)))
        return self.decisions

    def _drop_long_queues(self) -> None:
        for v in self.s.sources:
            if v.state in ("negotiating", "queued") and v.verdict:
                self.decisions.append(Cancel(v.source_id, 0, 0, v.verdict))
            elif v.kind == OVERLAY and len(v.requests) > 1 and self._queue_stalled(v):
                # Silence counts from the source's last byte on any chunk: right after a chunk
                # completes, the next one has no byte yet and only its request time (maybe
                # seconds ago, it waited in the queue), which is no evidence of a stall.
                # Chunks queued behind a stalled one would wait forever: hand them back. The
                # stalled one keeps running until someone races it.
                for r in v.requests[1:]:
                    why = v.verdict or "no data for a while"
                    self._hand_back(v, r, f"queued behind a stalled chunk ({why})")

    def _queue_stalled(self, v: SourceView) -> bool:
        """An overlay peer whose chunk in service has gone silent: its queue is handed back
        and it gets no new chunks (they would wait behind the silent one)."""
        if not v.requests:
            return False
        silence = self._silence(v)
        return bool(v.verdict) or silence > QUEUE_SILENCE_S or (
            v.degraded and silence > QUEUE_SILENCE_MIN_S)

    def _bind_ready(self, v: SourceView) -> None:
        if not self._usable(v):
            self.decisions.append(Release(v.source_id, "quarantined: other sources exist"))
            return
        binder = self._binder(v, self.now + v.first_byte_delay)
        take = self._soulseek_take(v, binder)
        if take is None:
            self.decisions.append(Release(v.source_id, "nothing left worth a new range"))
            return
        self._emit(v, take)
        self._apply(v, binder, take, virtual=False)

    def _negotiate(self) -> None:
        """Plan the sources already negotiating, then decide which idle ones should join."""
        # A source far overdue (most likely waiting in the peer's queue) gets no planned share:
        # work held for it would keep others from taking it.
        for v in sorted((s for s in self.s.sources if s.kind == SOULSEEK
                         and s.state in ("negotiating", "queued") and not s.verdict
                         and s.ready_at is not None),
                        key=lambda s: (s.ready_at, s.source_id)):
            ready = v.ready_at if v.ready_at is not None else self.now
            binder = self._binder(v, max(ready, self.now) + v.first_byte_delay, True)
            take = self._soulseek_take(v, binder)
            if take is not None:
                self._apply(v, binder, take, virtual=True)
        # The fairness cap counts upload slots we hold (ready or streaming); waiting in a
        # peer's queue holds none, so negotiations have their own allowance of the same size.
        # An underperforming transfer does not count: the cap must not stop its replacement.
        transferring = sum(1 for s in self.s.sources if s.kind == SOULSEEK
                           and s.state in ("ready", "streaming") and not s.verdict)
        waiting = sum(1 for s in self.s.sources if s.kind == SOULSEEK
                      and s.state in ("negotiating", "queued"))
        active = max(transferring, waiting)
        cap = self.limits.max_soulseek_sources
        if self.zones.relax_fairness:
            cap = len(self.s.sources)
        for v in self._by_cost(s for s in self.s.sources if s.kind == SOULSEEK
                               and s.state == "idle"):
            if active >= cap or not self._usable(v):
                continue

            binder = self._binder(v, self.now + v.start_delay, True)
            take = self._soulseek_take(v, binder)
            if take is not None:
                self.decisions.append(Negotiate(v.source_id, take.reason))
                self._apply(v, binder, take, virtual=True)
                active += 1
            elif v.fresh and self._worth_fanning_out(active):
                # A source never asked yet: its rate is only a guess, and asking costs little
                # (a ready source with nothing worth taking is released). What it takes is
                # decided when it is ready, with measured rates.
                self.decisions.append(Negotiate(v.source_id, "fan out: rate not known yet"))
                active += 1

    def _pull_to_play_head(self) -> None:
        """Bytes next to the play head will come late while a Soulseek source streams other
        zones: close that stream and negotiate again, when that gets the bytes sooner even
        after the negotiation. Zones are priorities, and nobody else can help: binders are idle
        sources, and a stream cannot jump back.

        Two cases: the bytes are pending (a seek landed where nobody fetches, and every source
        streams elsewhere: without a pull they wait until the first eligible stream ends), or a
        source slower than guessed holds them (the pulled source splits or races its range)."""
        high = self.zones.spans[0]
        if high.zone != Zone.HIGH:
            return
        gaps = pending_in(self.rm.pending(), high.start, high.end)
        if not gaps and not any(r.end > high.start and r.remaining(high.end) > 0
                                for r in self.runs):
            return
        streams = [v for v in self.s.sources if v.kind == SOULSEEK and v.state == "streaming"
                   and v.rate_live and not v.verdict and self._usable(v)
                   and self._eligible(v, self._rate(v), Zone.HIGH)]
        owned = {v.source_id: [r for r in self.runs if r.source_id == v.source_id]
                 for v in streams}
        # Without a pull, pending bytes wait for the first eligible stream to end (its last
        # run: a stream may run on over several) and negotiate again.
        free_at = min((max(self._fin(r, r.end) for r in owned[v.source_id]) + v.start_delay
                       for v in streams if owned[v.source_id]), default=math.inf)
        for v in sorted(streams, key=lambda v: (-self._rate(v), v.source_id)):
            own = owned[v.source_id]
            if not own or len(v.requests) != 1 or any(
                    r.position < high.end and r.end > high.start for r in own):
                continue
            binder = self._binder(v, self.now + v.start_delay, True)
            if gaps:
                if binder.starts_at + self.config.min_gain_seconds >= free_at:
                    continue  # the first stream to end gets there about as soon
                take = self._soulseek_take(v, binder)
                if take is None or take.kind != "assign" or take.start >= high.end:
                    continue
            else:
                take = self._steal_in(binder, high, soulseek=True)
                if take is None or take.kind == "assign":
                    continue
            req = v.requests[0]
            self.decisions.append(Cancel(v.source_id, req.position, req.end,
                                         "pulled to the bytes next to the play head"))
            for r in own:
                self.rm.release(v.source_id, r.owned_from, r.end)
                self.runs.remove(r)
            self.decisions.append(Negotiate(v.source_id, take.reason))
            self._apply(v, binder, take, virtual=True)
            return  # one at a time: the next plan sees what this one changed

    def _worth_fanning_out(self, active: int) -> bool:
        left = self.rm.bytes_in(ByteState.PENDING) + self.rm.bytes_in(ByteState.IN_FLIGHT)
        return left >= (active + 1) * self.config.min_steal_bytes

