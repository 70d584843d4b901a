"""Overlay sources: a libtorrent-style queue of fixed chunks, stolen from the backs of slower
ranges, and end-game races of the last chunks."""

from __future__ import annotations

from .decisions import Cancel
from .planning import (
    Binder,
    Run,
    Take,
    pending_in,
)
from .range_map import ByteState, align_down, align_up
from .snapshot import RequestView, SourceView
from .workbench import Workbench
from .zones import Zone, ZoneSpan

# A queue measured to hold more than this × its target (sized on a rate guessed too high) hands
# its back chunks to others; the slack keeps the queue from being trimmed and refilled in turn.
QUEUE_TRIM_FACTOR = 2.0
# ... judged only on a peer that sent something this recently.
TRIM_QUIET_S = 0.5


class OverlayPlanner(Workbench):
    def _fill_overlay(self, v: SourceView) -> None:
        rate = max(self._rate(v), 1.0)
        queued = sum(max(0, r.end - r.position) for r in v.requests)
        count = len(v.requests)
        # libtorrent's queue: enough requests to cover the round trip many times over
        # (queue seconds × rate). But never more than the source's fair share of what is left,
        # or one fast overlay peer would queue up a whole small file and starve the others.
        left = self.rm.bytes_in(ByteState.PENDING) + self.rm.bytes_in(ByteState.IN_FLIGHT)
        total = sum(self._rate(s) for s in self.s.sources if self._usable(s)) or rate
        target = max(self.config.overlay_chunk,
                     min(self.limits.overlay_queue_seconds * rate, left * rate / total))
        if self.playback and self._eligible(v, rate, Zone.HIGH):
            high = self.zones.spans[0]
            if high.zone == Zone.HIGH:
                # The queue is served in order: what it holds delays every chunk behind it.
                # Next to the play head it holds no more than this source's fair share of the
                # zone, and nothing of later zones that has not started yet.
                kept = self._drop_behind(v, high)
                queued = sum(max(0, r.end - r.position) for r in kept)
                count = len(kept)
                open_high = sum(seg.end - seg.start
                                for seg in self.rm.iter_segments(high.start, high.end)
                                if seg.state < ByteState.RECEIVED)
                if open_high:
                    target = max(self.zones.chunk_size(Zone.HIGH),
                                 min(target, open_high * rate / total))
        if v.rate_measured and not self._quiet(v) and queued > QUEUE_TRIM_FACTOR * target:
            kept = self._trim_queue(v, target)
            queued = sum(max(0, r.end - r.position) for r in kept)
            count = len(kept)
        while queued < target and count < self.config.max_overlay_requests:
            binder = self._binder(v, self.now + v.first_byte_delay + queued / rate)
            take = self._overlay_take(v, binder)
            if take is None:
                return
            self._emit(v, take)
            self._apply(v, binder, take, virtual=False)
            queued += take.end - take.start
            count += 1

    def _silence(self, v: SourceView) -> float:
        """Seconds since the peer's last byte on any chunk (or since its latest request)."""
        return self.now - max([v.data_at or 0.0, *(r.progress_at for r in v.requests)])

    def _quiet(self, v: SourceView) -> bool:
        """Silent for a moment: its live rate says more about the silence than about its
        pace, and silence has its own rules (the queue is handed back once it lasts)."""
        return self._silence(v) > TRIM_QUIET_S

    def _trim_queue(self, v: SourceView, target: float) -> list[RequestView]:
        """Hand back queued chunks (not started) from the back of a queue sized on a rate the
        peer does not reach: they would hold bytes others fetch sooner, often the file's last
        ones. Returns the requests kept."""
        kept = list(v.requests)
        queued = sum(max(0, r.end - r.position) for r in kept)
        for r in reversed(v.requests[1:]):
            if queued - (r.end - r.position) < target:
                break  # keep a full queue: below its target it would be refilled at once
            if r.first_byte_at is not None or r.duplicate_of is not None:
                continue
            self._hand_back(v, r, "queued beyond what it serves soon at its measured rate")
            kept.remove(r)
            queued -= r.end - r.position
        return kept

    def _hand_back(self, v: SourceView, r: RequestView, reason: str) -> None:
        self.decisions.append(Cancel(v.source_id, r.position, r.end, reason))
        self.rm.release(v.source_id, r.position, r.end)
        self.runs = [x for x in self.runs if not (
            x.source_id == v.source_id and r.position <= x.position < r.end)]

    def _drop_behind(self, v: SourceView, high: ZoneSpan) -> list[RequestView]:
        """Cancel queued chunks outside the high zone that have not started while high-zone
        bytes are still pending (cheap on overlay: a request costs a round trip). Returns the
        requests kept."""
        if not pending_in(self.rm.pending(), high.start, high.end):
            return list(v.requests)
        kept = list(v.requests[:1])
        for r in v.requests[1:]:
            if (r.first_byte_at is not None or r.duplicate_of is not None
                    or high.start <= r.position < high.end):
                kept.append(r)
                continue
            self._hand_back(v, r, "queued ahead of bytes next to the play head")
        return kept

    def _overlay_take(self, v: SourceView, binder: Binder) -> Take | None:
        block = self.config.block_size
        for span in self.zones.spans:
            if not self._eligible(v, binder.rate, span.zone):
                continue
            chunk = self.zones.chunk_size(span.zone) if self.playback else self.config.overlay_chunk
            gaps = pending_in(self.rm.pending(), span.start, span.end)
            if gaps:
                if self.playback:
                    g0, g1 = min(gaps)
                    end = min(g1, max(align_down(g0 + chunk, block), g0 + 1))
                    return Take("assign", g0, end, reason="pending chunk near the play head")
                g0, g1 = max(gaps, key=lambda g: (g[1] - g[0], g))
                start = max(g0, min(align_down(g1 - chunk, block), g1 - 1))
                return Take("assign", start, g1, reason="pending chunk")
            take = self._overlay_steal(binder, span, chunk)
            if take is not None:
                return take
        return None

    def _overlay_steal(self, binder: Binder, span: ZoneSpan, chunk: int) -> Take | None:
        victims = [r for r in self._victims(binder, span, soulseek=False) if not r.virtual]
        if not victims:
            return None
        victim = max(victims, key=lambda r: (r.finish(span.end), r.source_id))
        done_at = binder.starts_at + chunk / binder.rate
        block = self.config.block_size
        zone_end = min(victim.end, span.end)
        earliest = max(victim.owned_from, align_up(victim.position + block, block, victim.end))
        new_end = max(align_down(zone_end - chunk, block), earliest)
        # Worth it when the chunk arrives before the victim would reach it: no negotiation is
        # paid, so even one chunk that arrives sooner shortens the victim's range for free.
        reach = Run(victim.source_id, victim.kind, victim.position, new_end, victim.owned_from,
                    victim.rate, victim.starts_at, victim.verdict).finish()
        if new_end < zone_end and self._owns(victim, new_end, zone_end) and \
                done_at + self.config.min_gain_seconds < \
                victim.finish(span.end) and done_at < reach:
            return Take("steal", new_end, zone_end, victim.source_id, victim.end, new_end,
                        victim.finish(span.end) - done_at,
                        f"chunk from the back of {victim.source_id}'s range")
        if not self.limits.endgame or victim.duplicated:
            return None
        # End-game: a small range still in flight at a slower source is raced.
        left = victim.remaining()
        if left <= chunk and binder.starts_at + left / binder.rate < victim.finish() - \
                self._threshold(victim, span, binder):
            start = max(align_down(victim.position, block), victim.owned_from)
            if start < victim.end:
                return Take("duplicate", start, victim.end, victim.source_id, victim.end,
                            reason=f"end-game: race {victim.source_id}'s last bytes")
        return None

