"""Transfers and their sources: progress per transfer, and sources judged underperforming."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import sqlalchemy as sa

from slskdn.domain.transfer import Transfer
from slskdn.projections.framework import Projection
from slskdn.projections.rows import upsert

metadata = sa.MetaData()

transfers = sa.Table(
    "transfers",
    metadata,
    sa.Column("transfer_id", sa.String(36), primary_key=True),
    sa.Column("job_id", sa.String(36), nullable=True),
    sa.Column("filename", sa.Text, nullable=True),
    sa.Column("size_bytes", sa.BigInteger, nullable=True),
    sa.Column("status", sa.String(16), nullable=True),
    sa.Column("bytes_received", sa.BigInteger, nullable=False),
    sa.Column("sources", sa.Integer, nullable=False),
    sa.Column("rebalances", sa.Integer, nullable=False),
    sa.Column("rescue", sa.Boolean, nullable=True),
    sa.Column("sha256", sa.String(64), nullable=True),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("dest_path", sa.Text, nullable=True),
    sa.Column("resumes", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
)

underperforming = sa.Table(
    "transfer_underperforming",
    metadata,
    sa.Column("key", sa.String(80), primary_key=True),  # transfer id + peer id
    sa.Column("transfer_id", sa.String(36), nullable=True, index=True),
    sa.Column("peer_id", sa.String(36), nullable=True),
    sa.Column("offset", sa.BigInteger, nullable=True),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("waited_ms", sa.BigInteger, nullable=True),
    sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("open", sa.Boolean, nullable=True),
)


class TransfersProjection(Projection):
    name: ClassVar[str] = "transfers"
    version: ClassVar[int] = 2  # 2: destination and resumes
    metadata: ClassVar[sa.MetaData] = metadata
    reads: ClassVar[tuple[type, ...]] = (
        Transfer.Created,
        Transfer.SourcesAdded,
        Transfer.RangeReceived,
        Transfer.SourceUnderperforming,
        Transfer.Rebalanced,
        Transfer.RescueActivated,
        Transfer.RescueDeactivated,
        Transfer.DestinationChosen,
        Transfer.Resumed,
        Transfer.Completed,
        Transfer.Aborted,
    )

    def apply(self, conn: sa.Connection, events: Sequence[Any]) -> None:
        rows: dict[str, tuple[dict[str, int], dict[str, Any]]] = {}
        flags: dict[str, tuple[dict[str, int], dict[str, Any]]] = {}
        ended: list[str] = []
        for e in events:
            tid = str(e.originator_id)
            deltas, sets = rows.setdefault(tid, ({}, {}))
            sets["updated_at"] = e.timestamp
            if isinstance(e, Transfer.Created):
                sets.update(
                    job_id=str(e.job_id) if e.job_id else None, filename=e.filename,
                    size_bytes=e.size_bytes, status="active", rescue=False,
                )  # fmt: skip
            elif isinstance(e, Transfer.SourcesAdded):
                deltas["sources"] = deltas.get("sources", 0) + len(e.sources)
            elif isinstance(e, Transfer.RangeReceived):
                deltas["bytes_received"] = deltas.get("bytes_received", 0) + e.bytes
                # A source that delivers again has recovered.
                flags.setdefault(f"{tid}:{e.peer_id}", ({}, {}))[1]["open"] = False
            elif isinstance(e, Transfer.SourceUnderperforming):
                flags[f"{tid}:{e.peer_id}"] = (
                    {},
                    {
                        "transfer_id": tid, "peer_id": e.peer_id, "offset": e.offset,
                        "reason": e.reason, "waited_ms": e.duration_ms,
                        "reported_at": e.timestamp, "open": True,
                    },
                )  # fmt: skip
            elif isinstance(e, Transfer.DestinationChosen):
                sets["dest_path"] = e.dest_path
            elif isinstance(e, Transfer.Resumed):
                deltas["resumes"] = deltas.get("resumes", 0) + 1
            elif isinstance(e, Transfer.Rebalanced):
                deltas["rebalances"] = deltas.get("rebalances", 0) + 1
            elif isinstance(e, Transfer.RescueActivated | Transfer.RescueDeactivated):
                sets["rescue"] = isinstance(e, Transfer.RescueActivated)
            elif isinstance(e, Transfer.Completed):
                sets.update(status="completed", sha256=e.sha256)
                ended.append(tid)
            elif isinstance(e, Transfer.Aborted):
                sets.update(status="aborted", reason=e.reason)
                ended.append(tid)
        upsert(conn, transfers, "transfer_id", rows)
        # Only verdicts that exist (or are new in this batch) are closed by a later range.
        known = _existing(conn, [k for k, (_, s) in flags.items() if "reason" not in s])
        upsert(conn, underperforming, "key",
               {k: v for k, v in flags.items() if "reason" in v[1] or k in known})  # fmt: skip
        if ended:
            conn.execute(
                underperforming.update()
                .where(underperforming.c.transfer_id.in_(ended))
                .values(open=False)
            )


def _existing(conn: sa.Connection, keys: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(keys), 500):
        query = sa.select(underperforming.c.key).where(
            underperforming.c.key.in_(keys[start : start + 500])
        )
        found.update(r[0] for r in conn.execute(query))
    return found


def open_underperforming(conn: sa.Connection) -> list[dict[str, Any]]:
    t = underperforming
    query = (
        sa.select(t, transfers.c.filename)
        .join(transfers, transfers.c.transfer_id == t.c.transfer_id, isouter=True)
        .where(t.c.open.is_(True))
        .order_by(t.c.reported_at)
    )
    return [dict(r) for r in conn.execute(query).mappings()]
