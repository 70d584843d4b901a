"""Library health: one row per HealthIssue, for counts, filtered lists and `doctor show`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import sqlalchemy as sa

from slskdn.domain.health_issue import HealthIssue
from slskdn.projections.framework import Projection
from slskdn.projections.rows import upsert

metadata = sa.MetaData()

health_issues = sa.Table(
    "health_issues",
    metadata,
    sa.Column("issue_id", sa.String(36), primary_key=True),
    sa.Column("kind", sa.String(40), nullable=True, index=True),
    sa.Column("key", sa.Text, nullable=True),
    sa.Column("status", sa.String(16), nullable=True, index=True),
    sa.Column("severity", sa.String(8), nullable=True),
    sa.Column("path", sa.Text, nullable=True),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("artist", sa.Text, nullable=True),
    sa.Column("album", sa.Text, nullable=True),
    sa.Column("title", sa.Text, nullable=True),
    sa.Column("release_id", sa.String(36), nullable=True, index=True),
    sa.Column("recording_id", sa.String(36), nullable=True),
    sa.Column("disc", sa.Integer, nullable=True),
    sa.Column("track", sa.Integer, nullable=True),
    sa.Column("details", sa.JSON, nullable=True),
    sa.Column("note", sa.Text, nullable=True),
    sa.Column("job_id", sa.String(36), nullable=True),
    sa.Column("times_raised", sa.Integer, nullable=False),
    sa.Column("raised_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
)

SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}
SORT_KEYS = ("severity", "kind", "artist", "album", "path", "updated")


class HealthProjection(Projection):
    name: ClassVar[str] = "health"
    version: ClassVar[int] = 1
    metadata: ClassVar[sa.MetaData] = metadata
    reads: ClassVar[tuple[type, ...]] = (
        HealthIssue.Raised,
        HealthIssue.Updated,
        HealthIssue.Ignored,
        HealthIssue.Resolved,
        HealthIssue.Reraised,
        HealthIssue.Closed,
        HealthIssue.LinkedToJob,
    )

    def apply(self, conn: sa.Connection, events: Sequence[Any]) -> None:
        changes: dict[str, tuple[dict[str, int], dict[str, Any]]] = {}
        for e in events:
            deltas, sets = changes.setdefault(str(e.originator_id), ({}, {}))
            sets["updated_at"] = e.timestamp
            if isinstance(e, HealthIssue.Raised):
                subject = e.subject
                sets.update(
                    kind=e.kind, key=e.key, status="open", severity=e.severity, path=e.path,
                    reason=e.reason, details=e.details, raised_at=e.timestamp,
                    artist=subject.get("artist"), album=subject.get("album"),
                    title=subject.get("title"), release_id=subject.get("release_id"),
                    recording_id=subject.get("recording_id"), disc=subject.get("disc"),
                    track=subject.get("track"),
                )  # fmt: skip
                deltas["times_raised"] = deltas.get("times_raised", 0) + 1
            elif isinstance(e, HealthIssue.Updated):
                sets.update(severity=e.severity, reason=e.reason, details=e.details)
            elif isinstance(e, HealthIssue.Reraised):
                sets.update(status="open", severity=e.severity, reason=e.reason, details=e.details)
                deltas["times_raised"] = deltas.get("times_raised", 0) + 1
            elif isinstance(e, HealthIssue.Ignored | HealthIssue.Resolved | HealthIssue.Closed):
                status = {
                    HealthIssue.Ignored: "ignored",
                    HealthIssue.Resolved: "resolved",
                    HealthIssue.Closed: "closed",
                }[type(e)]
                sets.update(status=status, note=e.reason)
            elif isinstance(e, HealthIssue.LinkedToJob):
                sets["job_id"] = str(e.job_id)
        upsert(conn, health_issues, "issue_id", changes)


def issues(
    conn: sa.Connection,
    *,
    kind: str | None = None,
    artist: str | None = None,
    release: str | None = None,
    status: str | None = None,
    sort: str = "severity",
) -> list[dict[str, Any]]:
    """Issues filtered; by default the open ones. ``artist`` matches case-insensitively."""
    t = health_issues
    query = sa.select(t)
    if status != "all":
        query = query.where(t.c.status == (status or "open"))
    if kind:
        query = query.where(t.c.kind == kind)
    if release:
        query = query.where(t.c.release_id == release)
    if artist:
        query = query.where(sa.func.lower(t.c.artist).contains(artist.lower()))
    rows = [dict(r) for r in conn.execute(query).mappings()]
    keys: dict[str, Callable[[dict[str, Any]], Any]] = {
        "severity": lambda r: (SEVERITY_ORDER.get(r["severity"], 9), r["kind"], r["path"] or ""),
        "kind": lambda r: (r["kind"], r["path"] or ""),
        "artist": lambda r: (
            (r["artist"] or "").lower(),
            (r["album"] or "").lower(),
            r["path"] or "",
        ),
        "album": lambda r: ((r["album"] or "").lower(), r["disc"] or 0, r["track"] or 0),
        "path": lambda r: (r["path"] or "", r["disc"] or 0, r["track"] or 0),
        "updated": lambda r: str(r["updated_at"]),
    }
    rows.sort(key=keys[sort])
    if sort == "updated":
        rows.reverse()
    return rows


def counts(conn: sa.Connection, status: str = "open") -> dict[str, int]:
    t = health_issues
    query = sa.select(t.c.kind, sa.func.count()).where(t.c.status == status).group_by(t.c.kind)
    return {kind: n for kind, n in conn.execute(query)}


def find(conn: sa.Connection, prefix: str) -> list[dict[str, Any]]:
    """Issues whose id starts with ``prefix`` (ids are long; people type the first 8)."""
    t = health_issues
    query = sa.select(t).where(t.c.issue_id.startswith(prefix.lower()))
    return [dict(r) for r in conn.execute(query.limit(2)).mappings()]


def in_scope(conn: sa.Connection, roots: Sequence[str]) -> list[dict[str, Any]]:
    """Issues that are not closed and whose path lies under one of ``roots``."""
    t = health_issues
    query = sa.select(t.c.issue_id, t.c.key, t.c.path, t.c.status).where(t.c.status != "closed")
    return [
        dict(r)
        for r in conn.execute(query).mappings()
        if any(
            r["path"] == root or (r["path"] or "").startswith(root.rstrip("/") + "/")
            for root in roots
        )
    ]
