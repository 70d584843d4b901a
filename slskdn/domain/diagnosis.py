"""Collection Doctor's rules: from local files and MusicBrainz tracklists to findings. Pure.

Each finding has a stable ``key`` — the identity of the problem across scans:

- ``unreadable`` (key: file path): the analyser could not read the file;
- ``suspected_transcode`` (file path): the analyser's transcode verdict (domain.quality);
- ``non_canonical_variant`` (file path): another local file of the same recording ranks
  higher (domain.canonical);
- ``track_not_in_tagged_release`` (file path): the tagged release's tracklist has neither
  its recording nor its release track;
- ``wrong_duration`` (file path): its length is off the MusicBrainz track length by more
  than the tolerance;
- ``missing_track_in_release`` (release, disc, track): a track of a release you have some
  files of has no local file.

A missing track is matched by release track id, then recording id; by (disc, track number)
only for files without a recording id (a file with another recording is not that track).
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from slskdn.domain.canonical import Variant, canonical_order, codec_profile

SEVERITY = {
    "unreadable": "high",
    "suspected_transcode": "high",
    "missing_track_in_release": "medium",
    "track_not_in_tagged_release": "medium",
    "wrong_duration": "medium",
    "non_canonical_variant": "low",
}
KINDS = tuple(SEVERITY)


@dataclass(frozen=True)
class LocalFile:
    """A library file as the doctor needs it (a row of the library read model)."""

    file_id: str
    path: str
    status: str  # ok | unreadable
    error: str | None = None
    recording_id: str | None = None
    release_id: str | None = None
    release_group_id: str | None = None
    release_track_id: str | None = None
    artist: str | None = None
    album: str | None = None
    title: str | None = None
    disc_number: int | None = None
    track_number: int | None = None
    duration_ms: int | None = None
    codec: str | None = None
    lossless: bool = False
    sample_rate: int | None = None
    bit_depth: int | None = None
    bitrate_bps: int | None = None
    quality_score: float | None = None
    transcode_suspect: bool = False
    transcode_reason: str | None = None


@dataclass(frozen=True)
class ReleaseTrack:
    disc: int
    number: int
    title: str
    length_ms: int | None
    recording_id: str
    track_id: str | None


@dataclass(frozen=True)
class ReleaseTracklist:
    release_id: str
    title: str
    release_group_id: str | None
    tracks: tuple[ReleaseTrack, ...]


@dataclass(frozen=True)
class OtherRelease:
    """A cached release that holds a recording: a guess for a mis-tagged file."""

    release_id: str
    title: str
    release_group_id: str | None


@dataclass(frozen=True)
class DurationTolerance:
    """A file is off when |actual − expected| > max(min_ms, share × expected)."""

    min_ms: int = 5_000
    share: float = 0.05

    def off(self, expected_ms: int, actual_ms: int) -> bool:
        return abs(actual_ms - expected_ms) > max(self.min_ms, self.share * expected_ms)


@dataclass(frozen=True)
class Finding:
    kind: str
    key: str
    path: str
    reason: str
    subject: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def severity(self) -> str:
        return SEVERITY[self.kind]


def diagnose(
    files: Sequence[LocalFile],
    tracklists: Mapping[str, ReleaseTracklist],
    holders: Mapping[str, Sequence[OtherRelease]] | None = None,
    tolerance: DurationTolerance | None = None,
) -> list[Finding]:
    """Every finding about ``files``, given the cached tracklists of their releases and,
    per recording id, the other cached releases that hold it."""
    holders = holders or {}
    tolerance = tolerance or DurationTolerance()
    findings: list[Finding] = []
    readable = [f for f in files if f.status == "ok"]
    for f in files:
        if f.status == "unreadable":
            findings.append(
                Finding("unreadable", f"unreadable:{f.path}", f.path, f.error or "unreadable",
                        _subject(f))
            )  # fmt: skip
        elif f.transcode_suspect:
            findings.append(
                Finding("suspected_transcode", f"suspected_transcode:{f.path}", f.path,
                        f.transcode_reason or "suspected transcode", _subject(f))
            )  # fmt: skip
    findings.extend(_non_canonical(readable))
    by_release: dict[str, list[LocalFile]] = defaultdict(list)
    for f in readable:
        if f.release_id:
            by_release[f.release_id].append(f)
    for release_id, release_files in sorted(by_release.items()):
        tracklist = tracklists.get(release_id)
        if tracklist is not None:
            findings.extend(_against_tracklist(release_files, tracklist, holders, tolerance))
    return findings


def _subject(f: LocalFile) -> dict[str, Any]:
    return {
        "file_id": f.file_id,
        "artist": f.artist,
        "album": f.album,
        "title": f.title,
        "recording_id": f.recording_id,
        "release_id": f.release_id,
        "disc": f.disc_number,
        "track": f.track_number,
    }


def _non_canonical(files: Sequence[LocalFile]) -> list[Finding]:
    by_recording: dict[str, list[LocalFile]] = defaultdict(list)
    for f in files:
        if f.recording_id:
            by_recording[f.recording_id].append(f)
    findings = []
    for group in by_recording.values():
        if len(group) < 2:
            continue
        by_path = {f.path: f for f in group}
        ordered = canonical_order(_variant(f) for f in group)
        best = by_path[ordered[0].path]
        for variant in ordered[1:]:
            f = by_path[variant.path]
            findings.append(
                Finding(
                    "non_canonical_variant",
                    f"non_canonical_variant:{f.path}",
                    f.path,
                    f"a better copy of this recording exists: {best.path} ({_describe(best)}) "
                    f"vs this {_describe(f)}",
                    _subject(f),
                    {"better_path": best.path, "better_file_id": best.file_id},
                )
            )
    return findings


def _against_tracklist(
    files: Sequence[LocalFile],
    tracklist: ReleaseTracklist,
    holders: Mapping[str, Sequence[OtherRelease]],
    tolerance: DurationTolerance,
) -> list[Finding]:
    findings: list[Finding] = []
    by_track_id = {t.track_id: t for t in tracklist.tracks if t.track_id}
    by_recording = {t.recording_id: t for t in tracklist.tracks}
    by_position = {(t.disc, t.number): t for t in tracklist.tracks}
    matched: set[tuple[int, int]] = set()
    for f in files:
        track = by_track_id.get(f.release_track_id or "") or by_recording.get(f.recording_id or "")
        if track is None and not f.recording_id:
            track = by_position.get((f.disc_number or 1, f.track_number or 0))
        if track is None:
            findings.append(_not_in_release(f, tracklist, holders))
            continue
        matched.add((track.disc, track.number))
        expected, actual = track.length_ms, f.duration_ms
        if expected and actual is not None and tolerance.off(expected, actual):
            findings.append(
                Finding(
                    "wrong_duration",
                    f"wrong_duration:{f.path}",
                    f.path,
                    f"lasts {_mmss(actual)} but MusicBrainz says {_mmss(expected)}"
                    f" for {tracklist.title} track {track.disc}-{track.number}",
                    _subject(f),
                    {"expected_ms": expected, "actual_ms": actual},
                )
            )
    folder = os.path.commonpath([os.path.dirname(f.path) for f in files])
    sample = files[0]
    for track in tracklist.tracks:
        if (track.disc, track.number) in matched:
            continue
        findings.append(
            Finding(
                "missing_track_in_release",
                f"missing_track_in_release:{tracklist.release_id}:{track.disc}:{track.number}",
                folder,
                f"{tracklist.title}: disc {track.disc} track {track.number} "
                f"“{track.title}” has no local file",
                {
                    "artist": sample.artist,
                    "album": tracklist.title,
                    "title": track.title,
                    "recording_id": track.recording_id,
                    "release_id": tracklist.release_id,
                    "disc": track.disc,
                    "track": track.number,
                },
                {"length_ms": track.length_ms, "track_id": track.track_id},
            )
        )
    return findings


def _not_in_release(
    f: LocalFile, tracklist: ReleaseTracklist, holders: Mapping[str, Sequence[OtherRelease]]
) -> Finding:
    others = [
        o for o in holders.get(f.recording_id or "", ()) if o.release_id != tracklist.release_id
    ]
    # The same release group first: most likely another edition of the same album.
    others.sort(
        key=lambda o: (o.release_group_id != tracklist.release_group_id, o.title, o.release_id)
    )
    guess = others[0] if others else None
    where = (
        f"probably {guess.title} ({guess.release_id})" if guess else "unknown: not in cached data"
    )
    return Finding(
        "track_not_in_tagged_release",
        f"track_not_in_tagged_release:{f.path}",
        f.path,
        f"tagged as part of {tracklist.title} ({tracklist.release_id}), whose tracklist does not "
        f"have this recording; actual release: {where}",
        _subject(f),
        {
            "tagged_release_id": tracklist.release_id,
            "best_guess_release_id": guess.release_id if guess else None,
            "best_guess_title": guess.title if guess else None,
        },
    )


def _variant(f: LocalFile) -> Variant:
    return Variant(
        file_id=f.file_id,
        path=f.path,
        codec=f.codec or "",
        lossless=f.lossless,
        sample_rate=f.sample_rate or 0,
        bit_depth=f.bit_depth,
        bitrate_bps=f.bitrate_bps,
        quality_score=f.quality_score or 0.0,
        transcode_suspect=f.transcode_suspect,
    )


def _describe(f: LocalFile) -> str:
    profile = codec_profile(
        f.codec or "?", f.lossless, f.sample_rate or 0, f.bit_depth, f.bitrate_bps
    )
    return f"{profile}, score {f.quality_score or 0:.2f}"


def _mmss(ms: int) -> str:
    seconds = round(ms / 1000)
    return f"{seconds // 60}:{seconds % 60:02d}"
