"""`doctor scan`: library scan → diagnosis → health issues raised, updated or closed.

Reuses the library scan (unchanged files are not re-analysed), reads the tracklists of the
tagged releases from the MusicBrainz cache (fetching missing ones only with
``fetch_missing``: without it the scan is offline), applies the pure rules of
``domain.diagnosis`` and reconciles the findings with the issues already known for the
scanned folders: new problems are raised, known ones updated or re-raised, and issues whose
cause is gone are closed.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any
from uuid import UUID

import sqlalchemy as sa

from slskdn.domain.diagnosis import (
    DurationTolerance,
    Finding,
    LocalFile,
    OtherRelease,
    ReleaseTrack,
    ReleaseTracklist,
    diagnose,
)
from slskdn.domain.health_issue import HealthIssue, issue_id
from slskdn.engine import Engine
from slskdn.library.scan import WINDOW, Progress, check_paths, scan
from slskdn.logs import get_logger
from slskdn.musicbrainz.cache import MusicBrainzCache
from slskdn.musicbrainz.errors import MusicBrainzError
from slskdn.musicbrainz.model import Tracklist
from slskdn.musicbrainz.service import MusicBrainzService
from slskdn.projections import health as health_view
from slskdn.projections.library import library_files

log = get_logger(__name__)


@dataclass
class DoctorSummary:
    files: int = 0
    analysed: int = 0
    skipped_unchanged: int = 0
    unreadable: int = 0
    suspected_transcodes: int = 0
    non_canonical_variants: int = 0
    tracks_not_in_tagged_release: int = 0
    wrong_durations: int = 0
    missing_tracks: int = 0
    incomplete_releases: int = 0
    files_without_mbids: int = 0
    releases_checked: int = 0
    releases_without_tracklist: int = 0
    issues_raised: int = 0
    issues_closed: int = 0
    open_issues: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def doctor_scan(
    engine: Engine,
    paths: Sequence[str | Path],
    *,
    fetch_missing: bool = False,
    workers: int = 1,
    progress: Progress | None = None,
    tolerance: DurationTolerance | None = None,
) -> DoctorSummary:
    started = time.perf_counter()
    roots = [str(p) for p in check_paths(paths)]
    library = scan(engine, paths, workers=workers, progress=progress)
    summary = DoctorSummary(
        files=library.files,
        analysed=library.analysed,
        skipped_unchanged=library.skipped_unchanged,
        files_without_mbids=library.without_mbids,
        problems=list(library.problems),
    )
    db = engine.projections["library"].engine
    files = _local_files(db, roots)
    cache = MusicBrainzCache(db)
    tracklists = _tracklists(engine, db, cache, files, fetch_missing, summary)
    holders = _holders(cache, files)
    findings = diagnose(files, tracklists, holders, tolerance)
    _reconcile(engine, findings, roots, summary)
    engine.catch_up()
    by_kind = Counter(f.kind for f in findings)
    summary.unreadable = by_kind["unreadable"]
    summary.suspected_transcodes = by_kind["suspected_transcode"]
    summary.non_canonical_variants = by_kind["non_canonical_variant"]
    summary.tracks_not_in_tagged_release = by_kind["track_not_in_tagged_release"]
    summary.wrong_durations = by_kind["wrong_duration"]
    summary.missing_tracks = by_kind["missing_track_in_release"]
    summary.incomplete_releases = len(
        {f.subject["release_id"] for f in findings if f.kind == "missing_track_in_release"}
    )
    with db.connect() as conn:
        summary.open_issues = sum(health_view.counts(conn).values())
    summary.seconds = round(time.perf_counter() - started, 3)
    log.info(
        "doctor scan finished", **{k: v for k, v in summary.as_dict().items() if k != "problems"}
    )
    return summary


def _local_files(db: sa.Engine, roots: list[str]) -> list[LocalFile]:
    t = library_files
    fields = [c for c in LocalFile.__dataclass_fields__ if c in t.c]
    query = sa.select(*(t.c[name] for name in fields)).where(t.c.status.in_(("ok", "unreadable")))
    with db.connect() as conn:
        rows = [dict(r) for r in conn.execute(query).mappings()]
    inside = [r for r in rows if _under(r["path"], roots)]
    flags = ("lossless", "transcode_suspect")
    return [LocalFile(**{**r, **{k: bool(r[k]) for k in flags}}) for r in inside]


def _tracklists(
    engine: Engine,
    db: sa.Engine,
    cache: MusicBrainzCache,
    files: list[LocalFile],
    fetch_missing: bool,
    summary: DoctorSummary,
) -> dict[str, ReleaseTracklist]:
    release_ids = sorted({f.release_id for f in files if f.release_id and f.status == "ok"})
    service = None
    if fetch_missing:
        service = MusicBrainzService.from_settings(engine.settings.musicbrainz, db)
    found: dict[str, ReleaseTracklist] = {}
    for release_id in release_ids:
        cached = cache.tracklist(release_id)
        value = cached[0] if cached else None
        if value is None and service is not None:
            try:
                value = service.release(release_id).value
            except MusicBrainzError as exc:
                summary.problems.append(f"release {release_id}: {exc}")
        if value is None:
            summary.releases_without_tracklist += 1
            continue
        found[release_id] = _release_tracklist(value)
    summary.releases_checked = len(found)
    return found


def _release_tracklist(value: Tracklist) -> ReleaseTracklist:
    tracks = tuple(
        ReleaseTrack(medium.position, track.position, track.title, track.length_ms,
                     track.recording_id, track.track_id)
        for medium in value.media
        for track in medium.tracks
    )  # fmt: skip
    return ReleaseTracklist(value.release_id, value.title, value.release_group_id, tracks)


def _holders(cache: MusicBrainzCache, files: list[LocalFile]) -> dict[str, list[OtherRelease]]:
    recording_ids = [f.recording_id for f in files if f.recording_id]
    return {
        recording: [OtherRelease(*held) for held in releases]
        for recording, releases in cache.releases_holding(recording_ids).items()
    }


def _reconcile(
    engine: Engine, findings: list[Finding], roots: list[str], summary: DoctorSummary
) -> None:
    engine.catch_up()
    with engine.projections["health"].engine.connect() as conn:
        known = {row["key"]: row for row in health_view.in_scope(conn, roots)}
        all_keys = {r["key"] for r in health_view.issues(conn, status="all")}
    commands: list[tuple[UUID, Callable[..., Any], Callable[..., Any] | None, dict[str, Any]]] = []
    for finding in findings:
        summary.issues_raised += finding.key not in all_keys
        create = partial(_raise, finding=finding)
        kwargs = {
            "severity": finding.severity,
            "reason": finding.reason,
            "details": finding.details,
        }
        commands.append((issue_id(finding.key), HealthIssue.observe, create, kwargs))
    found_keys = {f.key for f in findings}
    for key, row in known.items():
        if key not in found_keys and row["status"] in ("open", "resolved"):
            summary.issues_closed += 1
            commands.append((issue_id(key), HealthIssue.cause_gone, None, {}))
    actors = engine.actors
    assert actors is not None
    # In windows, so that a scan raising thousands of issues keeps few actor threads alive.
    for start in range(0, len(commands), WINDOW):
        window = commands[start : start + WINDOW]
        futures = [actors.command(i, method, create, **kw) for i, method, create, kw in window]
        for future in futures:
            future.result(timeout=120)
        actors.release([i for i, _, _, _ in window])


def _raise(id: UUID, at: datetime, finding: Finding) -> HealthIssue:
    f = finding
    return HealthIssue.raise_issue(
        id=id, at=at, kind=f.kind, key=f.key, severity=f.severity, path=f.path,
        reason=f.reason, subject=f.subject, details=f.details,
    )  # fmt: skip


def _under(path: str, roots: list[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)
