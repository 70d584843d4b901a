"""The library read model: one row per local file with its latest analysis, and the
canonical statistics computed from those rows.

Canonical stats are queries over ``library_files`` (indexed by recording and release)
rather than tables of their own: a re-analysed file would otherwise have to subtract its
old contribution, and the GROUP BYs are fast at library sizes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, ClassVar

import sqlalchemy as sa

from slskdn.domain.canonical import (
    CanonicalConstraints,
    Variant,
    bitrate_bucket,
    canonical_order,
    codec_profile,
)
from slskdn.domain.library_file import LibraryFile
from slskdn.projections.framework import Projection
from slskdn.projections.rows import upsert

metadata = sa.MetaData()

library_files = sa.Table(
    "library_files",
    metadata,
    sa.Column("file_id", sa.String(36), primary_key=True),
    sa.Column("path", sa.Text, nullable=True, index=True),
    sa.Column("status", sa.String(16), nullable=True),
    sa.Column("size_bytes", sa.BigInteger, nullable=True),
    sa.Column("mtime_ns", sa.BigInteger, nullable=True),
    sa.Column("analyser_version", sa.Integer, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("codec", sa.String(16), nullable=True),
    sa.Column("container", sa.String(16), nullable=True),
    sa.Column("lossless", sa.Boolean, nullable=True),
    sa.Column("bitrate_bps", sa.Integer, nullable=True),
    sa.Column("sample_rate", sa.Integer, nullable=True),
    sa.Column("bit_depth", sa.Integer, nullable=True),
    sa.Column("channels", sa.Integer, nullable=True),
    sa.Column("duration_ms", sa.Integer, nullable=True),
    sa.Column("encoder", sa.Text, nullable=True),
    sa.Column("codec_profile", sa.String(40), nullable=True),
    sa.Column("bitrate_bucket", sa.String(16), nullable=True),
    sa.Column("recording_id", sa.String(36), nullable=True, index=True),
    sa.Column("release_id", sa.String(36), nullable=True, index=True),
    sa.Column("release_group_id", sa.String(36), nullable=True),
    sa.Column("artist_id", sa.String(36), nullable=True),
    sa.Column("release_track_id", sa.String(36), nullable=True),
    sa.Column("label", sa.Text, nullable=True),
    sa.Column("artist", sa.Text, nullable=True),
    sa.Column("album", sa.Text, nullable=True),
    sa.Column("title", sa.Text, nullable=True),
    sa.Column("track_number", sa.Integer, nullable=True),
    sa.Column("track_total", sa.Integer, nullable=True),
    sa.Column("disc_number", sa.Integer, nullable=True),
    sa.Column("disc_total", sa.Integer, nullable=True),
    sa.Column("cutoff_hz", sa.Float, nullable=True),
    sa.Column("cutoff_kind", sa.String(16), nullable=True),
    sa.Column("upsampled_from_hz", sa.Integer, nullable=True),
    sa.Column("effective_bit_depth", sa.Integer, nullable=True),
    sa.Column("clipping_ratio", sa.Float, nullable=True),
    sa.Column("dynamic_range_db", sa.Float, nullable=True),
    sa.Column("transcode_suspect", sa.Boolean, nullable=True),
    sa.Column("transcode_reason", sa.Text, nullable=True),
    sa.Column("quality_score", sa.Float, nullable=True),
    sa.Column("fingerprint", sa.Text, nullable=True),
    sa.Column("problems", sa.Text, nullable=True),
)

_VARIANT_COLUMNS = {c.name for c in library_files.columns} - {"file_id"}
_CLEARED = {name: None for name in _VARIANT_COLUMNS - {"path", "status", "size_bytes", "mtime_ns"}}


class LibraryProjection(Projection):
    name: ClassVar[str] = "library"
    version: ClassVar[int] = 1
    metadata: ClassVar[sa.MetaData] = metadata
    reads: ClassVar[tuple[type, ...]] = (
        LibraryFile.Discovered,
        LibraryFile.Analysed,
        LibraryFile.Unreadable,
        LibraryFile.Removed,
    )

    def apply(self, conn: sa.Connection, events: Sequence[Any]) -> None:
        changes: dict[str, tuple[dict[str, int], dict[str, Any]]] = {}
        for event in events:
            _, sets = changes.setdefault(str(event.originator_id), ({}, {}))
            if isinstance(event, LibraryFile.Discovered):
                sets.update(path=event.path, status="new")
            elif isinstance(event, LibraryFile.Analysed):
                sets.update(_CLEARED)
                sets.update(_variant_columns(event.variant))
                sets.update(
                    status="ok",
                    size_bytes=event.size_bytes,
                    mtime_ns=event.mtime_ns,
                    analyser_version=event.analyser_version,
                    error=None,
                )
            elif isinstance(event, LibraryFile.Unreadable):
                sets.update(_CLEARED)
                sets.update(
                    status="unreadable",
                    size_bytes=event.size_bytes,
                    mtime_ns=event.mtime_ns,
                    analyser_version=event.analyser_version,
                    error=event.reason,
                )
            elif isinstance(event, LibraryFile.Removed):
                sets["status"] = "removed"
        upsert(conn, library_files, "file_id", changes)


def _variant_columns(variant: dict[str, Any]) -> dict[str, Any]:
    row = {k: v for k, v in variant.items() if k in _VARIANT_COLUMNS}
    row["problems"] = json.dumps(list(variant.get("problems") or []))
    if variant.get("codec") is not None:
        lossless = bool(variant.get("lossless"))
        row["codec_profile"] = codec_profile(
            variant["codec"],
            lossless,
            variant.get("sample_rate") or 0,
            variant.get("bit_depth"),
            variant.get("bitrate_bps"),
        )
        row["bitrate_bucket"] = bitrate_bucket(variant.get("bitrate_bps"), lossless)
    return row


# -- queries -------------------------------------------------------------------


def known_files(conn: sa.Connection) -> dict[str, tuple[int | None, int | None, int, str]]:
    """path → (size, mtime_ns, analyser_version, status) for the scan's skip decision."""
    t = library_files
    query = sa.select(t.c.path, t.c.size_bytes, t.c.mtime_ns, t.c.analyser_version, t.c.status)
    return {r[0]: (r[1], r[2], r[3] or 0, r[4] or "") for r in conn.execute(query)}


def file_rows(conn: sa.Connection, paths: Sequence[str] | None = None) -> list[dict[str, Any]]:
    t = library_files
    query = sa.select(t).where(t.c.status != "removed").order_by(t.c.path)
    rows = []
    wanted = set(paths) if paths is not None else None
    for row in conn.execute(query).mappings():
        if wanted is None or row["path"] in wanted:
            rows.append(dict(row))
    return rows


def verdict_counts(conn: sa.Connection, paths: set[str]) -> dict[str, int]:
    """Unreadable files, suspected transcodes and files without MBIDs among ``paths``."""
    t = library_files
    query = sa.select(t.c.path, t.c.status, t.c.transcode_suspect, t.c.recording_id)
    counts = {"unreadable": 0, "suspected_transcodes": 0, "without_mbids": 0}
    for path, status, suspect, recording_id in conn.execute(query):
        if path not in paths:
            continue
        counts["unreadable"] += status == "unreadable"
        counts["suspected_transcodes"] += bool(suspect)
        counts["without_mbids"] += status == "ok" and not recording_id
    return counts


def variants_of_recording(conn: sa.Connection, recording_id: str) -> list[Variant]:
    t = library_files
    query = sa.select(t).where(t.c.recording_id == recording_id, t.c.status == "ok")
    return [_variant(r) for r in conn.execute(query).mappings()]


def canonical_candidates(
    conn: sa.Connection, recording_id: str, constraints: CanonicalConstraints | None = None
) -> list[Variant]:
    """Local variants of a recording, best first (domain.canonical's order)."""
    return canonical_order(variants_of_recording(conn, recording_id), constraints)


def recording_stats(conn: sa.Connection, recording_id: str) -> list[dict[str, Any]]:
    """Per codec profile: variants, mean quality, share of suspected transcodes."""
    t = library_files
    query = (
        sa.select(
            t.c.codec_profile,
            sa.func.count().label("variants"),
            sa.func.avg(t.c.quality_score).label("mean_quality"),
            sa.func.avg(sa.case((t.c.transcode_suspect, 1.0), else_=0.0)).label("transcode_share"),
        )
        .where(t.c.recording_id == recording_id, t.c.status == "ok")
        .group_by(t.c.codec_profile)
        .order_by(t.c.codec_profile)
    )
    return [_rounded(dict(r)) for r in conn.execute(query).mappings()]


def release_stats(conn: sa.Connection, release_id: str) -> list[dict[str, Any]]:
    """Per (disc, track): variants, mean quality, transcode share, distinct codecs/buckets."""
    t = library_files
    query = (
        sa.select(t)
        .where(t.c.release_id == release_id, t.c.status == "ok")
        .order_by(t.c.disc_number, t.c.track_number, t.c.path)
    )
    tracks: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for row in conn.execute(query).mappings():
        key = (row["disc_number"] or 1, row["track_number"] or 0)
        tracks.setdefault(key, []).append(dict(row))
    out = []
    for (disc, track), rows in sorted(tracks.items()):
        out.append(
            {
                "disc": disc,
                "track": track,
                "recording_id": rows[0]["recording_id"],
                "title": rows[0]["title"],
                "variants": len(rows),
                "mean_quality": round(sum(r["quality_score"] or 0 for r in rows) / len(rows), 4),
                "transcode_share": round(
                    sum(bool(r["transcode_suspect"]) for r in rows) / len(rows), 4
                ),
                "codecs": sorted({r["codec"] for r in rows if r["codec"]}),
                "bitrate_buckets": sorted(
                    {r["bitrate_bucket"] for r in rows if r["bitrate_bucket"]}
                ),
            }
        )
    return out


def _variant(row: Any) -> Variant:
    return Variant(
        file_id=row["file_id"],
        path=row["path"],
        codec=row["codec"] or "",
        lossless=bool(row["lossless"]),
        sample_rate=row["sample_rate"] or 0,
        bit_depth=row["bit_depth"],
        bitrate_bps=row["bitrate_bps"],
        quality_score=row["quality_score"] or 0.0,
        transcode_suspect=bool(row["transcode_suspect"]),
    )


def _rounded(row: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}
