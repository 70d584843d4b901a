"""Peer metrics (C1) and local reputation (G1–G3) rebuilt from Peer events.

Each Peer event maps to one swarm observation; the pure folds of ``domain.swarm.metrics``
and ``domain.swarm.reputation`` turn them into a peer's state, stored as JSON with the time
of the last event. Decay to "now" happens when the row is read, so the stored state is a
pure function of the log (rebuild == incremental) and never goes stale.

Reputation is local: computed from what this node saw, never sent to anyone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar

import sqlalchemy as sa

from slskdn.domain.peer import Peer
from slskdn.domain.swarm import decisions as obs
from slskdn.domain.swarm.metrics import MetricsConfig, PeerMetrics, observe
from slskdn.domain.swarm.reputation import Outcome, Reputation, ReputationConfig, record
from slskdn.projections.framework import Projection
from slskdn.projections.rows import upsert

metadata = sa.MetaData()

peer_quality = sa.Table(
    "peer_quality",
    metadata,
    sa.Column("peer_id", sa.String(36), primary_key=True),
    sa.Column("username", sa.Text, nullable=True),
    sa.Column("source_kind", sa.String(16), nullable=True),
    sa.Column("metrics", sa.JSON, nullable=True),
    sa.Column("reputation", sa.JSON, nullable=True),
    sa.Column("last_event_at", sa.Float, nullable=True),
)

OUTCOMES: dict[type, Outcome] = {
    obs.RangeCompleted: Outcome.SUCCESS,
    obs.TransferErrored: Outcome.FAILURE,
    obs.TransferTimedOut: Outcome.TIMEOUT,
    obs.CancelledByPeer: Outcome.CANCELLED,
    obs.CorruptRangeFound: Outcome.CORRUPT,
}


def observation(event: Any) -> obs.Observation | None:
    """The swarm observation a Peer event records (None for Created)."""
    peer, at = str(event.originator_id), event.timestamp.timestamp()
    match event:
        case Peer.RangeServed():
            return obs.RangeServed(peer, 0, event.bytes, event.duration_ms / 1000, at)
        case Peer.RangeCompleted():
            return obs.RangeCompleted(peer, event.offset, event.offset + event.length, at)
        case Peer.RttSampled():
            return obs.RttSampled(peer, event.rtt_ms / 1000, at)
        case Peer.NegotiationTimed():
            return obs.NegotiationTimed(peer, event.duration_ms / 1000, at)
        case Peer.ErrorObserved():
            return obs.TransferErrored(peer, event.reason, at)
        case Peer.TimedOut():
            return obs.TransferTimedOut(peer, at)
        case Peer.CancelledByPeer():
            return obs.CancelledByPeer(peer, at)
        case Peer.CorruptDataSent():
            return obs.CorruptRangeFound(peer, event.offset, event.offset + event.length, at)
    return None


class PeerQualityProjection(Projection):
    name: ClassVar[str] = "peer_quality"
    version: ClassVar[int] = 1
    metadata: ClassVar[sa.MetaData] = metadata
    reads: ClassVar[tuple[type, ...]] = (
        Peer.Created,
        Peer.RangeServed,
        Peer.RangeCompleted,
        Peer.RttSampled,
        Peer.NegotiationTimed,
        Peer.ErrorObserved,
        Peer.TimedOut,
        Peer.CancelledByPeer,
        Peer.CorruptDataSent,
    )

    def __init__(
        self, metrics: MetricsConfig | None = None, reputation: ReputationConfig | None = None
    ) -> None:
        self.metrics_config = metrics or MetricsConfig()
        self.reputation_config = reputation or ReputationConfig()

    def apply(self, conn: sa.Connection, events: Sequence[Any]) -> None:
        ids = sorted({str(e.originator_id) for e in events})
        state: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), 500):
            query = sa.select(peer_quality).where(
                peer_quality.c.peer_id.in_(ids[start : start + 500])
            )
            for found in conn.execute(query).mappings():
                state[found["peer_id"]] = dict(found)
        for event in events:
            peer = str(event.originator_id)
            row = state.setdefault(peer, {"peer_id": peer, "metrics": None, "reputation": None})
            if isinstance(event, Peer.Created):
                row.update(username=event.username, source_kind=event.source_kind)
                continue
            o = observation(event)
            if o is None:
                continue
            metrics = PeerMetrics(**row["metrics"]) if row["metrics"] else PeerMetrics(peer)
            row["metrics"] = dataclasses.asdict(observe(metrics, o, self.metrics_config))
            outcome = OUTCOMES.get(type(o))
            if outcome is not None:
                rep = Reputation(**row["reputation"]) if row["reputation"] else Reputation(peer)
                updated = record(rep, outcome, o.at, self.reputation_config)
                row["reputation"] = dataclasses.asdict(updated)
            row["last_event_at"] = o.at
        upsert(conn, peer_quality, "peer_id", {p: ({}, r) for p, r in state.items()})


def peer_rows(
    conn: sa.Connection,
    now: datetime,
    metrics_config: MetricsConfig | None = None,
    reputation_config: ReputationConfig | None = None,
) -> list[dict[str, Any]]:
    """Every peer's metrics and reputation decayed to ``now``, worst reputation first."""
    mc = metrics_config or MetricsConfig()
    rc = reputation_config or ReputationConfig()
    at = now.timestamp()
    out = []
    for row in conn.execute(sa.select(peer_quality)).mappings():
        metrics = PeerMetrics(**row["metrics"]) if row["metrics"] else PeerMetrics(row["peer_id"])
        m = metrics.decayed(max(at, metrics.updated_at), mc)
        rep = Reputation(**row["reputation"]) if row["reputation"] else Reputation(row["peer_id"])
        r = rep.decayed(max(at, rep.updated_at), rc)
        out.append(
            {
                "peer_id": row["peer_id"],
                "username": row["username"],
                "source_kind": row["source_kind"],
                "rtt_ms": None if m.rtt is None else round(m.rtt * 1000, 1),
                "throughput_bps": None if m.throughput is None else round(m.throughput),
                "negotiation_ms": None if m.negotiation is None else round(m.negotiation * 1000),
                "bytes_served": m.bytes_served,
                "error_rate": round(m.error_rate, 4),
                "timeout_rate": round(m.timeout_rate, 4),
                "errors": round(m.errors, 3),
                "timeouts": round(m.timeouts, 3),
                "cancellations": round(m.cancellations, 3),
                "corrupt": round(m.corrupt, 3),
                "reputation": round(r.score(rc), 4),
                "quarantined": r.quarantined(rc),
                "reason": r.reason(rc),
                "last_seen": row["last_event_at"],
            }
        )
    out.sort(key=lambda p: (p["reputation"], p["username"] or ""))
    return out
