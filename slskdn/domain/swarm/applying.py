"""Applying the scheduler's decisions: to the transport, the byte map and the transfers
(a mixin of ``SwarmSession``, which owns the state declared below)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .decisions import (
    Assign,
    Cancel,
    Decision,
    Duplicate,
    Extend,
    Negotiate,
    Observation,
    RangeServed,
    Rebalance,
    Release,
    Steal,
    TransferTimedOut,
)
from .ports import RangeTransport
from .range_map import RangeMap
from .reputation import Outcome, ReputationBook
from .tracking import SourceRuntime, Transfer

if TYPE_CHECKING:
    from .session import SessionConfig


class Applying:
    """Needs the session's state and helpers, declared here for the type checker."""

    if TYPE_CHECKING:
        config: SessionConfig
        transport: RangeTransport
        range_map: RangeMap
        reputations: ReputationBook
        sources: dict[str, SourceRuntime]
        transfers: dict[int, Transfer]
        _rescue: bool
        _replan: bool

        def _log(self, now: float, d: Decision) -> None: ...
        def _observe(self, o: Observation) -> None: ...
        def _peer(self, source_id: str) -> str: ...
        def _spot_on_release(self, source_id: str, now: float) -> bool: ...

    def _apply(self, d: Decision, now: float) -> None:
        match d:
            case Negotiate(source_id=sid):
                src = self.sources[sid]
                src.state, src.negotiation_started = "negotiating", now
                src.negotiations += 1
                self.transport.negotiate(sid)
            case Assign(source_id=sid, start=start, end=end):
                self._assign_pending(sid, start, end)
                self._request(sid, start, end, now)
            case Steal():
                thief_end = min(d.end, d.victim_end)
                self.range_map.steal(d.victim_id, d.victim_end, d.new_end, d.thief_id, thief_end)
                self._assign_pending(d.thief_id, thief_end, d.end)  # streams on past the victim
                victim = self._transfer_ending(d.victim_id, d.victim_end)
                if victim is not None:
                    victim.end = d.new_end
                    self.transport.set_end(victim.request_id, d.new_end)
                self._request(d.thief_id, d.start, d.end, now)
            case Extend(source_id=sid, start=start, end=end):
                t = next((t for t in self.sources[sid].transfers.values()
                          if t.duplicate_of is None and not t.verify_only and t.end == start),
                         None)
                if t is None:
                    return
                t.end = end
                self._assign_pending(sid, start, end)
                self.transport.set_end(t.request_id, end)
            case Duplicate(source_id=sid, of_source_id=of, start=start, end=end,
                           healthy=healthy):
                victim = self._transfer_ending(of, end) or next(
                    (t for t in self.sources[of].transfers.values() if t.start <= start < t.end),
                    None)
                if victim is not None:
                    self._assign_pending(sid, victim.end, end)
                racer = self._request(sid, start, end, now)
                racer.duplicate_of, racer.races_healthy = of, healthy
                racer.races = victim.request_id if victim is not None else None
            case Cancel(source_id=sid, start=start, end=end):
                src = self.sources[sid]
                if start == end and src.state in ("negotiating", "queued"):
                    self.transport.release(sid)
                    src.state = "idle"
                    src.backoff_until = now + self.config.failure_backoff_s
                else:
                    for t in list(src.transfers.values()):
                        if t.start < end and start < t.end:
                            self.transport.cancel(t.request_id, t.position)
                            src.stream_closed(t, now, self.config.scheduler.block_size,
                                              self.config.failure_backoff_s)
                            self._drop(t)
                    if d.backoff:
                        # Found far below its usual rate before a stall verdict could be
                        # reached: it is underperforming, and recorded as such.
                        src.backoff_until = now + self.config.failure_backoff_s
                        self._observe(TransferTimedOut(self._peer(sid), now))
                        self.reputations.record(self._peer(sid), Outcome.TIMEOUT, now)
                        self._log(now, Rebalance(f"{sid} underperforming: far below its "
                                                 f"usual rate"))
                    if not src.transfers:
                        self._replan = True  # it is free: it may take other work now
            case Release(source_id=sid):
                if self._spot_on_release(sid, now):
                    return
                self.transport.release(sid)
                self.sources[sid].state = "idle"
            case Rebalance(rescue=True):
                if self._rescue:
                    return  # RescueModeActivated is an event only when rescue starts
                self._rescue = True
        self._log(now, d)

    def _reclaim(self) -> None:
        """Pending bytes inside a running transfer's remaining range (invalidated after a
        conviction, or given back by a cut overlap) are that transfer's: its stream passes
        over them anyway."""
        for t in self.transfers.values():
            if t.duplicate_of is None and not t.verify_only and t.position < t.end:
                self._assign_pending(t.source_id, t.position, t.end)

    def _assign_pending(self, source_id: str, start: int, end: int) -> None:
        for g0, g1 in self.range_map.pending():
            if g0 < end and g1 > start:
                self.range_map.assign(max(g0, start), min(g1, end), source_id)

    def _request(self, source_id: str, start: int, end: int, now: float) -> Transfer:
        alone = not self.sources[source_id].transfers
        rid = self.transport.request(source_id, start, end)
        t = Transfer(rid, source_id, start, end, now, alone=alone)
        self.transfers[rid] = t
        src = self.sources[source_id]
        src.transfers[rid] = t
        src.state = "streaming"
        return t

    def _transfer_ending(self, source_id: str, end: int) -> Transfer | None:
        for t in self.sources[source_id].transfers.values():
            if t.duplicate_of is None and t.start < end <= t.end:
                return t
        return None

    def _drop(self, t: Transfer) -> None:
        """Forget a closed transfer; bytes it owned but did not deliver go back to pending."""
        if t.sample_bytes:  # every delivered byte is reported, also from a cut transfer
            self._observe(RangeServed(self._peer(t.source_id), t.position - t.sample_bytes,
                                      t.sample_bytes, t.progress_at - t.sample_since,
                                      t.progress_at))
            t.sample_bytes = 0
        self.transfers.pop(t.request_id, None)
        src = self.sources[t.source_id]
        src.transfers.pop(t.request_id, None)
        if t.position < t.end and not t.verify_only:
            self.range_map.release(t.source_id, t.position, t.end)
        if not src.transfers and src.state == "streaming":
            src.state = "idle"

