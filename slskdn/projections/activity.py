"""Activity counts per job and per peer: the first read model, and the framework's proof."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any, ClassVar

import sqlalchemy as sa

from slskdn.domain.job import Job
from slskdn.domain.peer import Peer
from slskdn.domain.transfer import Transfer
from slskdn.projections.framework import Projection
from slskdn.projections.rows import upsert

metadata = sa.MetaData()

job_activity = sa.Table(
    "proj_job_activity",
    metadata,
    sa.Column("job_id", sa.String(36), primary_key=True),
    sa.Column("kind", sa.String(20), nullable=True),
    sa.Column("status", sa.String(20), nullable=True),
    sa.Column("events", sa.Integer, nullable=False),
    sa.Column("tracks", sa.Integer, nullable=False),
    sa.Column("transfers", sa.Integer, nullable=False),
    sa.Column("ranges_received", sa.Integer, nullable=False),
    sa.Column("ranges_failed", sa.Integer, nullable=False),
    sa.Column("bytes_received", sa.BigInteger, nullable=False),
)

peer_activity = sa.Table(
    "proj_peer_activity",
    metadata,
    sa.Column("peer_id", sa.String(36), primary_key=True),
    sa.Column("username", sa.String(200), nullable=True),
    sa.Column("events", sa.Integer, nullable=False),
    sa.Column("ranges_served", sa.Integer, nullable=False),
    sa.Column("bytes_served", sa.BigInteger, nullable=False),
    sa.Column("errors", sa.Integer, nullable=False),
    sa.Column("timeouts", sa.Integer, nullable=False),
    sa.Column("cancellations", sa.Integer, nullable=False),
    sa.Column("corrupt_ranges", sa.Integer, nullable=False),
)

_JOB_STATUS = {
    Job.Created: "created",
    Job.Started: "running",
    Job.Completed: "completed",
    Job.Failed: "failed",
    Job.Cancelled: "cancelled",
}
_PEER_COUNTER = {
    Peer.ErrorObserved: "errors",
    Peer.TimedOut: "timeouts",
    Peer.CancelledByPeer: "cancellations",
    Peer.CorruptDataSent: "corrupt_ranges",
}


class ActivityProjection(Projection):
    name: ClassVar[str] = "activity"
    version: ClassVar[int] = 1
    metadata: ClassVar[sa.MetaData] = metadata
    reads: ClassVar[tuple[type, ...]] = (
        Job.Created,
        Job.Started,
        Job.TrackAdded,
        Job.Completed,
        Job.Failed,
        Job.Cancelled,
        Transfer.Created,
        Transfer.RangeReceived,
        Transfer.RangeFailed,
        Transfer.RangeTimedOut,
        Peer.Created,
        Peer.RangeServed,
        Peer.RttSampled,
        Peer.ErrorObserved,
        Peer.TimedOut,
        Peer.CancelledByPeer,
        Peer.CorruptDataSent,
    )

    def apply(self, conn: sa.Connection, events: Sequence[Any]) -> None:
        jobs: dict[str, tuple[dict[str, int], dict[str, Any]]] = defaultdict(
            lambda: (defaultdict(int), {})
        )
        peers: dict[str, tuple[dict[str, int], dict[str, Any]]] = defaultdict(
            lambda: (defaultdict(int), {})
        )
        for event in events:
            if isinstance(event, Job.Event):
                deltas, sets = jobs[str(event.originator_id)]
                deltas["events"] += 1
                if isinstance(event, Job.Created):
                    sets["kind"] = event.kind
                if type(event) in _JOB_STATUS:
                    sets["status"] = _JOB_STATUS[type(event)]
                if isinstance(event, Job.TrackAdded):
                    deltas["tracks"] += 1
            elif isinstance(event, Transfer.Event):
                job_id = getattr(event, "job_id", None)
                if job_id is None:
                    continue
                deltas, _ = jobs[str(job_id)]
                deltas["events"] += 1
                if isinstance(event, Transfer.Created):
                    deltas["transfers"] += 1
                elif isinstance(event, Transfer.RangeReceived):
                    deltas["ranges_received"] += 1
                    deltas["bytes_received"] += event.bytes
                else:
                    deltas["ranges_failed"] += 1
            elif isinstance(event, Peer.Event):
                deltas, sets = peers[str(event.originator_id)]
                deltas["events"] += 1
                if isinstance(event, Peer.Created):
                    sets["username"] = event.username
                elif isinstance(event, Peer.RangeServed):
                    deltas["ranges_served"] += 1
                    deltas["bytes_served"] += event.bytes
                elif type(event) in _PEER_COUNTER:
                    deltas[_PEER_COUNTER[type(event)]] += 1
        upsert(conn, job_activity, "job_id", jobs)
        upsert(conn, peer_activity, "peer_id", peers)


def rows(conn: sa.Connection) -> dict[str, list[dict[str, Any]]]:
    """Both tables as sorted plain rows (for the CLI and for comparisons in tests)."""
    return {
        "jobs": [
            dict(r) for r in conn.execute(sa.select(job_activity).order_by("job_id")).mappings()
        ],
        "peers": [
            dict(r) for r in conn.execute(sa.select(peer_activity).order_by("peer_id")).mappings()
        ],
    }
