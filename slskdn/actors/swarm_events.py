"""What a swarm session's decisions and observations become in the event log.

Pure translation: each decision or observation of ``domain.swarm`` maps to commands on the
Transfer aggregate (range requested / received / failed, rebalanced, rescue, underperforming)
and on the Peer aggregate (the observations metrics and reputation are built from).
Negotiate and Release are transport actions, not facts about the file, and are not recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from slskdn.domain.peer import Peer
from slskdn.domain.swarm import decisions as d
from slskdn.domain.transfer import Transfer


@dataclass(frozen=True)
class SourcePeer:
    """Who stands behind a swarm source id."""

    peer_id: UUID
    username: str
    kind: str


@dataclass(frozen=True)
class Write:
    """One command for the actor system: ``method(aggregate, **kwargs)``."""

    aggregate_id: UUID
    method: Callable[..., Any]
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    create: Callable[..., Any] | None = None


def ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


class SwarmRecorder:
    """Turns one transfer's swarm activity into Writes."""

    def __init__(self, transfer_id: UUID, sources: Mapping[str, SourcePeer]) -> None:
        self.transfer_id = transfer_id
        self.sources = dict(sources)
        self.by_peer = {str(p.peer_id): p for p in sources.values()}
        self._underperforming: dict[str, str] = {}

    def _peer_write(self, peer: str, method: Callable[..., Any], **kwargs: Any) -> Write:
        p = self.by_peer[peer]
        create = _peer_creator(p.username, p.kind)
        return Write(p.peer_id, method, kwargs, create)

    def _transfer(self, method: Callable[..., Any], **kwargs: Any) -> Write:
        return Write(self.transfer_id, method, kwargs)

    def decision(self, decision: d.Decision) -> list[Write]:
        t = self._transfer
        match decision:
            case (d.Assign(source_id=s, start=a, end=b) | d.Duplicate(source_id=s, start=a, end=b)
                  | d.Extend(source_id=s, start=a, end=b)):
                return [t(Transfer.request_range, peer_id=self._pid(s), offset=a, length=b - a)]
            case d.Steal():
                move = {
                    "from_peer": self._pid(decision.victim_id),
                    "to_peer": self._pid(decision.thief_id),
                    "offset": decision.start,
                    "end": decision.end,
                }
                return [
                    t(Transfer.rebalance, reason=decision.reason, moves=[move]),
                    t(Transfer.request_range, peer_id=self._pid(decision.thief_id),
                      offset=decision.start, length=decision.end - decision.start),
                ]  # fmt: skip
            case d.Cancel():
                move = {"cancel_peer": self._pid(decision.source_id), "offset": decision.start,
                        "end": decision.end}  # fmt: skip
                return [t(Transfer.rebalance, reason=decision.reason, moves=[move])]
            case d.Rebalance(reason=reason, rescue=rescue):
                if "underperforming:" in reason:
                    source, _, why = reason.partition(" underperforming: ")
                    self._underperforming[source] = why
                if rescue:
                    return [t(Transfer.activate_rescue, reason=reason)]
                return [t(Transfer.rebalance, reason=reason, moves=[])]
        return []

    def observation(self, o: d.Observation) -> list[Write]:
        t, p = self._transfer, self._peer_write
        match o:
            case d.RangeServed() if o.size > 0:
                return [
                    t(Transfer.receive_range, peer_id=o.peer_id, offset=o.start, length=o.size,
                      duration_ms=ms(o.duration)),
                    p(o.peer_id, Peer.record_range_served, bytes=o.size, duration_ms=ms(o.duration),
                      transfer_id=self.transfer_id),
                ]  # fmt: skip
            case d.RangeCompleted():
                return [p(o.peer_id, Peer.record_range_completed, offset=o.start,
                          length=o.end - o.start, transfer_id=self.transfer_id)]  # fmt: skip
            case d.RttSampled():
                return [p(o.peer_id, Peer.record_rtt, rtt_ms=o.rtt * 1000)]
            case d.NegotiationTimed():
                return [p(o.peer_id, Peer.record_negotiation, duration_ms=ms(o.duration))]
            case d.QueuedByPeer():
                return [t(Transfer.report_queued, peer_id=o.peer_id, place=o.place)]
            case d.TransferErrored():
                return [
                    t(Transfer.fail_range, peer_id=o.peer_id, offset=0, error_code="error",
                      reason=o.reason),
                    p(o.peer_id, Peer.record_error, error_code="transfer", reason=o.reason),
                ]  # fmt: skip
            case d.TransferTimedOut():
                source = self._source_of(o.peer_id)
                why = self._underperforming.pop(source, "underperforming")
                return [
                    t(Transfer.report_underperforming, peer_id=o.peer_id, offset=0, reason=why),
                    p(o.peer_id, Peer.record_timeout, waited_ms=0),
                ]
            case d.CancelledByPeer():
                return [p(o.peer_id, Peer.record_cancelled, reason="closed by peer")]
            case d.CorruptRangeFound():
                return [
                    t(Transfer.fail_range, peer_id=o.peer_id, offset=o.start, error_code="corrupt",
                      reason="bytes differ from the verified content", length=o.end - o.start),
                    p(o.peer_id, Peer.record_corrupt, offset=o.start, length=o.end - o.start,
                      transfer_id=self.transfer_id),
                ]  # fmt: skip
        return []

    def _pid(self, source_id: str) -> str:
        return str(self.sources[source_id].peer_id)

    def _source_of(self, peer_id: str) -> str:
        for source_id, p in self.sources.items():
            if str(p.peer_id) == peer_id:
                return source_id
        return peer_id


def _peer_creator(username: str, kind: str) -> Callable[..., Any]:
    return lambda id, at: Peer.create(id=id, at=at, username=username, source_kind=kind)
